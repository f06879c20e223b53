package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // SHA-384 and SHA-512 for RS384, ES512, ...
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// A small JWS (RFC 7515) compact-serialisation parser and JWT (RFC 7519)
// claim checker on the standard library. Only asymmetric algorithms exist
// here (RFC 7518 RS*, PS*, ES*, RFC 8037 EdDSA): "none" and HS* are
// refused at parse time, so no public key can ever be used as an HMAC key,
// and a key is only used with the algorithm of its type (an RSA key never
// verifies an ES256 token).

// maxJWTLen bounds a token before anything is decoded.
const maxJWTLen = 16 << 10

// DefaultJWTLeeway is the clock skew allowed on exp, nbf and iat.
const DefaultJWTLeeway = 60 * time.Second

// JWTAlgorithms lists every algorithm the verifier knows, in the order a
// default allowlist takes them.
var JWTAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

type jwsAlg struct {
	hash crypto.Hash // zero for EdDSA
	kind string      // "RSA", "RSA-PSS", "EC", "OKP"
	// curveBytes is the size of r and s for ES*.
	curveBytes int
	curve      string
}

var jwsAlgs = map[string]jwsAlg{
	"RS256": {hash: crypto.SHA256, kind: "RSA"},
	"RS384": {hash: crypto.SHA384, kind: "RSA"},
	"RS512": {hash: crypto.SHA512, kind: "RSA"},
	"PS256": {hash: crypto.SHA256, kind: "RSA-PSS"},
	"PS384": {hash: crypto.SHA384, kind: "RSA-PSS"},
	"PS512": {hash: crypto.SHA512, kind: "RSA-PSS"},
	"ES256": {hash: crypto.SHA256, kind: "EC", curveBytes: 32, curve: "P-256"},
	"ES384": {hash: crypto.SHA384, kind: "EC", curveBytes: 48, curve: "P-384"},
	"ES512": {hash: crypto.SHA512, kind: "EC", curveBytes: 66, curve: "P-521"},
	"EdDSA": {kind: "OKP"},
}

// jwtHeader is the JOSE header.
type jwtHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	// Header parameters that would name keys or key URLs: never followed,
	// so their presence is refused rather than silently ignored.
	JKU json.RawMessage `json:"jku"`
	JWK json.RawMessage `json:"jwk"`
	X5U json.RawMessage `json:"x5u"`
	X5C json.RawMessage `json:"x5c"`
}

// parsedJWT is a token whose structure is valid; its signature is not yet
// checked.
type parsedJWT struct {
	header       jwtHeader
	claims       map[string]json.RawMessage
	signingInput []byte
	signature    []byte
}

// parseJWT splits and decodes a compact JWS. It checks structure only.
func parseJWT(token string) (*parsedJWT, error) {
	if token == "" {
		return nil, fail(ReasonMissingSignature, "no token")
	}
	if len(token) > maxJWTLen {
		return nil, fail(ReasonMalformedSignature, "token longer than %d bytes", maxJWTLen)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fail(ReasonMalformedSignature, "a compact JWS has 3 parts, this has %d", len(parts))
	}
	hb, err := decodeSegment(parts[0])
	if err != nil {
		return nil, fail(ReasonMalformedSignature, "header: %v", err)
	}
	var h jwtHeader
	if err := decodeJSONObject(hb, &h); err != nil {
		return nil, fail(ReasonMalformedSignature, "header is not a JSON object")
	}
	if _, ok := jwsAlgs[h.Alg]; !ok {
		return nil, fail(ReasonMalformedSignature, "alg %q is not an accepted asymmetric algorithm", truncate(h.Alg, 16))
	}
	if len(h.Crit) > 0 {
		return nil, fail(ReasonMalformedSignature, "crit header parameters are not understood")
	}
	if len(h.JKU) > 0 || len(h.JWK) > 0 || len(h.X5U) > 0 || len(h.X5C) > 0 {
		return nil, fail(ReasonMalformedSignature, "a token may not carry its own keys or key URLs (jku, jwk, x5u, x5c)")
	}
	cb, err := decodeSegment(parts[1])
	if err != nil {
		return nil, fail(ReasonMalformedSignature, "claims: %v", err)
	}
	var claims map[string]json.RawMessage
	if err := decodeJSONObject(cb, &claims); err != nil || claims == nil {
		return nil, fail(ReasonMalformedSignature, "claims are not a JSON object")
	}
	sig, err := decodeSegment(parts[2])
	if err != nil || len(sig) == 0 {
		return nil, fail(ReasonMalformedSignature, "signature is not base64url")
	}
	return &parsedJWT{header: h, claims: claims, signingInput: []byte(parts[0] + "." + parts[1]), signature: sig}, nil
}

