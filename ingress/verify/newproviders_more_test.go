package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// Providers added in part 2 of the provider table. As in
// newproviders_test.go, each expected signature is either a vector
// published by the provider (cited) or computed here from the documented
// recipe with crypto/hmac directly, never with the verifier or SignRequest.

func getReq(t *testing.T, rawQuery string) *Request {
	t.Helper()
	return &Request{Method: http.MethodGet, URL: &url.URL{Scheme: "https", Host: "hooks.example.com", Path: "/w/abc", RawQuery: rawQuery}, Header: http.Header{}}
}

// Meta and its named products: X-Hub-Signature-256 is keyed with the app
// secret; the subscription GET is answered with hub.challenge only when
// hub.verify_token is the one written before the app secret in the Secret
// value. The sample values are those of Meta's "Sample Verification
// Request" (https://developers.facebook.com/docs/graph-api/webhooks/getting-started).
func TestMetaFamily(t *testing.T) {
	const secretValue = "meatyhamhock:app-secret\n"
	body := `{"object":"page","entry":[{"id":"1","time":1}]}`
	sig := "sha256=" + hex.EncodeToString(hmacSum("sha256", "app-secret", body))
	for _, p := range []string{"meta", "facebook", "instagram", "whatsapp"} {
		t.Run(p, func(t *testing.T) {
			v := mustNew(t, p, Options{})
			post := &Request{Method: http.MethodPost, Header: hdr("X-Hub-Signature-256", sig), Body: []byte(body)}
			if res, err := v.Verify(post, keys(secretValue), time.Time{}); err != nil || res.Handshake != nil {
				t.Fatalf("event signed with the app secret: (%+v, %v)", res, err)
			}
			// A Secret holding the app secret alone (as before) still verifies events.
			if _, err := v.Verify(post, keys("app-secret"), time.Time{}); err != nil {
				t.Fatalf("app secret alone: %v", err)
			}
			// The verify token is no part of the HMAC key.
			whole := "sha256=" + hex.EncodeToString(hmacSum("sha256", "meatyhamhock:app-secret", body))
			if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr("X-Hub-Signature-256", whole), Body: []byte(body)}, keys(secretValue), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
				t.Fatalf("signed with the whole value: %v", err)
			}
			if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr("X-Hub-Signature-256", sig), Body: []byte(body + " ")}, keys(secretValue), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
				t.Fatalf("tampered body: %v", err)
			}
			if _, err := v.Verify(post, keys("meatyhamhock:other"), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
				t.Fatalf("wrong app secret: %v", err)
			}
			if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr(), Body: []byte(body)}, keys(secretValue), time.Time{}); ReasonOf(err) != ReasonMissingSignature {
				t.Fatalf("missing header: %v", err)
			}

			res, err := v.Verify(getReq(t, "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock"), keys("old:previous-secret", secretValue), time.Time{})
			if err != nil || res.Handshake == nil || string(res.Handshake.Body) != "1158201444" || res.Handshake.ContentType != "text/plain" || res.Handshake.Status != http.StatusOK {
				t.Fatalf("verification request: (%+v, %v)", res, err)
			}
			for _, c := range []struct {
				name, query string
				keys        [][]byte
				want        Reason
			}{
				{"a wrong verify token", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess", keys(secretValue), ReasonSignatureMismatch},
				{"no verify token", "hub.mode=subscribe&hub.challenge=1", keys(secretValue), ReasonMissingSignature},
				{"an empty verify token", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=", keys(secretValue), ReasonMissingSignature},
				{"no challenge", "hub.mode=subscribe&hub.verify_token=meatyhamhock", keys(secretValue), ReasonMissingSignature},
				{"another mode", "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=meatyhamhock", keys(secretValue), ReasonMalformedSignature},
				{"a challenge that is markup", "hub.mode=subscribe&hub.challenge=%3Cscript%3E&hub.verify_token=meatyhamhock", keys(secretValue), ReasonMalformedSignature},
				{"a repeated token", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=meatyhamhock&hub.verify_token=x", keys(secretValue), ReasonMalformedSignature},
				{"a Secret without a verify token", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=app-secret", keys("app-secret"), ReasonNoUsableKey},
				{"a token that is the app secret", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=app-secret", keys(secretValue), ReasonSignatureMismatch},
			} {
				if res, err := v.Verify(getReq(t, c.query), c.keys, time.Time{}); ReasonOf(err) != c.want || res.Handshake != nil {
					t.Errorf("%s: (%+v, %v), want %s", c.name, res, err, c.want)
				}
			}
		})
	}
}

// X signs events and answers the CRC with the consumer secret:
// x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(body)>, and a
// GET ?crc_token=t answered {"response_token":"sha256=<base64
// HMAC-SHA256(t)>"}
// (https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/securing-webhooks).
// The consumer secret and token are those of X's sample CRC code
// (gist jcipriano/46c4b3f379d214d57a9ddfa70dba49fe, which prints no
// result); the expected answer was computed with Python's hmac module.
func TestX(t *testing.T) {
	const (
		consumer = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"
		crc      = "9b4507b3-9040-4669-9ca3-6b94edb50553"
		answer   = `{"response_token":"sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="}`
	)
	v := mustNew(t, "x", Options{})
	res, err := v.Verify(getReq(t, "crc_token="+crc), keys(consumer, "previous"), time.Time{})
	if err != nil || res.Handshake == nil || string(res.Handshake.Body) != answer || res.Handshake.ContentType != "application/json" {
		t.Fatalf("CRC: (%+v, %v)", res, err)
	}
	if m := hmac.New(sha256.New, []byte(consumer)); true {
		m.Write([]byte(crc))
		if got := "sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil)); got != SignXCRC(crc, []byte(consumer)) {
			t.Fatalf("SignXCRC disagrees with crypto/hmac")
		}
	}

	body := `{"for_user_id":"2244994945","tweet_create_events":[{"id_str":"1"}]}`
	sig := "sha256=" + base64.StdEncoding.EncodeToString(hmacSum("sha256", consumer, body))
	post := func(sig, body string) *Request {
		return &Request{Method: http.MethodPost, Header: hdr("x-twitter-webhooks-signature", sig), Body: []byte(body)}
	}
	if res, err := v.Verify(post(sig, body), keys(consumer), time.Time{}); err != nil || res.Handshake != nil {
		t.Fatalf("event: (%+v, %v)", res, err)
	}
	if _, err := v.Verify(post(sig, body+" "), keys(consumer), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
		t.Fatalf("tampered body: %v", err)
	}
	if _, err := v.Verify(post(sig, body), keys("other"), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr(), Body: []byte(body)}, keys(consumer), time.Time{}); ReasonOf(err) != ReasonMissingSignature {
		t.Fatalf("missing header: %v", err)
	}

	// The CRC answer is an HMAC of the token under the event key: the two
	// are kept apart so that it can never serve as an event signature.
	for _, q := range []string{"crc_token=%7B%22a%22%3A1%7D", "crc_token=a%20b", "crc_token=", "", "crc_token=a&crc_token=b"} {
		if res, err := v.Verify(getReq(t, q), keys(consumer), time.Time{}); err == nil || res.Handshake != nil {
			t.Errorf("CRC %q answered", q)
		}
	}
	notJSON := "9b4507b3"
	oracle := "sha256=" + base64.StdEncoding.EncodeToString(hmacSum("sha256", consumer, notJSON))
	if _, err := v.Verify(post(oracle, notJSON), keys(consumer), time.Time{}); err == nil {
		t.Fatalf("a body that could be a CRC token was accepted as an event")
	}
	if _, err := v.Verify(getReq(t, "crc_token=x"), nil, time.Time{}); ReasonOf(err) != ReasonNoUsableKey {
		t.Fatalf("CRC without a key: %v", err)
	}
}

