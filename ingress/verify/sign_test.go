package verify

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSignHelpers(t *testing.T) {
	slackReq := req(slackDocBody, "X-Slack-Request-Timestamp", strconv.Itoa(slackDocTimestamp))
	slackSig, slackErr := SignGenericHMAC(slackOptions, slackReq, []byte(slackDocSecret))

	_, badOptsErr := SignGenericHMAC(GenericHMACOptions{Algorithm: "md5"}, req("x"), []byte("k"))
	_, missingTSErr := SignGenericHMAC(slackOptions, req("x"), []byte("k"))

	cases := []struct {
		name string
		got  string
		want string
	}{
		{
			name: "SignGitHub reproduces GitHub's published example",
			got:  SignGitHub([]byte(githubDocPayload), []byte(githubDocSecret)),
			want: githubDocSignature,
		},
		{
			name: "SignStandardWebhooks reproduces the reference-library vector",
			got:  SignStandardWebhooks(swVectorID, unix(swVectorTimestamp), []byte(swVectorPayload), []byte(swVectorSecret)),
			want: swVectorSignature,
		},
		{
			name: "SignStandardWebhooks accepts a secret without the whsec_ prefix",
			got:  SignStandardWebhooks(swVectorID, unix(swVectorTimestamp), []byte(swVectorPayload), []byte(strings.TrimPrefix(swVectorSecret, "whsec_"))),
			want: swVectorSignature,
		},
		{
			name: "SignStandardWebhooks reproduces the Rust reference-library vector",
			got:  SignStandardWebhooks(swRustID, unix(swRustTimestamp), []byte(swRustPayload), []byte(swRustSecret)),
			want: swRustSignature,
		},
		{
			name: "SignStandardWebhooks ignores sub-second precision, as the header carries whole seconds",
			got:  SignStandardWebhooks(swVectorID, unix(swVectorTimestamp).Add(999*time.Millisecond), []byte(swVectorPayload), []byte(swVectorSecret)),
			want: swVectorSignature,
		},
		{
			name: "StandardWebhooksSecret round-trips the reference secret",
			got:  string(StandardWebhooksSecret(mustDecodeStandardKey(t, swVectorSecret))),
			want: swVectorSecret,
		},
		{
			name: "SignGenericHMAC reproduces Slack's published example",
			got:  slackSig + errText(slackErr),
			want: slackDocSignature,
		},
		{
			name: "SignGenericHMAC refuses invalid options",
			got:  errText(badOptsErr),
			want: "generic HMAC options: Algorithm \"md5\" is not supported; use sha1, sha256 or sha512",
		},
		{
			name: "SignGenericHMAC refuses a request lacking the timestamp its template signs",
			got:  string(ReasonOf(missingTSErr)),
			want: string(ReasonMissingSignature),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestStandardWebhooksHeadersVerify(t *testing.T) {
	secret := StandardWebhooksSecret([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	body := []byte(`{"type":"ping"}`)
	cases := []struct {
		name       string
		signWith   []byte
		wantReason Reason
	}{
		{name: "headers signed with the configured secret verify", signWith: secret},
		{name: "headers signed with another secret are refused", signWith: StandardWebhooksSecret([]byte("another key entirely")), wantReason: ReasonSignatureMismatch},
		{name: "headers signed with a key that is not base64 are refused", signWith: []byte("whsec_***"), wantReason: ReasonSignatureMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Method: http.MethodPost, Header: StandardWebhooksHeaders("msg_1", now, body, tc.signWith), Body: body}
			res, err := NewStandardWebhooks(0).Verify(r, [][]byte{secret}, now)
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("err = %v, want reason %q", err, tc.wantReason)
			}
			if err == nil && (res.DeliveryID != "msg_1" || !res.Timestamp.Equal(now)) {
				t.Fatalf("result = %+v", res)
			}
		})
	}
}

func mustDecodeStandardKey(t *testing.T, s string) []byte {
	t.Helper()
	k, ok := decodeStandardKey([]byte(s))
	if !ok {
		t.Fatalf("cannot decode %q", s)
	}
	return k
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
