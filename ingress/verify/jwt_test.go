package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// RFC 7515 appendix A.3: an ES256 JWS by somebody else, so that r||s, the
// curve and base64url are the standard's and not only our signer's.
const (
	rfc7515A3Token = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
	rfc7515A3JWK   = `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`
	// RFC 8037 appendix A.4: Ed25519 JWS of "Example of Ed25519 signing".
	rfc8037A4Token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
	rfc8037A4JWK   = `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`
)

func TestRFC7515ES256ExampleVerifies(t *testing.T) {
	keys, err := parseKeySet([]byte(rfc7515A3JWK))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := parseJWT(rfc7515A3Token)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.verifySignature(keys[0].key) {
		t.Fatal("the RFC's ES256 signature does not verify")
	}
	c, err := tok.registered()
	if err != nil || c.iss != "joe" || c.exp.Unix() != 1300819380 || !tok.claimMatches("http://example.com/is_root", "true") {
		t.Fatalf("claims: %+v %v", c, err)
	}
	sig := []byte(rfc7515A3Token)
	sig[len(sig)-5] ^= 1
	if tok2, err := parseJWT(string(sig)); err == nil && tok2.verifySignature(keys[0].key) {
		t.Fatal("a changed signature verifies")
	}
}

func TestRFC8037Ed25519ExampleVerifies(t *testing.T) {
	keys, err := parseKeySet([]byte(rfc8037A4JWK))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(rfc8037A4Token, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	tok := &parsedJWT{header: jwtHeader{Alg: "EdDSA"}, signingInput: []byte(parts[0] + "." + parts[1]), signature: sig}
	if !tok.verifySignature(keys[0].key) {
		t.Fatal("the RFC's Ed25519 signature does not verify")
	}
	tok.signingInput[3] ^= 1
	if tok.verifySignature(keys[0].key) {
		t.Fatal("a changed input verifies")
	}
}

var (
	testRSAOnce sync.Once
	testRSA     *rsa.PrivateKey
)

// testRSAKey is one 2048-bit key per test binary: generating is slow.
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	testRSAOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testRSA = k
	})
	return testRSA
}

func testECKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwkOf(t testing.TB, k crypto.Signer) ([]byte, string) {
	b, kid, err := PublicJWK(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return b, kid
}

func bearerRequest(token string) *Request {
	u, _ := url.Parse("https://hooks.example.com/hook/abc")
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return &Request{Method: http.MethodPost, URL: u, Header: h, Body: []byte(`{"message":{"messageId":"m-1"}}`)}
}

// rawToken signs an arbitrary header and claims with key.
func rawToken(t testing.TB, key crypto.Signer, header map[string]any, claims map[string]any) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	full, err := signInput(key, base64.RawURLEncoding.EncodeToString(hb)+"."+base64.RawURLEncoding.EncodeToString(cb))
	if err != nil {
		t.Fatal(err)
	}
	return full
}

