package verify

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	buildkite "github.com/buildkite/go-buildkite/v4"
)

// Buildkite against its official Go SDK, github.com/buildkite/go-buildkite/v4
// v4.23.0 (test-only): buildkite.ValidatePayload(*http.Request, secretKey)
// checks X-Buildkite-Signature ("timestamp=<unix>,signature=<hex HMAC-SHA256
// of timestamp.body>") when present, else X-Buildkite-Token. The SDK exports
// no signer; its side of "SDK signs, we verify" is the vector of its own
// tests (webhook_test.go, TestValidatePayload). The SDK checks no replay
// window, so the vector is verified here at its own time.

const (
	buildkiteSDKSecret    = "29b1ff5779c76bd48ba6705eb99ff970"
	buildkiteSDKSignature = "timestamp=1642080837,signature=582d496ac2d869dd97a3101c4cda346288c49a742592daf582ec64c86449f79c"
	buildkiteSDKTimestamp = 1642080837
	buildkiteSDKBody      = `{"event":"ping","service":{"id":"c9f8372d-c0cd-43dc-9274-768a875cf6ca","provider":"webhook","settings":{"url":"https://server.com/webhooks"}},"organization":{"id":"49801950-1df0-474f-bb56-ad6a930c5cb9","graphql_id":"T3JnYW5pemF0aW9uLS0tZTBmMzk3MgsTksGkxOWYtZTZjNzczZTJiYjEy","url":"https://api.buildkite.com/v2/organizations/acme-inc","web_url":"https://buildkite.com/acme-inc","name":"ACME Inc","slug":"acme-inc","agents_url":"https://api.buildkite.com/v2/organizations/acme-inc/agents","emojis_url":"https://api.buildkite.com/v2/organizations/acme-inc/emojis","created_at":"2021-02-03T20:34:10.486Z","pipelines_url":"https://api.buildkite.com/v2/organizations/acme-inc/pipelines"},"sender":{"id":"c9f8372d-c0cd-43dc-9269-bcbb7f308e3f","name":"ACME Man"}}`
)

// buildkiteSDKValidate runs the SDK's check on a copy of r.
func buildkiteSDKValidate(r *Request, secret string) error {
	hr := httptest.NewRequest(http.MethodPost, "https://hooks.example.com/w/buildkite", bytes.NewReader(r.Body))
	hr.Header = r.Header.Clone()
	payload, err := buildkite.ValidatePayload(hr, []byte(secret))
	if err == nil && !bytes.Equal(payload, r.Body) {
		return errPayloadChanged
	}
	return err
}

var errPayloadChanged = errors.New("the SDK returned another payload than the body")

func TestBuildkiteSDKVectorVerifiesHere(t *testing.T) {
	r := &Request{Method: http.MethodPost, Header: hdr("X-Buildkite-Signature", buildkiteSDKSignature, "X-Buildkite-Event", "ping"), Body: []byte(buildkiteSDKBody)}
	if err := buildkiteSDKValidate(r, buildkiteSDKSecret); err != nil {
		t.Fatalf("the SDK refuses its own vector: %v", err)
	}
	sent := unix(buildkiteSDKTimestamp)
	res, err := mustNew(t, "buildkite", Options{}).Verify(r, keys("another-secret", buildkiteSDKSecret), sent.Add(time.Minute))
	if err != nil || !res.Timestamp.Equal(sent) {
		t.Fatalf("the SDK's vector: (%+v, %v)", res, err)
	}
}

func TestBuildkiteSendVerifiesWithSDK(t *testing.T) {
	u, _ := url.Parse("https://hooks.example.com/w/buildkite")
	now := time.Unix(1_700_000_000, 0)
	for _, provider := range []string{"buildkite", "buildkite-token"} {
		for _, body := range []string{`{"event":"build.finished","build":{"id":"b1"}}`, buildkiteSDKBody} {
			r, err := SignRequest(provider, Options{}, Delivery{ID: "d1", Event: "build.finished", Time: now, Body: []byte(body), URL: u}, []byte(buildkiteSDKSecret))
			if err != nil {
				t.Fatal(err)
			}
			if err := buildkiteSDKValidate(r, buildkiteSDKSecret); err != nil {
				t.Fatalf("%s: the SDK refuses what hookgate send signs: %v", provider, err)
			}
			if err := buildkiteSDKValidate(r, "another-secret"); err == nil {
				t.Fatalf("%s: the SDK accepts what hookgate send signs under another secret", provider)
			}
		}
	}
}

func TestBuildkiteTamperedRefusedByBothHereAndSDK(t *testing.T) {
	sent := unix(buildkiteSDKTimestamp)
	cases := []struct {
		name, provider, header, value, body, secret string
		wantReason                                  Reason
	}{
		{name: "the untouched vector is accepted by both", provider: "buildkite", header: "X-Buildkite-Signature", value: buildkiteSDKSignature, body: buildkiteSDKBody, secret: buildkiteSDKSecret},
		{name: "a changed body is refused by both", provider: "buildkite", header: "X-Buildkite-Signature", value: buildkiteSDKSignature, body: strings.Replace(buildkiteSDKBody, "ACME Man", "ACME Mam", 1), secret: buildkiteSDKSecret, wantReason: ReasonSignatureMismatch},
		{name: "another secret is refused by both", provider: "buildkite", header: "X-Buildkite-Signature", value: buildkiteSDKSignature, body: buildkiteSDKBody, secret: "another-secret", wantReason: ReasonSignatureMismatch},
		{name: "a moved timestamp is refused by both", provider: "buildkite", header: "X-Buildkite-Signature", value: strings.Replace(buildkiteSDKSignature, "1642080837", "1642080838", 1), body: buildkiteSDKBody, secret: buildkiteSDKSecret, wantReason: ReasonSignatureMismatch},
		{name: "the SDK's altered signature is refused by both", provider: "buildkite", header: "X-Buildkite-Signature", value: strings.Replace(buildkiteSDKSignature, "f", "a", 1), body: buildkiteSDKBody, secret: buildkiteSDKSecret, wantReason: ReasonSignatureMismatch},
		{name: "the SDK's token is accepted by both", provider: "buildkite-token", header: "X-Buildkite-Token", value: buildkiteSDKSecret, body: buildkiteSDKBody, secret: buildkiteSDKSecret},
		{name: "the SDK's invalid token is refused by both", provider: "buildkite-token", header: "X-Buildkite-Token", value: "invalid-token", body: buildkiteSDKBody, secret: buildkiteSDKSecret, wantReason: ReasonSignatureMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Method: http.MethodPost, Header: hdr(tc.header, tc.value), Body: []byte(tc.body)}
			if _, err := mustNew(t, tc.provider, Options{}).Verify(r, keys(tc.secret), sent); ReasonOf(err) != tc.wantReason {
				t.Fatalf("here: err = %v, want reason %q", err, tc.wantReason)
			}
			if err := buildkiteSDKValidate(r, tc.secret); (err == nil) != (tc.wantReason == "") {
				t.Fatalf("SDK: err = %v, want acceptance %v", err, tc.wantReason == "")
			}
		})
	}
}
