package verify

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// assertKnownRefusal fails a fuzz run whose refusal is not a *verify.Error
// with a known Reason, or whose failed verification still returned a
// result (a handshake in particular).
func assertKnownRefusal(t *testing.T, res Result, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ve *Error
	if !asError(err, &ve) {
		t.Fatalf("error %v is not a *verify.Error", err)
	}
	switch ve.Reason {
	case ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch,
		ReasonTimestampOutOfRange, ReasonNoUsableKey:
	default:
		t.Fatalf("unknown reason in %v", err)
	}
	if res != (Result{}) {
		t.Fatalf("refusal %v came with a result %+v", err, res)
	}
}

// FuzzGitLabVerify drives the GitLab verifier in both modes with arbitrary
// headers, bodies and keys, and checks two properties: a request carrying a
// secret token equal to the configured one always verifies, and a delivery
// signed with a whsec_ signing token made from arbitrary bytes always
// verifies inside its window.
func FuzzGitLabVerify(f *testing.F) {
	f.Add("gl-token", swVectorSignature, swVectorID, strconv.Itoa(swVectorTimestamp), []byte(swVectorPayload), []byte(swVectorSecret), []byte("raw-key"), int64(swVectorTimestamp))
	f.Add("", "", "", "", []byte{}, []byte{}, []byte{}, int64(0))
	f.Add("x\r\ny", "v1,", "id", "-1", []byte{0xff}, []byte("whsec_"), []byte{0}, int64(-1))
	f.Add(" t ", "v1a,x v1,y", "\x00", "99999999999999999999", []byte("{}"), []byte("whsec_***"), []byte{1, 2, 3}, int64(1<<62))
	f.Add("tok", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "msg", "1614265330", []byte("body"), []byte("tok\n"), gitlabRepeatByte(32, 7), int64(1614265330))
	f.Fuzz(func(t *testing.T, token, sig, id, ts string, body, key, raw []byte, nowSec int64) {
		now := time.Unix(nowSec, 0)
		v := NewGitLab(0)

		h := http.Header{}
		h.Set(GitLabTokenHeader, token)
		h.Set(StandardWebhooksIDHeader, id)
		h.Set(StandardWebhooksTimestampHeader, ts)
		h.Set(StandardWebhooksSignatureHeader, sig)
		h.Set(GitLabIdempotencyKeyHeader, id)
		r := &Request{Method: http.MethodPost, Header: h, Body: body}
		for _, ks := range [][][]byte{{key}, {key, raw}, {nil, key}, {raw}} {
			res, err := v.Verify(r, ks, now)
			assertKnownRefusal(t, res, err)
		}

		// A token header is sent as the configured token minus line breaks
		// and surrounding blanks; when that leaves a header value net/http
		// would carry unchanged, it must verify.
		if _, tokens, signing := gitlabSplitKeys([][]byte{key}); !signing && len(tokens) == 1 && gitlabValidHeaderValue(string(tokens[0])) {
			th := http.Header{}
			th.Set(GitLabTokenHeader, string(tokens[0]))
			if _, err := v.Verify(&Request{Header: th, Body: body}, [][]byte{key}, now); err != nil {
				t.Fatalf("token %q from key %q refused: %v", tokens[0], key, err)
			}
		}

		// Any non-empty raw key, encoded as GitLab hands it out, signs
		// deliveries that verify.
		if len(raw) > 0 && gitlabValidHeaderValue(id) && id != "" {
			secret := StandardWebhooksSecret(raw)
			sent := time.Unix(1_700_000_000, 0)
			sh := StandardWebhooksHeaders(id, sent, body, secret)
			res, err := v.Verify(&Request{Header: sh, Body: body}, [][]byte{secret}, sent)
			if err != nil || res.DeliveryID != id {
				t.Fatalf("signed delivery refused: (%+v, %v)", res, err)
			}
		}
	})
}

// gitlabValidHeaderValue reports whether net/http would carry s as a header value
// unchanged: no control characters other than tab, and no surrounding
// blanks (which singleHeader trims, as a proxy would).
func gitlabValidHeaderValue(s string) bool {
	if s == "" || s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// gitlabRepeatByte returns n copies of b.
func gitlabRepeatByte(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}
