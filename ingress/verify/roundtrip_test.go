package verify

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// roundTripKeys returns what to sign with and what the verifier gets, for
// an entry of the provider table.
func roundTripKeys(t *testing.T, info hookv1.ProviderInfo) (sign []byte, o Options, verify [][]byte, wrong [][]byte) {
	t.Helper()
	if info.Key.Kind == hookv1.KeyIssuerKeys {
		pub, priv, err := GenerateKeyPair(string(info.Name))
		if err != nil {
			t.Fatal(err)
		}
		other, _, err := GenerateKeyPair(string(info.Name))
		if err != nil {
			t.Fatal(err)
		}
		return priv, issuerKeyOptions(info, pub), nil, [][]byte{other}
	}
	if info.Key.Kind == hookv1.KeyPublicKey {
		pub, priv, err := GenerateKeyPair(string(info.Name))
		if err != nil {
			t.Fatal(err)
		}
		other, _, err := GenerateKeyPair(string(info.Name))
		if err != nil {
			t.Fatal(err)
		}
		return priv, Options{PublicKeys: [][]byte{pub}}, nil, [][]byte{other}
	}
	switch info.Key.Format {
	case hookv1.KeyFormatWhsec:
		return StandardWebhooksSecret([]byte("0123456789abcdef0123456789abcdef")), o, nil, [][]byte{StandardWebhooksSecret([]byte("another key of thirty-two bytes!"))}
	case hookv1.KeyFormatUserPassword:
		return []byte("alice:s3cret"), o, nil, [][]byte{[]byte("alice:other")}
	case hookv1.KeyFormatIDSecret:
		return []byte("pub_id:priv_secret"), o, nil, [][]byte{[]byte("pub_id:other")}
	case hookv1.KeyFormatBase64:
		return []byte(base64.StdEncoding.EncodeToString([]byte("round-trip-secret"))), o, nil, [][]byte{[]byte(base64.StdEncoding.EncodeToString([]byte("another-secret")))}
	}
	if info.Name == "gitlab" {
		// The signed form, which has a timestamp and covers the body.
		return StandardWebhooksSecret([]byte("0123456789abcdef0123456789abcdef")), o, nil, [][]byte{[]byte("a-token")}
	}
	return []byte("round-trip-secret"), o, nil, [][]byte{[]byte("another-secret")}
}

// signsBody reports whether tampering with the body must be refused: not
// for credentials, which bind nothing, nor Mailgun, which signs timestamp
// and token only (its single-use token is the protection), nor a provider
// that sends events unsigned (a verify token answers its handshake only).
func signsBody(info hookv1.ProviderInfo) bool {
	return info.Key.Kind != hookv1.KeyToken && info.Key.Kind != hookv1.KeyBasic && info.Key.Kind != hookv1.KeyVerifyToken &&
		info.Name != "mailgun" && info.Scheme != hookv1.SchemeJWT
}

// issuerKeyOptions are the options of a KeyIssuerKeys entry whose issuer's
// key is pub (from GenerateKeyPair), given inline instead of fetched.
func issuerKeyOptions(info hookv1.ProviderInfo, pub []byte) Options {
	if info.Scheme == hookv1.SchemeSNS {
		return Options{SNS: &SNSOptions{TopicARNs: []string{SNSTestTopicARN}, Certificates: [][]byte{pub}}}
	}
	o := Options{JWT: &JWTOptions{Audiences: []string{"https://hooks.example.com/w/abc123"}, Keys: [][]byte{pub}}}
	if len(info.JWT.Issuers) == 0 {
		o.JWT.Issuer = "https://issuer.example.com"
	}
	return o
}

