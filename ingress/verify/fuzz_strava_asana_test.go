package verify

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzStrava feeds arbitrary queries, bodies and methods to Strava's
// verifier: a GET is answered only with the verify token and only with its
// challenge as JSON; a POST is either refused with a known reason or taken
// as an event with a delivery id, never answered as a handshake.
func FuzzStrava(f *testing.F) {
	f.Add("GET", "hub.mode=subscribe&hub.verify_token=tok&hub.challenge=15f7d1a91c1f40f8a748fd134752feb3", "", []byte("tok"))
	f.Add("POST", "", `{"aspect_type":"create","event_time":1549560669,"object_id":1360128428,"object_type":"activity","owner_id":134815,"subscription_id":120475,"updates":{}}`, []byte("tok"))
	f.Add("GET", "hub.mode=subscribe&hub.verify_token=tok&hub.challenge=%3Cscript%3E", "", []byte("tok"))
	f.Add("POST", "", `{"object_type":"activity","aspect_type":"delete","object_id":1e999,"subscription_id":"x"}`, []byte(""))
	f.Fuzz(func(t *testing.T, method, query, body string, key []byte) {
		v, err := New("strava", Options{})
		if err != nil {
			t.Fatal(err)
		}
		req := &Request{Method: method, URL: &url.URL{Path: "/w", RawQuery: query}, Header: http.Header{}, Body: []byte(body)}
		res, err := v.Verify(req, [][]byte{key}, time.Time{})
		assertKnownRefusal(t, res, err)
		if err != nil {
			return
		}
		if method != http.MethodGet {
			if res.Handshake != nil || res.DeliveryID == "" {
				t.Fatalf("POST %q accepted as %+v", body, res)
			}
			return
		}
		if res.Handshake == nil {
			t.Fatalf("GET %q accepted as an event: %+v", query, res)
		}
		q, _ := url.ParseQuery(query)
		// Keys are compared without surrounding whitespace (a Secret's
		// trailing newline).
		if tok := strings.TrimSpace(string(key)); tok == "" || q.Get("hub.verify_token") != tok {
			t.Fatalf("GET %q answered without the verify token %q", query, key)
		}
		var answer map[string]string
		if err := json.Unmarshal(res.Handshake.Body, &answer); err != nil || answer["hub.challenge"] != q.Get("hub.challenge") {
			t.Fatalf("GET %q answered %q", query, res.Handshake.Body)
		}
	})
}

// FuzzAsanaHookSecret: a captured X-Hook-Secret is one visible-ASCII
// header value (surrounding whitespace is not part of it) of bounded length (it is echoed in a response header and
// stored as a key); anything else is refused.
func FuzzAsanaHookSecret(f *testing.F) {
	f.Add("b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81", false)
	f.Add("", false)
	f.Add("a\r\nSet-Cookie: x", false)
	f.Add("one", true)
	f.Fuzz(func(t *testing.T, value string, twice bool) {
		h := http.Header{}
		h.Add(AsanaHookSecretHeader, value)
		if twice {
			h.Add(AsanaHookSecretHeader, value)
		}
		secret, present, err := HookSecret(h)
		if !present {
			if strings.TrimSpace(value) != "" {
				t.Fatalf("header %q reported absent", value)
			}
			return // an empty (or blank) header is no handshake
		}
		if err != nil {
			assertKnownRefusal(t, Result{}, err)
			return
		}
		if twice || secret != strings.TrimSpace(value) || secret == "" || len(secret) > maxHookSecretLen || strings.ContainsFunc(secret, func(r rune) bool { return r <= ' ' || r > '~' }) {
			t.Fatalf("accepted %q (twice %v) as %q", value, twice, secret)
		}
	})
}