// HubSpot v3: base64 HMAC-SHA256 of method + URI + body + timestamp, with
// X-HubSpot-Request-Timestamp in milliseconds; older than 5 minutes is
// refused (https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests#validate-the-v3-request-signature).
// HubSpot publishes no v3 vector: computed here from the recipe.
func TestHubSpotV3(t *testing.T) {
	const secret, body = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", `[{"eventId":1,"subscriptionType":"contact.creation","objectId":123}]`
	now := time.UnixMilli(1_700_000_000_123)
	u, _ := url.Parse("https://hooks.example.com/w/abc")
	sign := func(method, uri string, sent time.Time) (string, string) {
		ts := strconv.FormatInt(sent.UnixMilli(), 10)
		return base64.StdEncoding.EncodeToString(hmacSum("sha256", secret, method+uri+body+ts)), ts
	}
	req := func(sig, ts, b string) *Request {
		return &Request{Method: http.MethodPost, URL: u, Header: hdr("X-HubSpot-Signature-v3", sig, "X-HubSpot-Request-Timestamp", ts), Body: []byte(b)}
	}
	v := mustNew(t, "hubspot", Options{})
	sig, ts := sign("POST", u.String(), now.Add(-time.Minute))
	res, err := v.Verify(req(sig, ts, body), keys(secret), now)
	if err != nil || !res.Timestamp.Equal(now.Add(-time.Minute)) {
		t.Fatalf("documented signature: (%+v, %v)", res, err)
	}
	if _, err := v.Verify(req(sig, ts, body+" "), keys(secret), now); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("tampered body: %v", err)
	}
	if _, err := v.Verify(req(sig, ts, body), keys("other"), now); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("wrong key: %v", err)
	}
	other, _ := sign("POST", "https://hooks.example.com/w/other", now.Add(-time.Minute))
	if _, err := v.Verify(req(other, ts, body), keys(secret), now); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("signed for another URL: %v", err)
	}
	put, _ := sign("PUT", u.String(), now.Add(-time.Minute))
	if _, err := v.Verify(req(put, ts, body), keys(secret), now); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("signed for another method: %v", err)
	}
	stale, staleTS := sign("POST", u.String(), now.Add(-6*time.Minute))
	if _, err := v.Verify(req(stale, staleTS, body), keys(secret), now); ReasonOf(err) != ReasonTimestampOutOfRange {
		t.Errorf("six minutes old: %v", err)
	}
	secs := strconv.FormatInt(now.Unix(), 10)
	secSig := base64.StdEncoding.EncodeToString(hmacSum("sha256", secret, "POST"+u.String()+body+secs))
	if _, err := v.Verify(req(secSig, secs, body), keys(secret), now); ReasonOf(err) != ReasonTimestampOutOfRange {
		t.Errorf("a timestamp in seconds read as milliseconds is 1970: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, URL: u, Header: hdr("X-HubSpot-Signature-v3", sig), Body: []byte(body)}, keys(secret), now); ReasonOf(err) != ReasonMissingSignature {
		t.Errorf("missing timestamp: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, URL: u, Header: hdr("X-HubSpot-Request-Timestamp", ts), Body: []byte(body)}, keys(secret), now); ReasonOf(err) != ReasonMissingSignature {
		t.Errorf("missing signature: %v", err)
	}
}

// Zendesk: base64(HMACSHA256(TIMESTAMP + BODY)) with the RFC 3339
// X-Zendesk-Webhook-Signature-Timestamp
// (https://developer.zendesk.com/documentation/webhooks/verifying/).
// The signing secret of the page's example is used as is (a string key);
// the page prints no signature for it, so the expected value is computed
// here.
func TestZendesk(t *testing.T) {
	const secret, body = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==", `{"say": "hello"}`
	now := time.Date(2021, 7, 25, 10, 2, 0, 0, time.UTC)
	sign := func(ts string) string {
		return base64.StdEncoding.EncodeToString(hmacSum("sha256", secret, ts+body))
	}
	req := func(sig, ts, b string) *Request {
		return &Request{Method: http.MethodPost, Header: hdr("X-Zendesk-Webhook-Signature", sig, "X-Zendesk-Webhook-Signature-Timestamp", ts), Body: []byte(b)}
	}
	v := mustNew(t, "zendesk", Options{})
	const ts = "2021-07-25T10:00:00Z"
	if res, err := v.Verify(req(sign(ts), ts, body), keys(secret), now); err != nil || !res.Timestamp.Equal(time.Date(2021, 7, 25, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("documented recipe: (%+v, %v)", res, err)
	}
	if _, err := v.Verify(req(sign(ts), ts, body+" "), keys(secret), now); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("tampered body: %v", err)
	}
	if _, err := v.Verify(req(sign(ts), ts, body), keys("other"), now); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("wrong key: %v", err)
	}
	// body + timestamp (the order of an earlier revision of the page) is not what is checked.
	swapped := base64.StdEncoding.EncodeToString(hmacSum("sha256", secret, body+ts))
	if _, err := v.Verify(req(swapped, ts, body), keys(secret), now); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("body + timestamp: %v", err)
	}
	const old = "2021-07-25T09:50:00Z"
	if _, err := v.Verify(req(sign(old), old, body), keys(secret), now); ReasonOf(err) != ReasonTimestampOutOfRange {
		t.Errorf("twelve minutes old: %v", err)
	}
	if _, err := v.Verify(req(sign("1627207200"), "1627207200", body), keys(secret), now); ReasonOf(err) != ReasonMalformedSignature {
		t.Errorf("unix seconds instead of RFC 3339: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr("X-Zendesk-Webhook-Signature", sign(ts)), Body: []byte(body)}, keys(secret), now); ReasonOf(err) != ReasonMissingSignature {
		t.Errorf("missing timestamp: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr("X-Zendesk-Webhook-Signature-Timestamp", ts), Body: []byte(body)}, keys(secret), now); ReasonOf(err) != ReasonMissingSignature {
		t.Errorf("missing signature: %v", err)
	}
}

// PagerDuty v3: the vector of PagerDuty's own Go SDK
// (github.com/PagerDuty/go-pagerduty, webhookv3/webhookv3_test.go).
func TestPagerDutyVector(t *testing.T) {
	const (
		secret = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK"
		sig    = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd"
		body   = `{"event":{"id":"01BWDWL3NYY7LUFPZCC28QUCMK","event_type":"incident.priority_updated","resource_type":"incident","occurred_at":"2021-04-26T17:36:27.458Z","agent":{"html_url":"https://acme.pagerduty.com/users/PLH1HKV","id":"PLH1HKV","self":"https://api.pagerduty.com/users/PLH1HKV","summary":"Tenex Engineer","type":"user_reference"},"client":null,"data":{"id":"PGR0VU2","type":"incident","self":"https://api.pagerduty.com/incidents/PGR0VU2","html_url":"https://acme.pagerduty.com/incidents/PGR0VU2","number":2,"status":"triggered","title":"A little bump in the road","service":{"html_url":"https://acme.pagerduty.com/services/PF9KMXH","id":"PF9KMXH","self":"https://api.pagerduty.com/services/PF9KMXH","summary":"API Service","type":"service_reference"},"assignees":[{"html_url":"https://acme.pagerduty.com/users/PTUXL6G","id":"PTUXL6G","self":"https://api.pagerduty.com/users/PTUXL6G","summary":"User 123","type":"user_reference"}],"escalation_policy":{"html_url":"https://acme.pagerduty.com/escalation_policies/PUS0KTE","id":"PUS0KTE","self":"https://api.pagerduty.com/escalation_policies/PUS0KTE","summary":"Default","type":"escalation_policy_reference"},"teams":[{"html_url":"https://acme.pagerduty.com/teams/PFCVPS0","id":"PFCVPS0","self":"https://api.pagerduty.com/teams/PFCVPS0","summary":"Engineering","type":"team_reference"}],"priority":{"html_url":"https://acme.pagerduty.com/account/incident_priorities","id":"PSO75BM","self":"https://api.pagerduty.com/priorities/PSO75BM","summary":"P1","type":"priority_reference"},"urgency":"high","conference_bridge":{"conference_number":1000,"conference_url":"https://example.com"},"resolve_reason":null}}}`
		// The SDK's "mismatch" case.
		wrong = "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5"
	)
	v := mustNew(t, "pagerduty", Options{})
	for _, h := range []string{sig, wrong + "," + sig, "v0=abcd, " + sig} {
		res, err := v.Verify(&Request{Header: hdr("X-PagerDuty-Signature", h), Body: []byte(body)}, keys(secret), time.Time{})
		if err != nil || res.DeliveryID != "01BWDWL3NYY7LUFPZCC28QUCMK" {
			t.Fatalf("SDK vector %q: (%+v, %v)", h, res, err)
		}
	}
	if _, err := v.Verify(&Request{Header: hdr("X-PagerDuty-Signature", wrong), Body: []byte(body)}, keys(secret), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
		t.Fatalf("SDK mismatch case: %v", err)
	}
	if _, err := v.Verify(&Request{Header: hdr("X-PagerDuty-Signature", sig), Body: []byte(body + " ")}, keys(secret), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
		t.Fatalf("tampered body: %v", err)
	}
	if _, err := v.Verify(&Request{Header: hdr(), Body: []byte(body)}, keys(secret), time.Time{}); ReasonOf(err) != ReasonMissingSignature {
		t.Fatalf("missing header: %v", err)
	}
}

// Sentry (hex HMAC-SHA256 of the body with the client secret,
// https://docs.sentry.io/integrations/integration-platform/webhooks/) and
// Vercel (hex HMAC-SHA1 of the body,
// https://vercel.com/docs/webhooks), from
// the recipe.
func TestSentryAndVercel(t *testing.T) {
	const key, body = "client-secret", `{"id":"evt_v1","action":"created","data":{}}`
	sha1Sum := func(msg string) []byte {
		m := hmac.New(sha1.New, []byte(key))
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	for _, c := range []struct {
		provider, header, value string
		extra                   []string
		wantID                  string
	}{
		{"sentry", "Sentry-Hook-Signature", hex.EncodeToString(hmacSum("sha256", key, body)), []string{"Request-ID", "req-1"}, "req-1"},
		{"vercel", "x-vercel-signature", hex.EncodeToString(sha1Sum(body)), nil, "evt_v1"},
	} {
		t.Run(c.provider, func(t *testing.T) {
			v := mustNew(t, c.provider, Options{})
			h := hdr(append([]string{c.header, c.value}, c.extra...)...)
			if res, err := v.Verify(&Request{Header: h, Body: []byte(body)}, keys(key), time.Time{}); err != nil || res.DeliveryID != c.wantID {
				t.Fatalf("recipe: (%+v, %v)", res, err)
			}
			if _, err := v.Verify(&Request{Header: h, Body: []byte(body + " ")}, keys(key), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
				t.Errorf("tampered body: %v", err)
			}
			if _, err := v.Verify(&Request{Header: h, Body: []byte(body)}, keys("other"), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
				t.Errorf("wrong key: %v", err)
			}
			if _, err := v.Verify(&Request{Header: hdr(), Body: []byte(body)}, keys(key), time.Time{}); ReasonOf(err) != ReasonMissingSignature {
				t.Errorf("missing header: %v", err)
			}
		})
	}
}

// Resend and Clerk send Svix's svix-* headers, OpenAI and Replicate the
// webhook-* ones (their docs pages are the entries' Docs). All check the
// Standard Webhooks specification's published vector under either family.
func TestStandardWebhooksInstances(t *testing.T) {
	ts := strconv.Itoa(swVectorTimestamp)
	now := time.Unix(swVectorTimestamp, 0)
	for _, c := range []struct{ provider, prefix string }{
		{"resend", "svix-"}, {"clerk", "svix-"}, {"openai", "webhook-"}, {"replicate", "webhook-"},
	} {
		t.Run(c.provider, func(t *testing.T) {
			v := mustNew(t, c.provider, Options{})
			h := hdr(c.prefix+"id", swVectorID, c.prefix+"timestamp", ts, c.prefix+"signature", swVectorSignature)
			res, err := v.Verify(&Request{Header: h, Body: []byte(swVectorPayload)}, keys(swVectorSecret), now)
			if err != nil || res.DeliveryID != swVectorID {
				t.Fatalf("spec vector: (%+v, %v)", res, err)
			}
			if _, err := v.Verify(&Request{Header: h, Body: []byte(swVectorPayload + " ")}, keys(swVectorSecret), now); ReasonOf(err) != ReasonSignatureMismatch {
				t.Errorf("tampered body: %v", err)
			}
			if _, err := v.Verify(&Request{Header: h, Body: []byte(swVectorPayload)}, keys(swVectorSecret), now.Add(10*time.Minute)); ReasonOf(err) != ReasonTimestampOutOfRange {
				t.Errorf("ten minutes later: %v", err)
			}
		})
	}
}

// WorkOS: the vector of WorkOS's Ruby SDK (workos/workos-ruby,
// spec/lib/workos/webhooks_spec.rb): "t=<unix ms>, v1=<hex HMAC-SHA256 of
// t.body>", with its wrong-body, wrong-timestamp and wrong-secret cases.
func TestWorkOSVector(t *testing.T) {
	const (
		secret = "FrQWzvMo0eqse22Ceyia2uuww"
		sig    = "t=1626125972272, v1=80f7ab7efadc306eb5797c588cee9410da9be4416782b497bf1e1bf4175fb928"
		body   = `{"data":{"id":"directory_user_01FAEAJCR3ZBZ30D8BD1924TVG","state":"active","emails":[{"type":"work","value":"blair@foo-corp.com","primary":true}],"idp_id":"00u1e8mutl6wlH3lL4x7","object":"directory_user","username":"blair@foo-corp.com","last_name":"Lunceford","first_name":"Blair","directory_id":"directory_01F9M7F68PZP8QXP8G7X5QRHS7","raw_attributes":{"name":{"givenName":"Blair","familyName":"Lunceford","middleName":"Elizabeth","honorificPrefix":"Ms."},"title":"Developer Success Engineer","active":true,"emails":[{"type":"work","value":"blair@foo-corp.com","primary":true}],"groups":[],"locale":"en-US","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"blair@foo-corp.com","addresses":[{"region":"CO","primary":true,"locality":"Steamboat Springs","postalCode":"80487"}],"externalId":"00u1e8mutl6wlH3lL4x7","displayName":"Blair Lunceford","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"2","displayName":"Kathleen Chung"},"division":"Engineering","department":"Customer Success"}}},"event":"dsync.user.created"}`
	)
	sent := time.UnixMilli(1626125972272)
	v := mustNew(t, "workos", Options{})
	req := func(sig, body string) *Request {
		return &Request{Method: http.MethodPost, Header: hdr("WorkOS-Signature", sig), Body: []byte(body)}
	}
	if res, err := v.Verify(req(sig, body), keys(secret), sent.Add(time.Minute)); err != nil || !res.Timestamp.Equal(sent) {
		t.Fatalf("SDK vector: (%+v, %v)", res, err)
	}
	if _, err := v.Verify(req(sig, `{"data":"invalid"}`), keys(secret), sent); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("SDK wrong body: %v", err)
	}
	if _, err := v.Verify(req("t=9999, v1=80f7ab7efadc306eb5797c588cee9410da9be4416782b497bf1e1bf4175fb928", body), keys(secret), sent); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("SDK wrong timestamp: %v", err)
	}
	if _, err := v.Verify(req(sig, body), keys("invalid"), sent); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("SDK wrong secret: %v", err)
	}
	if _, err := v.Verify(req(sig, body), keys(secret), sent.Add(4*time.Minute)); ReasonOf(err) != ReasonTimestampOutOfRange {
		t.Errorf("four minutes later (the SDK's tolerance is 3): %v", err)
	}
	if _, err := v.Verify(req("v1=80f7ab7efadc306eb5797c588cee9410da9be4416782b497bf1e1bf4175fb928", body), keys(secret), sent); ReasonOf(err) != ReasonMissingSignature {
		t.Errorf("no t=: %v", err)
	}
	if _, err := v.Verify(req("t=1, t=2, v1=80f7ab7efadc306eb5797c588cee9410da9be4416782b497bf1e1bf4175fb928", body), keys(secret), sent); ReasonOf(err) != ReasonMalformedSignature {
		t.Errorf("two t=: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr(), Body: []byte(body)}, keys(secret), sent); ReasonOf(err) != ReasonMissingSignature {
		t.Errorf("missing header: %v", err)
	}
}

