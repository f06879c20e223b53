package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Evidence for the entries of api/v1alpha1/providers_catalog.go. Every
// expected signature here is computed from the provider's documented
// recipe (the entry's Docs) with crypto/hmac directly, independently of the
// verifier, the table's recipe and SignRequest; where the provider or its
// official SDK publishes a vector, TestCatalogPublishedVectors checks it as
// published.

// catMAC is HMAC-alg(key, the concatenated parts).
func catMAC(alg string, key []byte, parts ...string) []byte {
	var h func() hash.Hash
	switch alg {
	case "sha1":
		h = sha1.New
	case "sha512":
		h = sha512.New
	default:
		h = sha256.New
	}
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
func b64Of(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// catalogCase is one provider's documented recipe: sign returns the headers
// the provider sends for body at the send time ts (already in the
// provider's timestamp format) under secret (the Secret's value).
type catalogCase struct {
	provider string
	sign     func(secret, body, ts string) http.Header
	// tsFormat renders the send time: "unix", "ms", "rfc3339"; "" when
	// nothing is timed.
	tsFormat string
	// credential: nothing binds the body, so a changed body still passes.
	credential bool
	// secret overrides the default Secret value.
	secret, wrong string
	wantID        string
}

const (
	catalogSecret = "cat-secret"
	catalogWrong  = "not-the-secret"
	catalogBody   = `{"id":"evt_9","messageId":"m-9","eventId":"tally-9","update_id":4242,"event":{"id":"rc-9"},"type":"test"}`
	catalogURL    = "https://hooks.example.com/w/cat?board=1"
)

// hmacBody is the most common recipe: one header, the MAC of the body, with
// an optional prefix.
func hmacBody(header, prefix, alg, enc string) func(secret, body, ts string) http.Header {
	return func(secret, body, _ string) http.Header {
		m := catMAC(alg, []byte(secret), body)
		v := hexOf(m)
		if enc == "base64" {
			v = b64Of(m)
		}
		return hdr(header, prefix+v)
	}
}

func catalogCases() []catalogCase {
	teamsKey := b64Of([]byte("teams security token bytes"))
	airtableKey := b64Of([]byte("airtable mac secret bytes"))
	return []catalogCase{
		// Forges and developer tools: a hex (or sha256=hex) MAC of the body.
		{provider: "gitea", sign: hmacBody("X-Gitea-Signature", "", "sha256", "hex")},
		{provider: "forgejo", sign: hmacBody("X-Forgejo-Signature", "", "sha256", "hex")},
		{provider: "gogs", sign: hmacBody("X-Gogs-Signature", "", "sha256", "hex")},
		{provider: "bitbucket-server", sign: hmacBody("X-Hub-Signature", "sha256=", "sha256", "hex")},
		{provider: "jira", sign: hmacBody("X-Hub-Signature", "sha256=", "sha256", "hex")},
		// HMAC-SHA512 of the body, hex, keyed with the notification token.
		{provider: "terraform-cloud", sign: hmacBody("X-TFE-Notification-Signature", "", "sha512", "hex")},
		{provider: "heroku", sign: hmacBody("Heroku-Webhook-Hmac-SHA256", "", "sha256", "base64")},
		{provider: "snyk", sign: hmacBody("X-Hub-Signature", "sha256=", "sha256", "hex")},
		{provider: "sonarqube", sign: hmacBody("X-Sonar-Webhook-HMAC-SHA256", "", "sha256", "hex")},
		{provider: "sonatype-nexus", sign: hmacBody("X-Nexus-Webhook-Signature", "", "sha1", "hex")},
		{provider: "pulumi", sign: hmacBody("Pulumi-Webhook-Signature", "", "sha256", "hex")},
		{provider: "doppler", sign: hmacBody("X-Doppler-Signature", "sha256=", "sha256", "hex")},
		{provider: "grafana", sign: hmacBody("X-Grafana-Alerting-Signature", "", "sha256", "hex")},
		{provider: "launchdarkly", sign: hmacBody("X-LD-Signature", "", "sha256", "hex")},
		{provider: "autodesk", sign: hmacBody("x-adsk-signature", "sha1hash=", "sha1", "hex")},
		{provider: "alchemy", sign: hmacBody("X-Alchemy-Signature", "", "sha256", "hex"), wantID: "evt_9"},
		// Payments and commerce.
		{provider: "razorpay", sign: hmacBody("X-Razorpay-Signature", "", "sha256", "hex")},
		{provider: "gocardless", sign: hmacBody("Webhook-Signature", "", "sha256", "hex")},
		{provider: "woocommerce", sign: hmacBody("X-WC-Webhook-Signature", "", "sha256", "base64")},
		{provider: "lemonsqueezy", sign: hmacBody("X-Signature", "", "sha256", "hex")},
		// HMAC-SHA512 of the body keyed with the secret API key, hex.
		{provider: "paystack", sign: hmacBody("x-paystack-signature", "", "sha512", "hex")},
		{provider: "checkout", sign: hmacBody("Cko-Signature", "", "sha256", "hex"), wantID: "evt_9"},
		{provider: "bolt", sign: hmacBody("X-Bolt-Hmac-Sha256", "", "sha256", "base64")},
		{provider: "worldline", sign: hmacBody("X-GCS-Signature", "", "sha256", "base64")},
		{provider: "coinify", sign: hmacBody("X-Coinify-Webhook-Signature", "", "sha256", "hex")},
		{provider: "fourthwall", sign: hmacBody("X-Fourthwall-Hmac-SHA256", "", "sha256", "base64")},
		{provider: "oracle-commerce", sign: hmacBody("X-Oracle-CC-WebHook-Signature", "", "sha512", "base64")},
		{provider: "castle", sign: hmacBody("X-Castle-Signature", "", "sha256", "base64")},
		{provider: "onfido", sign: hmacBody("X-SHA2-Signature", "", "sha256", "hex")},
		{provider: "veriff", sign: hmacBody("X-HMAC-SIGNATURE", "", "sha256", "hex")},
		// SaaS, messaging and productivity.
		{provider: "messenger", sign: hmacBody("X-Hub-Signature-256", "sha256=", "sha256", "hex")},
		{provider: "pusher", sign: hmacBody("X-Pusher-Signature", "", "sha256", "hex")},
		{provider: "webex", sign: hmacBody("X-Spark-Signature", "", "sha1", "hex"), wantID: "evt_9"},
		{provider: "segment", sign: hmacBody("X-Signature", "", "sha1", "hex"), wantID: "m-9"},
		{provider: "clickup", sign: hmacBody("X-Signature", "", "sha256", "hex")},
		{provider: "calcom", sign: hmacBody("X-Cal-Signature-256", "", "sha256", "hex")},
		{provider: "helpscout", sign: hmacBody("X-HelpScout-Signature", "", "sha1", "base64")},
		{provider: "attio", sign: hmacBody("Attio-Signature", "", "sha256", "hex")},
		{provider: "shortcut", sign: hmacBody("Payload-Signature", "", "sha256", "hex")},
		{provider: "todoist", sign: hmacBody("X-Todoist-Hmac-SHA256", "", "sha256", "base64")},
		{provider: "sendbird", sign: hmacBody("x-sendbird-signature", "", "sha256", "hex")},
		{provider: "line", sign: hmacBody("x-line-signature", "", "sha256", "base64")},
		{provider: "viber", sign: hmacBody("X-Viber-Content-Signature", "", "sha256", "hex")},
		{provider: "acuity", sign: hmacBody("X-Acuity-Signature", "", "sha256", "base64")},
		{provider: "tally", sign: hmacBody("Tally-Signature", "", "sha256", "base64"), wantID: "tally-9"},
		{provider: "ashby", sign: hmacBody("Ashby-Signature", "sha256=", "sha256", "hex")},
		// Box: base64 HMAC-SHA256 of the body bytes then the
		// BOX-DELIVERY-TIMESTAMP bytes, rejected after ten minutes.
		{provider: "box", tsFormat: "rfc3339", sign: func(secret, body, ts string) http.Header {
			return hdr("BOX-SIGNATURE-PRIMARY", b64Of(catMAC("sha256", []byte(secret), body, ts)), "BOX-DELIVERY-TIMESTAMP", ts, "BOX-DELIVERY-ID", "box-d-1")
		}},
		// Mux, Persona: Stripe's form, "t=<unix>,v1=<hex of t.body>".
		{provider: "mux", tsFormat: "unix", wantID: "evt_9", sign: func(secret, body, ts string) http.Header {
			return hdr("Mux-Signature", "t="+ts+",v1="+hexOf(catMAC("sha256", []byte(secret), ts, ".", body)))
		}},
		{provider: "persona", tsFormat: "unix", sign: func(secret, body, ts string) http.Header {
			return hdr("Persona-Signature", "t="+ts+",v1="+hexOf(catMAC("sha256", []byte(secret), ts, ".", body)))
		}},
		// ElevenLabs: "t=<unix>,v0=<hex of t.body>".
		{provider: "elevenlabs", tsFormat: "unix", sign: func(secret, body, ts string) http.Header {
			return hdr("ElevenLabs-Signature", "t="+ts+",v0="+hexOf(catMAC("sha256", []byte(secret), ts, ".", body)))
		}},
		// Billit: "t=<unix>,s=<hex of t.body>".
		{provider: "billit", tsFormat: "unix", sign: func(secret, body, ts string) http.Header {
			return hdr("Billit-Signature", "t="+ts+",s="+hexOf(catMAC("sha256", []byte(secret), ts, ".", body)))
		}},
		// Ghost: "sha256=<hex of body + t>, t=<unix ms>", in Ghost's order.
		{provider: "ghost", tsFormat: "ms", sign: func(secret, body, ts string) http.Header {
			return hdr("X-Ghost-Signature", "sha256="+hexOf(catMAC("sha256", []byte(secret), body, ts))+", t="+ts)
		}},
		// Frame.io: "v0=<hex of v0:<ts>:<body>>" with the timestamp header.
		{provider: "frameio", tsFormat: "unix", sign: func(secret, body, ts string) http.Header {
			return hdr("X-Frameio-Signature", "v0="+hexOf(catMAC("sha256", []byte(secret), "v0:", ts, ":", body)), "X-Frameio-Request-Timestamp", ts)
		}},
		// Customer.io: hex of "v0:<ts>:<body>".
		{provider: "customerio", tsFormat: "unix", sign: func(secret, body, ts string) http.Header {
			return hdr("X-CIO-Signature", hexOf(catMAC("sha256", []byte(secret), "v0:", ts, ":", body)), "X-CIO-Timestamp", ts)
		}},
		// Webflow: hex of "<ts ms>:<body>".
		{provider: "webflow", tsFormat: "ms", sign: func(secret, body, ts string) http.Header {
			return hdr("x-webflow-signature", hexOf(catMAC("sha256", []byte(secret), ts, ":", body)), "x-webflow-timestamp", ts)
		}},
		// Microsoft Teams: "HMAC <base64>" keyed with the base64-decoded
		// security token.
		{provider: "teams-outgoing", secret: teamsKey, wrong: b64Of([]byte("another token")), wantID: "evt_9", sign: func(secret, body, _ string) http.Header {
			k, _ := base64.StdEncoding.DecodeString(secret)
			return hdr("Authorization", "HMAC "+b64Of(catMAC("sha256", k, body)))
		}},
		// Airtable: "hmac-sha256=<hex>" keyed with the decoded macSecretBase64.
		{provider: "airtable", secret: airtableKey, wrong: b64Of([]byte("another mac secret")), sign: func(secret, body, _ string) http.Header {
			k, _ := base64.StdEncoding.DecodeString(secret)
			return hdr("X-Airtable-Content-MAC", "hmac-sha256="+hexOf(catMAC("sha256", k, body)))
		}},
		// Trello: base64 HMAC-SHA1 of the body followed by the callbackURL.
		{provider: "trello", sign: func(secret, body, _ string) http.Header {
			return hdr("X-Trello-Webhook", b64Of(catMAC("sha1", []byte(secret), body, catalogURL)))
		}},
		// Credentials.
		{provider: "telegram", credential: true, wantID: "4242", sign: func(secret, _, _ string) http.Header { return hdr("X-Telegram-Bot-Api-Secret-Token", secret) }},
		{provider: "xendit", credential: true, sign: func(secret, _, _ string) http.Header { return hdr("x-callback-token", secret) }},
		{provider: "flutterwave", credential: true, sign: func(secret, _, _ string) http.Header { return hdr("verif-hash", secret) }},
		{provider: "cloudflare", credential: true, sign: func(secret, _, _ string) http.Header { return hdr("cf-webhook-auth", secret) }},
		{provider: "revenuecat", credential: true, wantID: "rc-9", sign: func(secret, _, _ string) http.Header { return hdr("Authorization", secret) }},
		{provider: "harbor", credential: true, sign: func(secret, _, _ string) http.Header { return hdr("Authorization", secret) }},
		{provider: "chargebee", credential: true, secret: "hook:pw", wrong: "hook:other", wantID: "evt_9", sign: basicAuth},
		{provider: "azure-devops", credential: true, secret: "hook:pw", wrong: "hook:other", wantID: "evt_9", sign: basicAuth},
		{provider: "pipedrive", credential: true, secret: "hook:pw", wrong: "hook:other", sign: basicAuth},
		{provider: "sparkpost", credential: true, secret: "hook:pw", wrong: "hook:other", sign: basicAuth},
		{provider: "datocms", credential: true, secret: "hook:pw", wrong: "hook:other", sign: basicAuth},
		// Standard Webhooks: "v1,<base64 of id.ts.body>" keyed with the
		// decoded whsec_ secret.
		{provider: "signatureapi", tsFormat: "unix", secret: swVectorSecret, wrong: "whsec_" + b64Of([]byte("another key")), wantID: "msg_cat", sign: standardWebhooks},
		{provider: "make", tsFormat: "unix", secret: swVectorSecret, wrong: "whsec_" + b64Of([]byte("another key")), wantID: "msg_cat", sign: standardWebhooks},
	}
}

func basicAuth(secret, _, _ string) http.Header {
	return hdr("Authorization", "Basic "+b64Of([]byte(secret)))
}

func standardWebhooks(secret, body, ts string) http.Header {
	k, _ := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	return hdr("webhook-id", "msg_cat", "webhook-timestamp", ts, "webhook-signature", "v1,"+b64Of(catMAC("sha256", k, "msg_cat.", ts, ".", body)))
}

func formatCatalogTime(format string, t time.Time) string {
	switch format {
	case "ms":
		return strconv.FormatInt(t.UnixMilli(), 10)
	case "rfc3339":
		return t.Format(time.RFC3339)
	case "unix":
		return strconv.FormatInt(t.Unix(), 10)
	}
	return ""
}

// Every catalog entry: the documented recipe, computed independently,
// verifies (with the documented delivery id); a changed body (unless only a
// credential is sent), another key, no signature and, where a timestamp
// is signed, one older than the table's window are refused.
func TestCatalogRecipes(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	u, _ := url.Parse(catalogURL)
	seen := map[string]bool{}
	for _, c := range catalogCases() {
		seen[c.provider] = true
		t.Run(c.provider, func(t *testing.T) {
			info, ok := hookv1.LookupProvider(hookv1.Provider(c.provider))
			if !ok {
				t.Fatalf("%s is not in the provider table", c.provider)
			}
			secret, wrong := c.secret, c.wrong
			if secret == "" {
				secret, wrong = catalogSecret, catalogWrong
			}
			v := mustNew(t, c.provider, Options{})
			ts := formatCatalogTime(c.tsFormat, now)
			h := c.sign(secret, catalogBody, ts)
			req := func(h http.Header, body string) *Request {
				return &Request{Method: http.MethodPost, URL: u, Header: h, Body: []byte(body)}
			}
			res, err := v.Verify(req(h, catalogBody), keys(secret), now)
			if err != nil {
				t.Fatalf("documented recipe refused: %v", err)
			}
			if c.wantID != "" && res.DeliveryID != c.wantID {
				t.Errorf("delivery id %q, want %q", res.DeliveryID, c.wantID)
			}
			if !c.credential {
				if _, err := v.Verify(req(h, catalogBody+" "), keys(secret), now); ReasonOf(err) != ReasonSignatureMismatch {
					t.Errorf("changed body: %v", err)
				}
			}
			if _, err := v.Verify(req(h, catalogBody), keys(wrong), now); ReasonOf(err) != ReasonSignatureMismatch {
				t.Errorf("another key: %v", err)
			}
			if _, err := v.Verify(req(http.Header{"Content-Type": {"application/json"}}, catalogBody), keys(secret), now); ReasonOf(err) != ReasonMissingSignature {
				t.Errorf("no signature: %v", err)
			}
			if c.tsFormat != "" {
				w := info.Timestamp.DefaultWindow
				if w == 0 {
					t.Fatalf("a signed timestamp but no window in the table")
				}
				old := now.Add(-w - time.Minute)
				stale := c.sign(secret, catalogBody, formatCatalogTime(c.tsFormat, old))
				if _, err := v.Verify(req(stale, catalogBody), keys(secret), now); ReasonOf(err) != ReasonTimestampOutOfRange {
					t.Errorf("signed %s ago: %v", w+time.Minute, err)
				}
				// The timestamp is signed: moving it breaks the signature.
				if r := info.HMAC; r != nil && r.TimestampHeader != "" {
					moved := c.sign(secret, catalogBody, ts)
					moved.Set(r.TimestampHeader, formatCatalogTime(c.tsFormat, now.Add(time.Second)))
					if _, err := v.Verify(req(moved, catalogBody), keys(secret), now); ReasonOf(err) != ReasonSignatureMismatch {
						t.Errorf("moved timestamp: %v", err)
					}
				}
			}
		})
	}
	for _, info := range hookv1.Providers {
		if catalogNames[string(info.Name)] && !seen[string(info.Name)] {
			t.Errorf("%s: no recipe case", info.Name)
		}
	}
	if len(seen) != len(catalogNames) {
		t.Errorf("%d cases for %d catalog names", len(seen), len(catalogNames))
	}
}

// catalogNames are the entries of providers_catalog.go.
var catalogNames = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{
		"gitea", "forgejo", "gogs", "bitbucket-server", "jira", "terraform-cloud", "heroku", "snyk", "sonarqube",
		"sonatype-nexus", "pulumi", "doppler", "grafana", "launchdarkly", "autodesk", "alchemy",
		"razorpay", "gocardless", "woocommerce", "lemonsqueezy", "paystack", "checkout", "bolt", "worldline",
		"coinify", "fourthwall", "oracle-commerce", "castle", "onfido", "veriff",
		"messenger", "pusher", "webex", "segment", "clickup", "calcom", "helpscout", "attio", "shortcut",
		"todoist", "sendbird", "line", "viber", "acuity", "tally", "ashby",
		"box", "mux", "persona", "elevenlabs", "billit", "ghost", "frameio", "customerio", "webflow",
		"telegram", "xendit", "flutterwave", "cloudflare", "revenuecat", "harbor",
		"chargebee", "azure-devops", "pipedrive", "sparkpost", "datocms",
		"signatureapi", "make", "teams-outgoing", "airtable", "trello",
	} {
		m[n] = true
	}
	return m
}()

// Vectors published by the provider or its official SDK, checked as
// published.
func TestCatalogPublishedVectors(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		name, provider, secret, header, value, body string
	}{
		// Pusher's Go server SDK (pusher/pusher-http-go, webhook_test.go,
		// TestClientWebhookValidation): app secret "secret".
		{"pusher-http-go", "pusher", "secret", "X-Pusher-Signature", "2677ad3e7c090b2fa2c0fb13020d66d5420879b8316eb356a2d60fb9073bc778", `{"hello":"world"}`},
		// Coinify's documentation (https://coinify.readme.io/docs/webhook-signature):
		// payload {"examplePayload":true} under the shared key my-shared-secret.
		{"coinify docs", "coinify", "my-shared-secret", "X-Coinify-Webhook-Signature", "bcdbb89e3031905f3cc1a20d16b5f969a17a7d8fa0c26e4a807c2193402d66f4", `{"examplePayload":true}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := mustNew(t, c.provider, Options{})
			if _, err := v.Verify(&Request{Header: hdr(c.header, c.value), Body: []byte(c.body)}, keys(c.secret), now); err != nil {
				t.Fatalf("published vector refused: %v", err)
			}
			if _, err := v.Verify(&Request{Header: hdr(c.header, c.value), Body: []byte(c.body + "\n")}, keys(c.secret), now); ReasonOf(err) != ReasonSignatureMismatch {
				t.Errorf("changed body: %v", err)
			}
			if _, err := v.Verify(&Request{Header: hdr(c.header, c.value), Body: []byte(c.body)}, keys("not-"+c.secret), now); ReasonOf(err) != ReasonSignatureMismatch {
				t.Errorf("another key: %v", err)
			}
		})
	}
}

// Trello checks the callback URL with a HEAD before it creates a webhook;
// the HEAD is answered 200 with nothing read, and only HEAD is: a GET is
// refused like any unsigned request. The signature binds the URL, so a
// delivery replayed to another endpoint is refused.
func TestTrelloHeadCheckAndURLBinding(t *testing.T) {
	v := mustNew(t, "trello", Options{})
	u, _ := url.Parse(catalogURL)
	res, err := v.Verify(&Request{Method: http.MethodHead, URL: u, Header: http.Header{}}, keys(catalogSecret), time.Time{})
	if err != nil || res.Handshake == nil || res.Handshake.Status != http.StatusOK || res.DeliveryID != "" {
		t.Fatalf("HEAD: (%+v, %v)", res, err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodGet, URL: u, Header: http.Header{}}, keys(catalogSecret), time.Time{}); ReasonOf(err) != ReasonMissingSignature {
		t.Errorf("GET: %v", err)
	}
	h := hdr("X-Trello-Webhook", b64Of(catMAC("sha1", []byte(catalogSecret), catalogBody, catalogURL)))
	other, _ := url.Parse("https://hooks.example.com/w/other?board=1")
	if _, err := v.Verify(&Request{Method: http.MethodPost, URL: other, Header: h, Body: []byte(catalogBody)}, keys(catalogSecret), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("another URL: %v", err)
	}
}

// A Teams or Airtable key that is not base64 is no key: the request is
// refused as NoUsableKey rather than checked against the text.
func TestBase64KeysThatDoNotDecodeAreUnusable(t *testing.T) {
	for _, p := range []string{"teams-outgoing", "airtable"} {
		v := mustNew(t, p, Options{})
		info, _ := hookv1.LookupProvider(hookv1.Provider(p))
		sum := catMAC("sha256", []byte("not base64!"), catalogBody)
		sig := hexOf(sum)
		if info.HMAC.Encoding == "base64" {
			sig = b64Of(sum)
		}
		h := hdr(info.HMAC.Header, info.HMAC.Prefix+sig)
		if _, err := v.Verify(&Request{Method: http.MethodPost, Header: h, Body: []byte(catalogBody)}, keys("not base64!"), time.Time{}); ReasonOf(err) != ReasonNoUsableKey {
			t.Errorf("%s: %v", p, err)
		}
	}
}
