package verify

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// GitLab publishes no signed test vector of its own. Its signing token follows
// the Standard Webhooks specification ("{webhook-id}.{timestamp}.{body}",
// HMAC-SHA256, "v1,<base64>", whsec_ secrets), as stated in the merge request
// that added it (https://gitlab.com/gitlab-org/gitlab/-/merge_requests/230944),
// whose own test receiver verifies with the standardwebhooks library. So the
// specification's published vector (swVector*, standardwebhooks_test.go) is
// the example used here, and the official Go library is the cross-check.

func TestGitLabSecretTokenVerify(t *testing.T) {
	const (
		token    = "gl-secret-token"
		previous = "gl-previous-token"
		body     = `{"object_kind":"push","ref":"refs/heads/main"}`
		idemKey  = "f5e5f430-f57b-4e6e-9fac-d9128cd7232f"
	)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	runVerifyCases(t, NewGitLab(0), []verifyCase{
		{
			name:   "the configured secret token verifies and Idempotency-Key is the delivery id",
			req:    req(body, "X-Gitlab-Token", token, "Idempotency-Key", idemKey, "X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e"),
			keys:   keys(token),
			now:    now,
			wantID: idemKey,
		},
		{
			name: "without Idempotency-Key (GitLab before 17.4) the delivery has no id rather than the shared event UUID",
			req:  req(body, "X-Gitlab-Token", token, "X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e"),
			keys: keys(token),
			now:  now,
		},
		{
			name: "a token stored with a trailing newline still matches, as GitLab strips line breaks",
			req:  req(body, "X-Gitlab-Token", token),
			keys: keys(token + "\n"),
			now:  now,
		},
		{
			name: "a token with an embedded CRLF matches the header GitLab sends without it",
			req:  req(body, "X-Gitlab-Token", "gl-secrettoken"),
			keys: keys("gl-secret\r\ntoken"),
			now:  now,
		},
		{
			name: "during rotation a request carrying the second token verifies",
			req:  req(body, "X-Gitlab-Token", previous),
			keys: keys(token, previous),
			now:  now,
		},
		{
			name: "the token is checked whatever the body, since GitLab signs none",
			req:  req(body+" tampered", "X-Gitlab-Token", token),
			keys: keys(token),
			now:  now,
		},
		{
			name: "signature headers are ignored when no signing token is configured",
			req:  req(body, "X-Gitlab-Token", token, "webhook-signature", "v1,garbage"),
			keys: keys(token),
			now:  now,
		},
		{
			name:       "a wrong token is refused",
			req:        req(body, "X-Gitlab-Token", "not-the-token"),
			keys:       keys(token, previous),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a token that is a prefix of the configured one is refused",
			req:        req(body, "X-Gitlab-Token", token[:5]),
			keys:       keys(token),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a missing token header is refused as missing",
			req:        req(body, "Idempotency-Key", idemKey),
			keys:       keys(token),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "an empty token header counts as missing",
			req:        req(body, "X-Gitlab-Token", ""),
			keys:       keys(token),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a token header sent twice is malformed",
			req:        req(body, "X-Gitlab-Token", token, "X-Gitlab-Token", token),
			keys:       keys(token),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "only empty keys leave nothing to compare with",
			req:        req(body, "X-Gitlab-Token", token),
			keys:       keys("", " \n"),
			now:        now,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			keys:       keys(token),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
	})
}

func TestGitLabSigningTokenVerify(t *testing.T) {
	vecTS := unix(swVectorTimestamp)
	vecTSs := strconv.Itoa(swVectorTimestamp)
	signingToken := string(randomSecret(t, 32))
	otherToken := string(randomSecret(t, 32))
	const (
		body    = `{"object_kind":"merge_request"}`
		id      = "f5e5f430-f57b-4e6e-9fac-d9128cd7232f"
		secret  = "gl-secret-token"
		latency = 2 * time.Second
	)
	now := time.Date(2026, 4, 13, 14, 55, 13, 0, time.UTC)
	sent := now.Add(-latency)
	sig := SignStandardWebhooks(id, sent, []byte(body), []byte(signingToken))
	signed := func(b, sig string) *Request {
		return req(b, "webhook-id", id, "webhook-timestamp", strconv.FormatInt(sent.Unix(), 10), "webhook-signature", sig,
			"Idempotency-Key", id, "X-Gitlab-Token", secret)
	}

	runVerifyCases(t, NewGitLab(0), []verifyCase{
		{
			name:   "the Standard Webhooks published vector verifies under a whsec_ signing token",
			req:    swReq(swVectorPayload, swVectorID, vecTSs, swVectorSignature),
			keys:   keys(swVectorSecret),
			now:    vecTS,
			wantID: swVectorID,
			wantTS: vecTS,
		},
		{
			name:   "a signed delivery verifies and webhook-id is the delivery id",
			req:    signed(body, sig),
			keys:   keys(signingToken),
			now:    now,
			wantID: id,
			wantTS: unix(sent.Unix()),
		},
		{
			name:   "during rotation a delivery signed with the second signing token verifies",
			req:    signed(body, SignStandardWebhooks(id, sent, []byte(body), []byte(otherToken))),
			keys:   keys(signingToken, otherToken),
			now:    now,
			wantID: id,
			wantTS: unix(sent.Unix()),
		},
		{
			name:   "a secret token alongside the signing token does not stop the signature from counting",
			req:    signed(body, sig),
			keys:   keys(secret, signingToken),
			now:    now,
			wantID: id,
			wantTS: unix(sent.Unix()),
		},
		{
			name:       "with a signing token configured, a correct secret token alone is refused so captured requests cannot be replayed unsigned",
			req:        req(body, "X-Gitlab-Token", secret, "Idempotency-Key", id),
			keys:       keys(secret, signingToken),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a tampered body is refused",
			req:        signed(body+" ", sig),
			keys:       keys(signingToken),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with another signing token is refused",
			req:        signed(body, sig),
			keys:       keys(otherToken),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a delivery older than the window is refused as out of range",
			req:        signed(body, sig),
			keys:       keys(signingToken),
			now:        sent.Add(DefaultTolerance + time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a delivery stamped further ahead than the window is refused as out of range",
			req:        signed(body, sig),
			keys:       keys(signingToken),
			now:        sent.Add(-DefaultTolerance - time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:   "a delivery exactly at the edge of the window is still accepted",
			req:    signed(body, sig),
			keys:   keys(signingToken),
			now:    sent.Add(DefaultTolerance),
			wantID: id,
			wantTS: unix(sent.Unix()),
		},
		{
			name:       "a malformed timestamp is refused as malformed",
			req:        req(body, "webhook-id", id, "webhook-timestamp", "yesterday", "webhook-signature", sig),
			keys:       keys(signingToken),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature that is not base64 is refused as malformed",
			req:        signed(body, "v1,!!!not-base64!!!"),
			keys:       keys(signingToken),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a missing webhook-id is refused as missing",
			req:        req(body, "webhook-timestamp", strconv.FormatInt(sent.Unix(), 10), "webhook-signature", sig),
			keys:       keys(signingToken),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a missing webhook-timestamp is refused as missing",
			req:        req(body, "webhook-id", id, "webhook-signature", sig),
			keys:       keys(signingToken),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "svix-* headers are not GitLab's and are not read",
			req:        req(body, "svix-id", id, "svix-timestamp", strconv.FormatInt(sent.Unix(), 10), "svix-signature", sig),
			keys:       keys(signingToken),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a whsec_ key that does not decode is unusable rather than silently skipped to the secret token",
			req:        req(body, "X-Gitlab-Token", secret),
			keys:       keys(secret, "whsec_***"),
			now:        now,
			wantReason: ReasonNoUsableKey,
		},
	})
}

// TestGitLabAgreesWithStandardWebhooksLibrary signs GitLab-style deliveries
// with the official Standard Webhooks Go library, which is what GitLab's
// signing follows, and checks that they verify here and that tampered copies
// are refused both here and by the library.
func TestGitLabAgreesWithStandardWebhooksLibrary(t *testing.T) {
	raw := make([]byte, 32) // GitLab signing tokens encode 32 random bytes.
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	token := StandardWebhooksSecret(raw)
	wh, err := standardwebhooks.NewWebhook(string(token))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	body := []byte(`{"object_kind":"pipeline","object_attributes":{"status":"success"}}`)
	const id = "908a6d9e-45fd-46c8-97e6-c4f350f219dd"
	sig, err := wh.Sign(id, now, body)
	if err != nil {
		t.Fatal(err)
	}
	ts := fmt.Sprint(now.Unix())

	cases := []struct {
		name       string
		id, ts     string
		sig        string
		body       []byte
		wantReason Reason
	}{
		{name: "a delivery signed by the library verifies", id: id, ts: ts, sig: sig, body: body},
		{name: "a changed body is refused by both", id: id, ts: ts, sig: sig, body: append([]byte{' '}, body...), wantReason: ReasonSignatureMismatch},
		{name: "a changed webhook-id is refused by both", id: id + "0", ts: ts, sig: sig, body: body, wantReason: ReasonSignatureMismatch},
		{name: "a changed timestamp is refused by both", id: id, ts: fmt.Sprint(now.Unix() + 1), sig: sig, body: body, wantReason: ReasonSignatureMismatch},
		{name: "a flipped signature is refused by both", id: id, ts: ts, sig: flipAt(sig, 3), body: body, wantReason: ReasonSignatureMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("webhook-id", tc.id)
			h.Set("webhook-timestamp", tc.ts)
			h.Set("webhook-signature", tc.sig)
			h.Set("Idempotency-Key", tc.id)
			res, err := NewGitLab(0).Verify(&Request{Header: h, Body: tc.body}, [][]byte{token}, now)
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("here: err = %v, want reason %q", err, tc.wantReason)
			}
			if err == nil && res.DeliveryID != tc.id {
				t.Fatalf("DeliveryID = %q, want %q", res.DeliveryID, tc.id)
			}
			libErr := wh.Verify(tc.body, h)
			if (libErr != nil) != (tc.wantReason != "") {
				t.Fatalf("library: err = %v, want rejection %v", libErr, tc.wantReason != "")
			}
		})
	}
}

func TestGitLabIsRegistered(t *testing.T) {
	v, err := New("gitlab", Options{Tolerance: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	token := string(randomSecret(t, 32))
	sent := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := StandardWebhooksHeaders("id-1", sent, []byte("{}"), []byte(token))
	r := &Request{Header: h, Body: []byte("{}")}
	if _, err := v.Verify(r, keys(token), sent.Add(time.Minute)); err != nil {
		t.Fatalf("inside Options.Tolerance: %v", err)
	}
	if _, err := v.Verify(r, keys(token), sent.Add(time.Minute+time.Second)); ReasonOf(err) != ReasonTimestampOutOfRange {
		t.Fatalf("Options.Tolerance not applied: %v", err)
	}
	if !strings.Contains(strings.Join(Providers(), ","), "gitlab") {
		t.Fatal("gitlab missing from Providers()")
	}
}