// Calendly ("t=<unix>,v1=<hex HMAC-SHA256 of t.body>",
// https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures)
// and Buildkite ("timestamp=<unix>,signature=<hex HMAC-SHA256 of
// timestamp.body>", https://buildkite.com/docs/apis/webhooks/pipelines):
// neither publishes a vector, so the recipe is computed here.
func TestTimestampInTheSignatureHeader(t *testing.T) {
	const key, body = "signing-key", `{"event":"invitee.created","payload":{}}`
	now := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		provider, header, tsKey, sigKey string
		window                          time.Duration
	}{
		{"calendly", "Calendly-Webhook-Signature", "t", "v1", 3 * time.Minute},
		{"buildkite", "X-Buildkite-Signature", "timestamp", "signature", 5 * time.Minute},
	} {
		t.Run(c.provider, func(t *testing.T) {
			v := mustNew(t, c.provider, Options{})
			value := func(sent time.Time, b string) string {
				ts := strconv.FormatInt(sent.Unix(), 10)
				return c.tsKey + "=" + ts + "," + c.sigKey + "=" + hex.EncodeToString(hmacSum("sha256", key, ts+"."+b))
			}
			req := func(h, b string) *Request {
				return &Request{Method: http.MethodPost, Header: hdr(c.header, h), Body: []byte(b)}
			}
			if res, err := v.Verify(req(value(now.Add(-time.Minute), body), body), keys(key), now); err != nil || !res.Timestamp.Equal(now.Add(-time.Minute)) {
				t.Fatalf("recipe: (%+v, %v)", res, err)
			}
			if _, err := v.Verify(req(value(now, body), body+" "), keys(key), now); ReasonOf(err) != ReasonSignatureMismatch {
				t.Errorf("tampered body: %v", err)
			}
			if _, err := v.Verify(req(value(now, body), body), keys("other"), now); ReasonOf(err) != ReasonSignatureMismatch {
				t.Errorf("wrong key: %v", err)
			}
			if _, err := v.Verify(req(value(now.Add(-c.window-time.Second), body), body), keys(key), now); ReasonOf(err) != ReasonTimestampOutOfRange {
				t.Errorf("stale: %v", err)
			}
			// A timestamp changed after signing no longer matches.
			moved := c.tsKey + "=" + strconv.FormatInt(now.Unix()+1, 10) + value(now, body)[len(c.tsKey)+1+10:]
			if _, err := v.Verify(req(moved, body), keys(key), now); ReasonOf(err) != ReasonSignatureMismatch {
				t.Errorf("moved timestamp: %v", err)
			}
			if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr(), Body: []byte(body)}, keys(key), now); ReasonOf(err) != ReasonMissingSignature {
				t.Errorf("missing header: %v", err)
			}
		})
	}
}