// For every entry of the provider table: the signer `hookgate send` uses
// produces a request the registry's verifier accepts; a changed body, a
// wrong key and a missing signature are refused; and where the entry says
// a timestamp is signed, its default window is what the verifier applies.
func TestEveryProviderRoundTrips(t *testing.T) {
	now := time.Unix(1_750_000_000, 0).UTC()
	u, _ := url.Parse("https://hooks.example.com/w/abc123?x=1")
	body := []byte(`{"id":"evt_1","event_id":"ev_1","eventId":"okta-1","responseId":"r-1","event":{"id":"cb-1"},"type":"test"}`)
	for _, info := range hookv1.Providers {
		t.Run(string(info.Name), func(t *testing.T) {
			signKey, o, keys, wrong := roundTripKeys(t, info)
			if keys == nil && info.Key.Kind != hookv1.KeyPublicKey && info.Key.Kind != hookv1.KeyIssuerKeys {
				keys = [][]byte{signKey}
			}
			v, err := New(string(info.Name), o)
			if err != nil {
				t.Fatalf("no verifier: %v", err)
			}
			d := Delivery{ID: "d-42", Event: "push", Time: now, Body: body, URL: u}
			req, err := SignRequest(string(info.Name), o, d, signKey)
			if err != nil {
				t.Fatalf("signing: %v", err)
			}
			res, err := v.Verify(req, keys, now)
			if err != nil {
				t.Fatalf("own signature refused: %v", err)
			}
			if res.Handshake != nil {
				t.Fatalf("an ordinary event was taken for a handshake")
			}

			if signsBody(info) {
				tampered := *req
				tampered.Body = bytes.Replace(req.Body, []byte("test"), []byte("tent"), 1)
				if bytes.Equal(tampered.Body, req.Body) {
					tampered.Body = append(append([]byte(nil), req.Body...), ' ')
				}
				if _, err := v.Verify(&tampered, keys, now); err == nil {
					t.Errorf("tampered body accepted")
				}
			}

			if info.Key.Kind == hookv1.KeyVerifyToken {
				// Events carry no credential: any key accepts them, and the
				// docs say so. What the key guards is the handshake.
				if _, err := v.Verify(req, wrong, now); err != nil {
					t.Errorf("an unsigned provider's event refused under another key: %v", err)
				}
				return
			}
			wo := o
			if info.Key.Kind == hookv1.KeyPublicKey || info.Key.Kind == hookv1.KeyIssuerKeys {
				wo = Options{PublicKeys: wrong}
				if info.Key.Kind == hookv1.KeyIssuerKeys {
					wo = issuerKeyOptions(info, wrong[0])
				}
				wv, err := New(string(info.Name), wo)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := wv.Verify(req, nil, now); err == nil {
					t.Errorf("accepted under another public key")
				}
			} else if _, err := v.Verify(req, wrong, now); err == nil {
				t.Errorf("accepted under a wrong key")
			}

			if _, err := v.Verify(&Request{Method: req.Method, URL: u, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: body}, keys, now); err == nil {
				t.Errorf("unsigned request accepted")
			}

			w := info.Timestamp.DefaultWindow
			if w == 0 || info.Scheme == hookv1.SchemeGenericHMAC {
				return
			}
			margin := min(2*time.Second, w/2)
			for _, c := range []struct {
				age  time.Duration
				want Reason
			}{{w - margin, ""}, {w + margin, ReasonTimestampOutOfRange}} {
				d.Time = now.Add(-c.age)
				req, err := SignRequest(string(info.Name), o, d, signKey)
				if err != nil {
					t.Fatal(err)
				}
				_, err = v.Verify(req, keys, now)
				if got := ReasonOf(err); got != c.want {
					t.Errorf("signed %s ago: reason %q, want %q (the table says the window is %s)", c.age, got, c.want, w)
				}
			}
		})
	}
}

// The registry has a verifier and a signer for every scheme the table
// names, and nothing the table does not use.
func TestRegistryIsBuiltFromTheTable(t *testing.T) {
	used := map[hookv1.Scheme]bool{}
	for _, info := range hookv1.Providers {
		used[info.Scheme] = true
		if _, ok := schemeConstructor(info.Scheme); !ok {
			t.Errorf("%s: no verifier for scheme %s", info.Name, info.Scheme)
		}
		if _, ok := signers[info.Scheme]; !ok {
			t.Errorf("%s: no signer for scheme %s", info.Name, info.Scheme)
		}
	}
	for s := range schemes {
		if !used[s] {
			t.Errorf("scheme %s is registered but no provider uses it", s)
		}
	}
	for s := range signers {
		if !used[s] {
			t.Errorf("scheme %s has a signer but no provider uses it", s)
		}
	}
	if got, want := len(Providers()), len(hookv1.Providers); got != want {
		t.Errorf("%d providers have verifiers, the table has %d", got, want)
	}
	if _, err := New("nope", Options{}); err == nil {
		t.Error("an unknown provider got a verifier")
	}
}

// Where a provider with its own verifier also has an HMAC recipe in the
// table, the table-driven verifier agrees with it: the recipe is a true
// description.
func TestHMACRecipesAgreeWithDedicatedVerifiers(t *testing.T) {
	now := time.Unix(1_750_000_000, 0).UTC()
	u, _ := url.Parse("https://hooks.example.com/w/abc")
	for _, info := range hookv1.Providers {
		if info.HMAC == nil || info.Scheme == hookv1.SchemeHMAC {
			continue
		}
		t.Run(string(info.Name), func(t *testing.T) {
			req, err := SignRequest(string(info.Name), Options{}, Delivery{ID: "d", Event: "e", Time: now, Body: []byte(`{"id":"x"}`), URL: u}, []byte("k"))
			if err != nil {
				t.Fatal(err)
			}
			tv, err := newTableHMAC(info, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tv.Verify(req, [][]byte{[]byte("k")}, now); err != nil {
				t.Fatalf("the recipe does not describe what %s signs: %v", info.Name, err)
			}
		})
	}
}
