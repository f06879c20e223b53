package verify

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// verifyCase is one row of a verifier table test.
type verifyCase struct {
	name string
	req  *Request
	keys [][]byte
	now  time.Time

	wantReason Reason // "" means the request must verify
	wantID     string
	wantTS     time.Time
}

// runVerifyCases runs a table against v. Besides the outcome it checks that
// no error message leaks a key or a presented signature, whatever the case.
func runVerifyCases(t *testing.T, v Verifier, cases []verifyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := v.Verify(tc.req, tc.keys, tc.now)
			if got := ReasonOf(err); got != tc.wantReason {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tc.wantReason)
			}
			if err != nil {
				if res != (Result{}) {
					t.Errorf("failed verification returned a non-empty result %+v", res)
				}
				assertNoSecretsIn(t, err.Error(), tc.req, tc.keys)
				return
			}
			if res.DeliveryID != tc.wantID {
				t.Errorf("DeliveryID = %q, want %q", res.DeliveryID, tc.wantID)
			}
			if !res.Timestamp.Equal(tc.wantTS) {
				t.Errorf("Timestamp = %v, want %v", res.Timestamp, tc.wantTS)
			}
		})
	}
}

// assertNoSecretsIn fails if msg contains any key (raw or, for Standard
// Webhooks secrets, decoded and re-encoded) or any signature-looking header
// value from req.
func assertNoSecretsIn(t *testing.T, msg string, req *Request, keys [][]byte) {
	t.Helper()
	for _, k := range keys {
		if len(k) >= 4 && strings.Contains(msg, string(k)) {
			t.Errorf("error %q contains a key", msg)
		}
		if raw, ok := decodeStandardKey(k); ok {
			for _, s := range []string{hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw)} {
				if strings.Contains(msg, s) {
					t.Errorf("error %q contains decoded key material", msg)
				}
			}
		}
	}
	if req == nil {
		return
	}
	for name, vals := range req.Header {
		if !strings.Contains(strings.ToLower(name), "signature") {
			continue
		}
		for _, v := range vals {
			for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '=' }) {
				if len(part) >= 8 && strings.Contains(msg, part) {
					t.Errorf("error %q echoes signature header %s", msg, name)
				}
			}
		}
	}
}

// req builds a request from a body and header name/value pairs. Names are
// stored as given, not canonicalised, to exercise case-insensitive lookup.
func req(body string, kv ...string) *Request {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = append(h[kv[i]], kv[i+1])
	}
	return &Request{
		Method: http.MethodPost,
		URL:    &url.URL{Scheme: "https", Host: "hooks.example.com", Path: "/hook"},
		Header: h,
		Body:   []byte(body),
	}
}

// keys turns strings into a key list.
func keys(ks ...string) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = []byte(k)
	}
	return out
}

// mac computes an HMAC independently of the code under test, for cases that
// need a signature over hand-built content.
func mac(newHash func() hash.Hash, key string, parts ...string) []byte {
	m := hmac.New(newHash, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// unix is a shorthand for a UTC time from unix seconds.
func unix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// flipAt changes the character i places from the end of an encoded
// signature (1 = last) to another character valid in both hex and base64,
// producing a well-formed but wrong signature. For padded base64 pick i >= 3
// so that the padding bits stay zero.
func flipAt(s string, i int) string {
	j := len(s) - i
	repl := byte('0')
	if s[j] == '0' {
		repl = '1'
	}
	return s[:j] + string(repl) + s[j+1:]
}
