package verify

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// FuzzTableHMACHandshake feeds arbitrary queries, methods and keys to
// every table-driven HMAC provider that answers a verification GET (the
// Meta family, X). A GET is answered or refused with a known reason, never
// taken for an event; an answer echoes or signs only token text, and a
// Meta answer only when hub.verify_token is a configured verify token.
func FuzzTableHMACHandshake(f *testing.F) {
	f.Add("hub.mode=subscribe&hub.verify_token=t&hub.challenge=123", "GET", []byte("t:secret"))
	f.Add("crc_token=9b4507b3-9040", "GET", []byte("consumer"))
	f.Add("crc_token=%7B%7D&hub.challenge=%3C", "GET", []byte(":"))
	f.Add("%zz&hub.mode=subscribe", "POST", []byte("t:"))
	f.Fuzz(func(t *testing.T, query, method string, key []byte) {
		for _, info := range hookv1.Providers {
			if info.Scheme != hookv1.SchemeHMAC || info.Handshake.Method == "" {
				continue
			}
			v, err := New(string(info.Name), Options{})
			if err != nil {
				t.Fatal(err)
			}
			req := &Request{Method: method, URL: &url.URL{Path: "/w", RawQuery: query}, Header: http.Header{}, Body: []byte(query)}
			res, err := v.Verify(req, [][]byte{key, nil}, time.Time{})
			assertKnownRefusal(t, res, err)
			if err != nil {
				continue
			}
			if method != info.Handshake.Method || res.Handshake == nil || res.DeliveryID != "" {
				t.Fatalf("%s: %s %q accepted as (%+v)", info.Name, method, query, res)
			}
			q, _ := url.ParseQuery(query)
			switch info.Handshake.Kind {
			case hookv1.HandshakeMetaSubscribe:
				token, _ := splitVerifyToken(key)
				if !bytes.Equal(token, []byte(q.Get(MetaVerifyTokenParam))) || string(res.Handshake.Body) != q.Get(MetaChallengeParam) || !tokenText(q.Get(MetaChallengeParam)) {
					t.Fatalf("%s: answered %q for %q", info.Name, res.Handshake.Body, query)
				}
			case hookv1.HandshakeXCRC:
				var out map[string]string
				if json.Unmarshal(res.Handshake.Body, &out) != nil || out["response_token"] != SignXCRC(q.Get(XCRCTokenParam), key) || !tokenText(q.Get(XCRCTokenParam)) {
					t.Fatalf("%s: answered %q for %q", info.Name, res.Handshake.Body, query)
				}
			}
		}
	})
}