// signInput signs a JWS signing input with the algorithm of key's type.
func signInput(key crypto.Signer, input string) (string, error) {
	alg, _ := algForKey(key.Public())
	a := jwsAlgs[alg]
	var sig []byte
	var err error
	switch k := key.(type) {
	case *rsa.PrivateKey:
		d := a.hash.New()
		d.Write([]byte(input))
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, a.hash, d.Sum(nil))
	case *ecdsa.PrivateKey:
		d := a.hash.New()
		d.Write([]byte(input))
		r, s, e := ecdsa.Sign(rand.Reader, k, d.Sum(nil))
		err = e
		sig = make([]byte, 2*a.curveBytes)
		r.FillBytes(sig[:a.curveBytes])
		s.FillBytes(sig[a.curveBytes:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), err
}

func TestJWTVerifier(t *testing.T) {
	now := time.Unix(1_750_000_000, 0).UTC()
	rk, ek, other := testRSAKey(t), testECKey(t), testECKey(t)
	rpub, rkid := jwkOf(t, rk)
	epub, ekid := jwkOf(t, ek)
	info, _ := hookv1.LookupProvider("jwt")
	const iss, aud = "https://issuer.example.com", "https://hooks.example.com"
	v, err := newJWTVerifier(info, &JWTOptions{Issuer: iss, Audiences: []string{aud}, Keys: [][]byte{rpub, epub},
		Claims: map[string]string{"email": "push@p.iam.gserviceaccount.com", "groups": "ci"}})
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": iss, "aud": aud, "iat": now.Unix() - 10, "nbf": now.Unix() - 10, "exp": now.Unix() + 300,
			"email": "push@p.iam.gserviceaccount.com", "groups": []string{"dev", "ci"}}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(k crypto.Signer, kid string, c map[string]any) string {
		tok, err := signJWS(k, kid, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := sign(rk, rkid, claims(nil))
	tamperedClaims := func() string {
		p := strings.Split(valid, ".")
		cb, _ := json.Marshal(claims(func(c map[string]any) { c["email"] = "evil@example.com" }))
		return p[0] + "." + base64.RawURLEncoding.EncodeToString(cb) + "." + p[2]
	}()
	cases := []struct {
		name  string
		token string
		want  Reason
	}{
		{"an RS256 token of the issuer's key verifies", valid, ""},
		{"an ES256 token of the issuer's other key verifies", sign(ek, ekid, claims(nil)), ""},
		{"a token without kid verifies with the key that fits", sign(ek, "", claims(nil)), ""},
		{"an audience in a list verifies", sign(ek, ekid, claims(func(c map[string]any) { c["aud"] = []string{"x", aud} })), ""},
		{"a token just inside the leeway after exp verifies", sign(ek, ekid, claims(func(c map[string]any) { c["exp"] = now.Unix() - 30 })), ""},
		{"a missing header is refused", "", ReasonMissingSignature},
		{"changed claims are refused", tamperedClaims, ReasonSignatureMismatch},
		{"a token of another key is refused", sign(other, "", claims(nil)), ReasonSignatureMismatch},
		{"a token of another key claiming a known kid is refused", sign(other, ekid, claims(nil)), ReasonSignatureMismatch},
		{"an expired token is refused", sign(ek, ekid, claims(func(c map[string]any) { c["exp"] = now.Unix() - 120 })), ReasonTimestampOutOfRange},
		{"a token not yet valid is refused", sign(ek, ekid, claims(func(c map[string]any) { c["nbf"] = now.Unix() + 120 })), ReasonTimestampOutOfRange},
		{"a token issued in the future is refused", sign(ek, ekid, claims(func(c map[string]any) { c["iat"] = now.Unix() + 120 })), ReasonTimestampOutOfRange},
		{"a token without exp is refused", sign(ek, ekid, claims(func(c map[string]any) { delete(c, "exp") })), ReasonMalformedSignature},
		{"another issuer is refused", sign(ek, ekid, claims(func(c map[string]any) { c["iss"] = "https://evil.example.com" })), ReasonSignatureMismatch},
		{"another audience is refused", sign(ek, ekid, claims(func(c map[string]any) { c["aud"] = "https://other.example.com" })), ReasonSignatureMismatch},
		{"a claim with another value is refused", sign(ek, ekid, claims(func(c map[string]any) { c["email"] = "x@example.com" })), ReasonSignatureMismatch},
		{"a missing required claim is refused", sign(ek, ekid, claims(func(c map[string]any) { delete(c, "groups") })), ReasonSignatureMismatch},
		{"alg none is refused", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + strings.Split(valid, ".")[1] + ".", ReasonMalformedSignature},
		{"HS256 signed with the public key as secret is refused", hsToken(t, rpub, claims(nil)), ReasonMalformedSignature},
		{"a token naming its own jku is refused", rawToken(t, ek, map[string]any{"alg": "ES256", "jku": "https://evil.example.com/jwks"}, claims(nil)), ReasonMalformedSignature},
		{"a token with an embedded jwk is refused", rawToken(t, other, map[string]any{"alg": "ES256", "jwk": json.RawMessage(epub)}, claims(nil)), ReasonMalformedSignature},
		{"an RS256 header on an EC signature is refused", rawAlgSwap(valid, sign(ek, ekid, claims(nil))), ReasonSignatureMismatch},
		{"garbage is refused", "a.b.c", ReasonMalformedSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := v.Verify(bearerRequest(c.token), nil, now)
			if got := ReasonOf(err); got != c.want {
				t.Fatalf("reason %q (%v), want %q", got, err, c.want)
			}
			if err == nil && res.Handshake != nil {
				t.Fatal("an event was taken for a handshake")
			}
		})
	}
	r := bearerRequest(valid)
	r.Header.Set("Authorization", "Basic "+valid)
	if _, err := v.Verify(r, nil, now); ReasonOf(err) != ReasonMalformedSignature {
		t.Errorf("a non-Bearer Authorization: %v", err)
	}
}

// hsToken is the classic key-confusion forgery: HS256 keyed with the
// public key's text.
func hsToken(t testing.TB, secret []byte, claims map[string]any) string {
	hb, _ := json.Marshal(map[string]string{"alg": "HS256"})
	cb, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	return input + "." + base64.RawURLEncoding.EncodeToString([]byte(SignGitHub([]byte(input), secret)))
}

// rawAlgSwap puts an RS256 header on an ES256 token's claims and signature.
func rawAlgSwap(rsTok, esTok string) string {
	r, e := strings.Split(rsTok, "."), strings.Split(esTok, ".")
	return r[0] + "." + e[1] + "." + e[2]
}

func TestJWTProvidersFixTheirIssuerAndAlgorithms(t *testing.T) {
	now := time.Unix(1_750_000_000, 0).UTC()
	info, _ := hookv1.LookupProvider("google-pubsub")
	ek := testECKey(t)
	epub, kid := jwkOf(t, ek)
	if _, err := newJWTVerifier(info, &JWTOptions{Audiences: []string{"a"}, Issuer: "https://evil.example.com"}); err == nil {
		t.Error("google-pubsub accepted another issuer")
	}
	if _, err := newJWTVerifier(info, &JWTOptions{Audiences: []string{"a"}, Algorithms: []string{"ES256"}}); err == nil {
		t.Error("google-pubsub accepted ES256, which Google does not sign")
	}
	v, err := newJWTVerifier(info, &JWTOptions{Audiences: []string{"a"}, Keys: [][]byte{epub}})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := signJWS(ek, kid, map[string]any{"iss": "https://accounts.google.com", "aud": "a", "exp": now.Unix() + 60})
	if _, err := v.Verify(bearerRequest(tok), nil, now); ReasonOf(err) != ReasonMalformedSignature {
		t.Errorf("an ES256 token for google-pubsub: %v, want MalformedSignature (alg not allowed)", err)
	}
	rk := testRSAKey(t)
	rpub, rkid := jwkOf(t, rk)
	v, _ = newJWTVerifier(info, &JWTOptions{Audiences: []string{"a"}, Keys: [][]byte{rpub}})
	for _, iss := range []string{"https://accounts.google.com", "accounts.google.com"} {
		tok, _ := signJWS(rk, rkid, map[string]any{"iss": iss, "aud": "a", "exp": now.Unix() + 60})
		res, err := v.Verify(bearerRequest(tok), nil, now)
		if err != nil || res.DeliveryID != "m-1" {
			t.Errorf("Google's issuer %s: %v, delivery %q", iss, err, res.DeliveryID)
		}
	}
}

func TestJWTKeySetParsing(t *testing.T) {
	ek := testECKey(t)
	pub, _ := jwkOf(t, ek)
	for _, c := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"a JWK is a key", string(pub), true},
		{"a JWK Set is keys", `{"keys":[` + string(pub) + `,{"kty":"oct","k":"AAAA"}]}`, true},
		{"a set holding a private key is refused", `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}`, false},
		{"a point off the curve is refused", `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1"}`, false},
		{"a short RSA key is refused", `{"kty":"RSA","n":"AQAB","e":"AQAB"}`, false},
		{"only encryption keys are no signature keys", `{"keys":[{"kty":"OKP","crv":"Ed25519","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`, false},
		{"text is refused", "hello", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseKeySet([]byte(c.in))
			if (err == nil) != c.ok {
				t.Fatalf("err %v, want ok=%v", err, c.ok)
			}
		})
	}
}