// decodeSegment decodes unpadded base64url, refusing padding and other
// alphabets (one token, one encoding).
func decodeSegment(s string) ([]byte, error) {
	if strings.ContainsAny(s, "=+/ \t\r\n") {
		return nil, errors.New("not unpadded base64url")
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// decodeJSONObject decodes one JSON object with no duplicate top-level
// names and nothing after it: two parsers reading one token must not see
// two different claims.
func decodeJSONObject(b []byte, v any) error {
	if err := noDuplicateKeys(b); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

// noDuplicateKeys reports an error when the top-level JSON object names a
// member twice.
func noDuplicateKeys(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	t, err := d.Token()
	if err != nil {
		return err
	}
	if t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return err
		}
		name, ok := k.(string)
		if !ok {
			return errors.New("object key is not a string")
		}
		if seen[name] {
			return fmt.Errorf("member %q appears twice", truncate(name, 32))
		}
		seen[name] = true
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// verifySignature checks the token's signature with key, which must be of
// the type the token's algorithm names.
func (t *parsedJWT) verifySignature(key crypto.PublicKey) bool {
	alg := jwsAlgs[t.header.Alg]
	var digest []byte
	if alg.hash != 0 {
		h := alg.hash.New()
		h.Write(t.signingInput)
		digest = h.Sum(nil)
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return false
		}
		switch alg.kind {
		case "RSA":
			return rsa.VerifyPKCS1v15(k, alg.hash, digest, t.signature) == nil
		case "RSA-PSS":
			return rsa.VerifyPSS(k, alg.hash, digest, t.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: alg.hash}) == nil
		}
	case *ecdsa.PublicKey:
		if alg.kind != "EC" || k.Curve.Params().Name != alg.curve || len(t.signature) != 2*alg.curveBytes {
			return false
		}
		r := new(big.Int).SetBytes(t.signature[:alg.curveBytes])
		s := new(big.Int).SetBytes(t.signature[alg.curveBytes:])
		return ecdsa.Verify(k, digest, r, s)
	case ed25519.PublicKey:
		return alg.kind == "OKP" && len(k) == ed25519.PublicKeySize && ed25519.Verify(k, t.signingInput, t.signature)
	}
	return false
}

// keyFitsAlg reports whether a key may verify alg at all.
func keyFitsAlg(key crypto.PublicKey, alg string) bool {
	a, ok := jwsAlgs[alg]
	if !ok {
		return false
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		return a.kind == "RSA" || a.kind == "RSA-PSS"
	case *ecdsa.PublicKey:
		return a.kind == "EC" && k.Curve.Params().Name == a.curve
	case ed25519.PublicKey:
		return a.kind == "OKP"
	}
	return false
}

// jwtClaims are the registered claims a verifier checks.
type jwtClaims struct {
	iss      string
	aud      []string
	exp, nbf time.Time
	iat      time.Time
	hasExp   bool
}

// registered decodes iss, aud, exp, nbf and iat, refusing wrong types.
func (t *parsedJWT) registered() (jwtClaims, error) {
	var c jwtClaims
	if raw, ok := t.claims["iss"]; ok {
		if err := json.Unmarshal(raw, &c.iss); err != nil {
			return c, fail(ReasonMalformedSignature, "iss is not a string")
		}
	}
	if raw, ok := t.claims["aud"]; ok {
		var one string
		if err := json.Unmarshal(raw, &one); err == nil {
			c.aud = []string{one}
		} else if err := json.Unmarshal(raw, &c.aud); err != nil {
			return c, fail(ReasonMalformedSignature, "aud is neither a string nor a list of strings")
		}
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"exp", &c.exp}, {"nbf", &c.nbf}, {"iat", &c.iat}} {
		raw, ok := t.claims[f.name]
		if !ok {
			continue
		}
		ts, err := numericDate(raw)
		if err != nil {
			return c, fail(ReasonMalformedSignature, "%s is not a NumericDate", f.name)
		}
		*f.dst = ts
		if f.name == "exp" {
			c.hasExp = true
		}
	}
	return c, nil
}

// numericDate reads seconds since the epoch, possibly fractional, within
// sane bounds.
func numericDate(raw json.RawMessage) (time.Time, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return time.Time{}, err
	}
	if math.IsNaN(f) || f < 0 || f > 1e11 {
		return time.Time{}, errors.New("out of range")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// claimMatches reports whether claim name holds want: a string equal to
// it, a list of strings containing it, or a boolean or number whose JSON
// text is it.
func (t *parsedJWT) claimMatches(name, want string) bool {
	raw, ok := t.claims[name]
	if !ok {
		return false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == want
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		for _, v := range list {
			if v == want {
				return true
			}
		}
		return false
	}
	text := string(bytes.TrimSpace(raw))
	return (text == "true" || text == "false" || (len(text) > 0 && (text[0] == '-' || ('0' <= text[0] && text[0] <= '9')))) && text == want
}

// signJWS signs claims as a compact JWS with the algorithm of key's type
// (RS256, ES256/384/512, EdDSA); for `hookgate send` and tests.
func signJWS(key crypto.Signer, kid string, claims map[string]any) (string, error) {
	alg, err := algForKey(key.Public())
	if err != nil {
		return "", err
	}
	hdr := map[string]string{"alg": alg, "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	hb, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	a := jwsAlgs[alg]
	var sig []byte
	switch k := key.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(input))
	case *ecdsa.PrivateKey:
		d := a.hash.New()
		d.Write([]byte(input))
		r, s, err := ecdsa.Sign(randReader, k, d.Sum(nil))
		if err != nil {
			return "", err
		}
		sig = make([]byte, 2*a.curveBytes)
		r.FillBytes(sig[:a.curveBytes])
		s.FillBytes(sig[a.curveBytes:])
	case *rsa.PrivateKey:
		d := sha256.Sum256([]byte(input))
		if sig, err = rsa.SignPKCS1v15(randReader, k, crypto.SHA256, d[:]); err != nil {
			return "", err
		}
	default:
		return "", errors.New("unsupported key type")
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// algForKey is the algorithm signJWS uses for a public key's type.
func algForKey(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "EdDSA", nil
	case *ecdsa.PublicKey:
		switch k.Curve.Params().Name {
		case "P-256":
			return "ES256", nil
		case "P-384":
			return "ES384", nil
		case "P-521":
			return "ES512", nil
		}
	case *rsa.PublicKey:
		return "RS256", nil
	}
	return "", errors.New("a JWT signs with an RSA, ECDSA or Ed25519 key")
}