// Buildkite's token variant sends the webhook's token as X-Buildkite-Token
// (https://buildkite.com/docs/apis/webhooks/pipelines); it binds nothing.
func TestBuildkiteToken(t *testing.T) {
	v := mustNew(t, "buildkite-token", Options{})
	if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr("X-Buildkite-Token", "309c9c842g8565adecpd7469x6005989"), Body: []byte("{}")}, keys("309c9c842g8565adecpd7469x6005989\n"), time.Time{}); err != nil {
		t.Fatalf("the documented example token: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr("X-Buildkite-Token", "guess"), Body: []byte("{}")}, keys("309c9c842g8565adecpd7469x6005989"), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr(), Body: []byte("{}")}, keys("309c9c842g8565adecpd7469x6005989"), time.Time{}); ReasonOf(err) != ReasonMissingSignature {
		t.Fatalf("missing token: %v", err)
	}
}

// Orb: the vector of Orb's own SDKs (orbcorp/orb-python and orb-java
// webhook tests): "v1=<hex HMAC-SHA256 of v1:<X-Orb-Timestamp>:<body>>",
// the timestamp a zoneless ISO 8601 time in UTC, five minutes' tolerance.
func TestOrbVector(t *testing.T) {
	const (
		secret  = "c-UGKYdnhHh436B_sMouYAPUvXyWpzOdunZBV5dFSD8"
		ts      = "2024-03-27T15:42:29.551"
		sig     = "v1=9d25de966891ab0bc18754faf8d83d0980b44ae330fcc130b41a6cf3daf1f391"
		payload = `{"id": "o4mmewpfNNTnjfZc", "created_at": "2024-03-27T15:42:29+00:00", "type": "resource_event.test", "properties": {"message": "A test webhook from Orb. Happy testing!"}}`
	)
	sent := time.Date(2024, 3, 27, 15, 42, 29, 551_000_000, time.UTC)
	v := mustNew(t, "orb", Options{})
	req := func(sig, ts, body string) *Request {
		return &Request{Method: http.MethodPost, Header: hdr("X-Orb-Signature", sig, "X-Orb-Timestamp", ts), Body: []byte(body)}
	}
	res, err := v.Verify(req(sig, ts, payload), keys(secret), sent)
	if err != nil || res.DeliveryID != "o4mmewpfNNTnjfZc" || !res.Timestamp.Equal(sent) {
		t.Fatalf("SDK vector: (%+v, %v)", res, err)
	}
	if _, err := v.Verify(req(sig, ts, payload+" "), keys(secret), sent); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("tampered body: %v", err)
	}
	if _, err := v.Verify(req(sig, ts, payload), keys("other"), sent); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := v.Verify(req(sig, "2024-03-27T15:42:30.551", payload), keys(secret), sent); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("changed timestamp: %v", err)
	}
	if _, err := v.Verify(req(sig, ts, payload), keys(secret), sent.Add(6*time.Minute)); ReasonOf(err) != ReasonTimestampOutOfRange {
		t.Errorf("six minutes later: %v", err)
	}
	if _, err := v.Verify(req(sig, "1711554149", payload), keys(secret), sent); ReasonOf(err) != ReasonMalformedSignature {
		t.Errorf("unix seconds: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr("X-Orb-Timestamp", ts), Body: []byte(payload)}, keys(secret), sent); ReasonOf(err) != ReasonMissingSignature {
		t.Errorf("missing signature: %v", err)
	}
}

