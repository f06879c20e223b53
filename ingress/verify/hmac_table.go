package verify

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// The table-driven HMAC scheme: a provider that signs with an HMAC in one
// header needs nothing but its hookv1.HMACRecipe in the provider table. The
// recipe is validated by the same code as spec.genericHMAC (so a recipe can
// never sign less than the body, or check an unsigned timestamp) and adds a
// list form (CircleCI's "v1=<hex>,v2=<hex>") and a delivery id read from the
// signed body.

func init() {
	registerScheme(hookv1.SchemeHMAC, func(info hookv1.ProviderInfo, o Options) (Verifier, error) {
		t, err := newTableHMAC(info, o.Tolerance)
		if err != nil {
			return nil, err
		}
		t.g.urls = newSignedURLs(o)
		return t, nil
	})
}

type tableHMAC struct {
	g         *genericHMAC
	sep       string
	idField   string
	handshake hookv1.HandshakeInfo
	// splitKeys: keys are "[verify token:]secret" (KeyFormatVerifyTokenSecret).
	splitKeys bool
	// base64Keys: the Secret holds base64 of the HMAC key (KeyEncoding).
	base64Keys bool
}

func newTableHMAC(info hookv1.ProviderInfo, tolerance time.Duration) (*tableHMAC, error) {
	r := info.HMAC
	if r == nil {
		return nil, fail(ReasonNoUsableKey, "provider %s has no HMAC recipe", info.Name)
	}
	opts := GenericHMACOptions{
		Header: r.Header, Algorithm: r.Algorithm, Encoding: r.Encoding, Prefix: r.Prefix,
		IDHeader: r.IDHeader, TimestampHeader: r.TimestampHeader, TimestampFormat: r.TimestampFormat,
		TimestampParam: r.TimestampParam, SignedContent: r.SignedContent,
	}
	if r.TimestampHeader != "" || r.TimestampParam != "" {
		opts.Tolerance = tolerance
	}
	g, err := compileGenericHMAC(opts)
	if err != nil {
		return nil, err
	}
	switch r.KeyEncoding {
	case "", "base64":
	default:
		return nil, fail(ReasonNoUsableKey, "provider %s: key encoding %q is not supported; use base64 or none", info.Name, r.KeyEncoding)
	}
	return &tableHMAC{
		g: g, sep: r.ListSeparator, idField: r.IDField,
		handshake: info.Handshake, splitKeys: info.Key.Format == hookv1.KeyFormatVerifyTokenSecret,
		base64Keys: r.KeyEncoding == "base64",
	}, nil
}

// Verify implements Verifier. As everywhere, the timestamp window is checked
// after the signature so that TimestampOutOfRange means "authentic but
// stale".
func (t *tableHMAC) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	if t.handshake.Method != "" && req.Method == t.handshake.Method {
		if t.handshake.Kind == hookv1.HandshakeHeadCheck {
			// Only whether the URL exists is asked: nothing is read or kept.
			return Result{Handshake: &Handshake{Status: http.StatusOK, ContentType: "text/plain", Body: []byte{}}}, nil
		}
		// A handshake GET carries no signature: it is answered by its own
		// rules or refused, and never falls through to an event.
		return t.answerHandshake(req, keys)
	}
	if err := t.checkEvent(req); err != nil {
		return Result{}, err
	}
	g := t.g
	value, ok, err := singleHeader(req.Header, g.header)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", g.header)
	}
	fields, err := g.readFields(req)
	if err != nil {
		return Result{}, err
	}
	sigs, err := t.parse(value)
	if err != nil {
		return Result{}, err
	}
	usable := nonEmptyKeys(t.hmacKeys(keys))
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	if !g.matches(usable, sigs, req, fields) {
		return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d keys", g.header, len(usable))
	}
	res := Result{DeliveryID: fields.id}
	if t.idField != "" {
		res.DeliveryID = jsonPathString(req.Body, t.idField)
	}
	if g.hasTimestamp() {
		if err := checkWindow(fields.ts, now, g.tolerance); err != nil {
			return Result{}, err
		}
		res.Timestamp = fields.ts
	}
	return res, nil
}

// parse decodes the header: one MAC, or with a list separator every element
// that starts with the prefix (others, such as a future v2, are skipped so
// that a new version does not take endpoints down). A broken element is
// skipped when a good one exists.
func (t *tableHMAC) parse(value string) ([][]byte, error) {
	g := t.g
	if t.sep == "" {
		sig, err := decodeSignature(g.header, value, g.prefix, g.encoding, g.size)
		if err != nil {
			return nil, err
		}
		return [][]byte{sig}, nil
	}
	var (
		sigs [][]byte
		bad  int
	)
	for _, el := range strings.Split(value, t.sep) {
		el = strings.TrimSpace(el)
		if !hasPrefixFoldASCII(el, g.prefix) {
			continue
		}
		sig, err := decodeSignature(g.header, el, g.prefix, g.encoding, g.size)
		if err != nil {
			bad++
			continue
		}
		sigs = append(sigs, sig)
	}
	switch {
	case len(sigs) > 0:
		return sigs, nil
	case bad > 0:
		return nil, fail(ReasonMalformedSignature, "%s has %d unparsable %q entries and no valid one", g.header, bad, g.prefix)
	default:
		return nil, fail(ReasonMissingSignature, "%s holds no %q signature", g.header, g.prefix)
	}
}

// sign returns the header value the provider would send for req under key.
func (t *tableHMAC) sign(req *Request, key []byte) (string, error) {
	fields, err := t.g.readFields(req)
	if err != nil {
		return "", err
	}
	hk := t.hmacKeys([][]byte{key})
	if len(hk) == 0 {
		return "", fail(ReasonNoUsableKey, "the key is not the base64 the provider hands out")
	}
	m := hmac.New(t.g.newHash, hk[0])
	t.g.writeContent(m, req, fields)
	return t.g.prefix + encodeSignature(t.g.encoding, m.Sum(nil)), nil
}

// hmacKeys returns the HMAC key of each configured key: its signing part,
// base64-decoded where the recipe says so. A key that does not decode is
// left out rather than used as text, which would never match.
func (t *tableHMAC) hmacKeys(keys [][]byte) [][]byte {
	keys = t.secrets(keys)
	if !t.base64Keys {
		return keys
	}
	out := make([][]byte, 0, len(keys))
	for _, k := range keys {
		if d, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(k))); err == nil && len(d) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// jsonPathString returns the string (or the text of the number) at path, a
// dot-separated list of object keys, in a JSON body; "" when absent. Only
// verified bodies are read, so the id is as authentic as the body.
func jsonPathString(body []byte, path string) string {
	raw := json.RawMessage(bytes.TrimSpace(body))
	for _, key := range strings.Split(path, ".") {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return ""
		}
		var ok bool
		if raw, ok = obj[key]; !ok {
			return ""
		}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var n json.Number
	if d.Decode(&n) == nil {
		return n.String()
	}
	return ""
}
