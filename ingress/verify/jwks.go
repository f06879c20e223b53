package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

var randReader = rand.Reader

// publicKey is one verification key of an issuer.
type publicKey struct {
	kid string
	// alg, when the JWK names one, is the only algorithm it verifies.
	alg string
	key crypto.PublicKey
}

// maxKeysPerSet bounds what one JWK Set (or spec entry) may hold.
const maxKeysPerSet = 64

// jwk is the JSON Web Key members used here (RFC 7517, 7518, 8037).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	// D is a private member: a set that holds one is refused, it is
	// somebody's leaked private key.
	D string `json:"d"`
}

// parseKeySet reads keys written as a JWK Set, a single JWK, or PEM blocks
// (PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE). Keys of unknown type in a set
// are skipped (issuers publish other kinds); a set with no usable key is
// an error.
func parseKeySet(b []byte) ([]publicKey, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("empty key")
	}
	if b[0] != '{' {
		return parsePEMKeys(b)
	}
	var probe struct {
		Keys json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	var raw []jwk
	if probe.Keys != nil {
		if err := json.Unmarshal(probe.Keys, &raw); err != nil {
			return nil, errors.New(`"keys" is not a list of JWKs`)
		}
	} else {
		var one jwk
		if err := json.Unmarshal(b, &one); err != nil {
			return nil, errors.New("not a JWK")
		}
		raw = []jwk{one}
	}
	if len(raw) > maxKeysPerSet {
		return nil, fmt.Errorf("%d keys, at most %d", len(raw), maxKeysPerSet)
	}
	var out []publicKey
	var firstErr error
	for _, k := range raw {
		if k.D != "" {
			return nil, errors.New("the key set holds a private key (member d): publish only public keys")
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pk, err := k.publicKey()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if k.Alg != "" {
			if _, ok := jwsAlgs[k.Alg]; !ok || !keyFitsAlg(pk, k.Alg) {
				continue
			}
		}
		out = append(out, publicKey{kid: k.Kid, alg: k.Alg, key: pk})
	}
	if len(out) == 0 {
		if firstErr != nil {
			return nil, firstErr
		}
		return nil, errors.New("no signature key of a known type (RSA, EC P-256/384/521, OKP Ed25519)")
	}
	return out, nil
}

func (k jwk) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err1 := b64uInt(k.N)
		e, err2 := b64uInt(k.E)
		if err1 != nil || err2 != nil || n.Sign() <= 0 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return nil, errors.New("RSA JWK: n or e is invalid")
		}
		if n.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA JWK: %d-bit modulus, at least 2048", n.BitLen())
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		var c elliptic.Curve
		switch k.Crv {
		case "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		case "P-521":
			c = elliptic.P521()
		default:
			return nil, fmt.Errorf("EC JWK: curve %q is not supported", truncate(k.Crv, 16))
		}
		size := (c.Params().BitSize + 7) / 8
		x, err1 := base64.RawURLEncoding.Strict().DecodeString(k.X)
		y, err2 := base64.RawURLEncoding.Strict().DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errors.New("EC JWK: x or y is invalid")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, errors.New("EC JWK: the point is not on the curve")
		}
		return pub, nil
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, fmt.Errorf("OKP JWK: curve %q is not supported", truncate(k.Crv, 16))
		}
		x, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("OKP JWK: x is invalid")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("JWK type %q is not supported", truncate(k.Kty, 16))
}

func b64uInt(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) == 0 || len(b) > 1024 {
		return nil, errors.New("bad integer")
	}
	return new(big.Int).SetBytes(b), nil
}

func parsePEMKeys(b []byte) ([]publicKey, error) {
	var out []publicKey
	for len(bytes.TrimSpace(b)) > 0 {
		block, rest := pem.Decode(b)
		if block == nil {
			return nil, errors.New("neither JSON nor PEM")
		}
		b = rest
		var pub any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = c.PublicKey
			}
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key or certificate", truncate(block.Type, 32))
		}
		if err != nil {
			return nil, fmt.Errorf("PEM %s: %w", block.Type, err)
		}
		switch k := pub.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < 2048 {
				return nil, fmt.Errorf("RSA key of %d bits, at least 2048", k.N.BitLen())
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			return nil, errors.New("PEM key is not RSA, ECDSA or Ed25519")
		}
		out = append(out, publicKey{key: pub})
		if len(out) > maxKeysPerSet {
			return nil, fmt.Errorf("more than %d keys", maxKeysPerSet)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM block")
	}
	return out, nil
}

// PublicJWK returns the JWK of a public key with its RFC 7638 thumbprint
// as kid, as `hookgate send --generate-key-pair` prints it for
// spec.jwt.keys.
func PublicJWK(pub crypto.PublicKey) ([]byte, string, error) {
	m, err := jwkMembers(pub)
	if err != nil {
		return nil, "", err
	}
	kid := jwkThumbprint(m)
	m["kid"] = kid
	m["use"] = "sig"
	if alg, err := algForKey(pub); err == nil {
		m["alg"] = alg
	}
	b, err := json.Marshal(m)
	return b, kid, err
}

// jwkMembers are the required members of a public key's JWK.
func jwkMembers(pub crypto.PublicKey) (map[string]string, error) {
	enc := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "n": enc(k.N.Bytes()), "e": enc(big.NewInt(int64(k.E)).Bytes())}, nil
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			return nil, err
		}
		size := (len(raw) - 1) / 2
		return map[string]string{"kty": "EC", "crv": k.Curve.Params().Name, "x": enc(raw[1 : 1+size]), "y": enc(raw[1+size:])}, nil
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "crv": "Ed25519", "x": enc(k)}, nil
	}
	return nil, errors.New("unsupported public key type")
}

// jwkThumbprint is RFC 7638: SHA-256 of the required members in
// lexicographic order, no whitespace; json.Marshal sorts map keys.
func jwkThumbprint(m map[string]string) string {
	req := map[string]string{}
	for _, k := range []string{"kty", "n", "e", "crv", "x", "y"} {
		if v, ok := m[k]; ok {
			req[k] = v
		}
	}
	b, _ := json.Marshal(req)
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