// TikTok: "Tiktok-Signature: t=<unix>,s=<hex HMAC-SHA256 of t.body>" keyed
// with the client secret (https://developers.tiktok.com/doc/webhooks-verification);
// the page's example header has no body or secret, so the recipe is
// computed here.
func TestTikTok(t *testing.T) {
	const key, body = "client-secret", `{"client_key":"bwo2m45353a6k85","event":"video.publish.completed","create_time":1615338610,"user_openid":"act.example","content":"{}"}`
	now := time.Unix(1633174587, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	h := "t=" + ts + ",s=" + hex.EncodeToString(hmacSum("sha256", key, ts+"."+body))
	v := mustNew(t, "tiktok", Options{})
	req := func(h, b string) *Request {
		return &Request{Method: http.MethodPost, Header: hdr("Tiktok-Signature", h), Body: []byte(b)}
	}
	if _, err := v.Verify(req(h, body), keys(key), now); err != nil {
		t.Fatalf("recipe: %v", err)
	}
	if _, err := v.Verify(req(h, body+" "), keys(key), now); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("tampered body: %v", err)
	}
	if _, err := v.Verify(req(h, body), keys("other"), now); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := v.Verify(req(h, body), keys(key), now.Add(6*time.Minute)); ReasonOf(err) != ReasonTimestampOutOfRange {
		t.Errorf("stale: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr(), Body: []byte(body)}, keys(key), now); ReasonOf(err) != ReasonMissingSignature {
		t.Errorf("missing header: %v", err)
	}
}

// Postmark does not sign: the webhook URL carries Basic credentials,
// https://<username>:<password>@example.com/webhook
// (https://postmarkapp.com/developer/webhooks/webhooks-overview#protecting-your-webhook),
// which arrive as Authorization: Basic.
func TestPostmarkBasic(t *testing.T) {
	v := mustNew(t, "postmark", Options{})
	basic := func(cred string) http.Header {
		return hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, Header: basic("hooks:s3cret"), Body: []byte("{}")}, keys("hooks:s3cret\n"), time.Time{}); err != nil {
		t.Fatalf("the configured credentials: %v", err)
	}
	for _, c := range []struct {
		name string
		h    http.Header
		want Reason
	}{
		{"a wrong password", basic("hooks:guess"), ReasonSignatureMismatch},
		{"the password alone as a bearer token", hdr("Authorization", "Bearer s3cret"), ReasonMissingSignature},
		{"no credentials", hdr(), ReasonMissingSignature},
	} {
		if _, err := v.Verify(&Request{Method: http.MethodPost, Header: c.h, Body: []byte("{}")}, keys("hooks:s3cret"), time.Time{}); ReasonOf(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
}

// {method} (added for HubSpot) is available to spec.genericHMAC too.
func TestGenericHMACSignsTheMethod(t *testing.T) {
	v, err := NewGenericHMAC(GenericHMACOptions{SignedContent: "{method} {body}"})
	if err != nil {
		t.Fatal(err)
	}
	sig := hex.EncodeToString(hmacSum("sha256", "k", "POST {}"))
	if _, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr(DefaultGenericHeader, sig), Body: []byte("{}")}, keys("k"), time.Time{}); err != nil {
		t.Fatalf("POST: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPut, Header: hdr(DefaultGenericHeader, sig), Body: []byte("{}")}, keys("k"), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
		t.Fatalf("signed for POST, sent as PUT: %v", err)
	}
	if _, err := NewGenericHMAC(GenericHMACOptions{TimestampHeader: "X-T", TimestampFormat: "weekday", SignedContent: "{timestamp}{body}"}); err == nil {
		t.Fatal("an unknown timestamp format was accepted")
	}
}
