package webhookcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// Keys of the Secret: a kubernetes.io/tls Secret plus the CA bundle.
const (
	CertKey = "tls.crt" // the serving certificate
	KeyKey  = "tls.key" // its private key (PKCS#8)
	CAKey   = "ca.crt"  // the caBundle: the current CA, then older ones not yet expired
)

// DefaultValidity is how long a generated certificate (and its CA) is valid.
const DefaultValidity = 365 * 24 * time.Hour

// caCommonName names the CAs Generate makes.
const caCommonName = "hookgate-webhook-ca"

// backdate covers clocks a little behind the manager's.
const backdate = time.Hour

// maxCAs bounds the bundle: with renewal at 2/3 of the validity at most two
// CAs are unexpired at once; the rest is slack for manual rotations.
const maxCAs = 4

// Bundle is the serving certificate, its key and the CAs that the API
// server is told to trust, PEM-encoded as in the Secret.
type Bundle struct {
	Cert, Key, CA []byte
}

// Generate makes a new CA and a serving certificate for names (DNS names
// or IP addresses) signed by it, both ECDSA P-256, valid from now for
// validity. The CA's key signs only this certificate and is then dropped:
// nothing can mint another one from the Secret. The CAs of prev (an older
// bundle) that are still valid stay in the new bundle after the new CA, so
// that the API server keeps trusting replicas that serve the old
// certificate until they load the new one.
func Generate(now time.Time, validity time.Duration, names []string, prev []byte) (*Bundle, error) {
	if len(names) == 0 {
		return nil, errors.New("a serving certificate needs at least one name")
	}
	notBefore, notAfter := now.Add(-backdate), now.Add(validity)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: caCommonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating the CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating the serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	bundle := pemBlock(caDER)
	kept := 1
	for _, c := range parseCerts(prev) {
		if kept < maxCAs && c.IsCA && now.Before(c.NotAfter) && !c.Equal(ca) {
			bundle = append(bundle, pemBlock(c.Raw)...)
			kept++
		}
	}
	return &Bundle{
		Cert: pemBlock(der),
		Key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		CA:   bundle,
	}, nil
}

// Check says why b must be replaced at now, or "" when it may stay: it does
// not parse, its key does not match, the bundle does not verify it for each
// of names, or two thirds of its validity are over.
func (b *Bundle) Check(now time.Time, names []string) string {
	leaf, _, err := b.parse()
	if err != nil {
		return err.Error()
	}
	if renew := renewAt(leaf); !now.Before(renew) {
		return fmt.Sprintf("the certificate is due for renewal since %s (it expires %s)", renew.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b.CA) {
		return "no CA certificate in " + CAKey
	}
	for _, n := range names {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return fmt.Sprintf("the certificate does not verify for %s: %v", n, err)
		}
	}
	return ""
}

// RenewAt is when two thirds of the serving certificate's validity are
// over.
func (b *Bundle) RenewAt() (time.Time, error) {
	leaf, _, err := b.parse()
	if err != nil {
		return time.Time{}, err
	}
	return renewAt(leaf), nil
}

func renewAt(c *x509.Certificate) time.Time {
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

// Names returns the DNS names and IP addresses of the serving certificate.
func (b *Bundle) Names() []string {
	leaf, _, err := b.parse()
	if err != nil {
		return nil
	}
	names := slices.Clone(leaf.DNSNames)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// TLSCertificate is the serving certificate and key, for a tls.Config.
func (b *Bundle) TLSCertificate() (*tls.Certificate, error) {
	_, c, err := b.parse()
	return c, err
}

// Equal reports whether a and b hold the same PEM.
func (b *Bundle) Equal(o *Bundle) bool {
	return o != nil && bytes.Equal(b.Cert, o.Cert) && bytes.Equal(b.Key, o.Key) && bytes.Equal(b.CA, o.CA)
}

func (b *Bundle) parse() (*x509.Certificate, *tls.Certificate, error) {
	if len(b.Cert) == 0 || len(b.Key) == 0 || len(b.CA) == 0 {
		return nil, nil, fmt.Errorf("%s, %s or %s is missing", CertKey, KeyKey, CAKey)
	}
	c, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("the key pair does not load: %w", err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, nil, err
		}
	}
	return c.Leaf, &c, nil
}

func pemBlock(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func parseCerts(b []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return out
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return n
}
