package verify

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by NewGenericHMAC.
const (
	DefaultGenericHeader        = "X-Signature"
	DefaultGenericAlgorithm     = "sha256"
	DefaultGenericEncoding      = "hex"
	DefaultGenericSignedContent = "{body}"
)

// GenericHMACOptions describes a provider that signs with an HMAC but follows
// no published scheme this package implements by name. Zero values take the
// defaults noted on each field.
type GenericHMACOptions struct {
	// Header carries the signature. Default X-Signature.
	Header string
	// Algorithm is the HMAC hash: "sha1", "sha256" or "sha512". Default
	// sha256.
	Algorithm string
	// Encoding is how the MAC is written: "hex" (either case) or "base64"
	// (standard alphabet, padding optional). Default hex.
	Encoding string
	// Prefix, e.g. "sha256=", precedes the encoded MAC. When set it must be
	// present (compared without regard to case) and is stripped before
	// decoding.
	Prefix string
	// IDHeader, when set, names a header whose value becomes
	// Result.DeliveryID. It is required on requests only if SignedContent
	// uses {id}; otherwise a missing id just leaves DeliveryID empty.
	IDHeader string
	// TimestampHeader, when set, names a header holding the send time in
	// unix seconds. It is then required on every request, must lie within
	// Tolerance of now, and must be signed (SignedContent must use
	// {timestamp}).
	TimestampHeader string
	// TimestampParam, instead of TimestampHeader, reads the timestamp from
	// the "<param>=" element of the comma-separated signature header
	// (Calendly's "t=<ts>,v1=<mac>"). Not settable through
	// spec.genericHMAC; provider recipes use it.
	TimestampParam string
	// TimestampFormat is how TimestampHeader writes the time: "unix"
	// (seconds, the default), "unix-ms" (milliseconds) or "rfc3339". Not
	// settable through spec.genericHMAC; provider recipes use it.
	TimestampFormat string
	// Tolerance is the replay window around now. Default DefaultTolerance
	// when TimestampHeader is set; setting it without TimestampHeader is an
	// error.
	Tolerance time.Duration
	// SignedContent is the template of the bytes the provider signs. It may
	// use {body} (the raw body, required), {timestamp} (the timestamp
	// header's text), {id} (the id header's text) and {url} (the request
	// URL as the provider called it) and {method} (the HTTP method); all
	// other text is literal. Default "{body}".
	SignedContent string
}

// placeholder is one substitution in a SignedContent template.
type placeholder int

const (
	literal placeholder = iota
	phBody
	phTimestamp
	phID
	phURL
	phMethod
)

var placeholders = map[string]placeholder{
	"body":      phBody,
	"timestamp": phTimestamp,
	"id":        phID,
	"url":       phURL,
	"method":    phMethod,
}

// segment is a parsed piece of a SignedContent template.
type segment struct {
	kind placeholder
	text string // for literal segments
}

// genericHMAC is a validated GenericHMACOptions.
type genericHMAC struct {
	header    string
	prefix    string
	newHash   func() hash.Hash
	size      int
	encoding  encoding
	idHeader  string
	tsHeader  string
	tsFormat  string
	tsParam   string
	tolerance time.Duration
	content   []segment
	usesID    bool
	usesURL   bool
	// urls are the URLs {url} may stand for (signedurl.go).
	urls signedURLs
}

// NewGenericHMAC validates opts and returns a Verifier for them. Keys are
// used as raw bytes.
//
// Options that would make verification weaker than it looks are refused: a
// template that does not sign the body, and a timestamp header that is
// checked but not signed (anyone replaying a request could simply rewrite
// it).
func NewGenericHMAC(opts GenericHMACOptions) (Verifier, error) {
	g, err := compileGenericHMAC(opts)
	if err != nil {
		return nil, err
	}
	return g, nil
}

func compileGenericHMAC(opts GenericHMACOptions) (*genericHMAC, error) {
	g := &genericHMAC{
		header:   orDefault(opts.Header, DefaultGenericHeader),
		prefix:   opts.Prefix,
		idHeader: opts.IDHeader,
		tsHeader: opts.TimestampHeader,
		tsFormat: orDefault(opts.TimestampFormat, TimestampUnix),
		tsParam:  opts.TimestampParam,
	}
	var errs []error
	for _, h := range []struct{ field, name string }{
		{"Header", g.header}, {"IDHeader", g.idHeader}, {"TimestampHeader", g.tsHeader},
	} {
		if h.name != "" && !validHeaderName(h.name) {
			errs = append(errs, fmt.Errorf("%s %q is not a valid HTTP header name", h.field, h.name))
		}
	}
	if g.idHeader != "" && strings.EqualFold(g.idHeader, g.header) {
		errs = append(errs, fmt.Errorf("IDHeader must differ from Header %q", g.header))
	}
	if g.tsHeader != "" && g.tsParam != "" {
		errs = append(errs, errors.New("TimestampHeader and TimestampParam are exclusive"))
	}
	if g.tsHeader != "" && strings.EqualFold(g.tsHeader, g.header) {
		errs = append(errs, fmt.Errorf("TimestampHeader must differ from Header %q", g.header))
	}

	switch alg := strings.ToLower(orDefault(opts.Algorithm, DefaultGenericAlgorithm)); alg {
	case "sha1":
		g.newHash, g.size = sha1.New, sha1.Size
	case "sha256":
		g.newHash, g.size = sha256.New, sha256.Size
	case "sha512":
		g.newHash, g.size = sha512.New, sha512.Size
	default:
		errs = append(errs, fmt.Errorf("Algorithm %q is not supported; use sha1, sha256 or sha512", opts.Algorithm))
	}

	switch enc := encoding(strings.ToLower(orDefault(opts.Encoding, DefaultGenericEncoding))); enc {
	case encodingHex, encodingBase64:
		g.encoding = enc
	default:
		errs = append(errs, fmt.Errorf("Encoding %q is not supported; use hex or base64", opts.Encoding))
	}

	switch g.tsFormat {
	case TimestampUnix, TimestampUnixMilli, TimestampRFC3339, TimestampISO8601UTC:
	default:
		errs = append(errs, fmt.Errorf("TimestampFormat %q is not supported; use unix, unix-ms, rfc3339 or iso8601-utc", opts.TimestampFormat))
	}

	switch {
	case opts.Tolerance < 0:
		errs = append(errs, fmt.Errorf("Tolerance %s is negative", opts.Tolerance))
	case opts.Tolerance > 0 && !g.hasTimestamp():
		errs = append(errs, errors.New("Tolerance is set but TimestampHeader is not, so there is no timestamp to check"))
	case g.hasTimestamp():
		g.tolerance = opts.Tolerance
		if g.tolerance == 0 {
			g.tolerance = DefaultTolerance
		}
	}

	content, err := parseSignedContent(orDefault(opts.SignedContent, DefaultGenericSignedContent))
	if err != nil {
		errs = append(errs, err)
	}
	g.content = content
	var usesTS bool
	for _, s := range content {
		switch s.kind {
		case phID:
			g.usesID = true
		case phURL:
			g.usesURL = true
		case phTimestamp:
			usesTS = true
		}
	}
	if err == nil {
		if g.usesID && g.idHeader == "" {
			errs = append(errs, errors.New("SignedContent uses {id} but IDHeader is not set"))
		}
		if usesTS && !g.hasTimestamp() {
			errs = append(errs, errors.New("SignedContent uses {timestamp} but TimestampHeader is not set"))
		}
		if g.hasTimestamp() && !usesTS {
			errs = append(errs, errors.New("TimestampHeader is set but SignedContent does not use {timestamp}; an unsigned timestamp gives no replay protection"))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("generic HMAC options: %w", errors.Join(errs...))
	}
	return g, nil
}

// parseSignedContent splits a template into literals and placeholders. A
// '{' that does not open a known placeholder is an error rather than a
// literal, so a typo such as {tiemstamp} fails at configuration time instead
// of as a signature mismatch on every request.
func parseSignedContent(t string) ([]segment, error) {
	var (
		segs    []segment
		hasBody bool
	)
	for rest := t; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			segs = append(segs, segment{kind: literal, text: rest})
			break
		}
		if open > 0 {
			segs = append(segs, segment{kind: literal, text: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("SignedContent %q: '{' at offset %d is never closed", t, len(t)-len(rest)+open)
		}
		name := rest[open+1 : open+end]
		kind, ok := placeholders[name]
		if !ok {
			return nil, fmt.Errorf("SignedContent %q: unknown placeholder {%s}; use {body}, {timestamp}, {id}, {url} or {method}", t, name)
		}
		hasBody = hasBody || kind == phBody
		segs = append(segs, segment{kind: kind})
		rest = rest[open+end+1:]
	}
	if !hasBody {
		return nil, fmt.Errorf("SignedContent %q does not include {body}, so the payload would not be authenticated", t)
	}
	return segs, nil
}

// Verify implements Verifier.
//
// As with Standard Webhooks, the timestamp window is checked after the
// signature so that TimestampOutOfRange always means "authentic but stale".
func (g *genericHMAC) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
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
	sig, err := parseGenericSignature(g.header, value, g.prefix, g.encoding, g.size)
	if err != nil {
		return Result{}, err
	}
	usable := nonEmptyKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	if !g.matches(usable, [][]byte{sig}, req, fields) {
		return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d keys", g.header, len(usable))
	}
	res := Result{DeliveryID: fields.id}
	if g.hasTimestamp() {
		if err := checkWindow(fields.ts, now, g.tolerance); err != nil {
			return Result{}, err
		}
		res.Timestamp = fields.ts
	}
	return res, nil
}

// genericFields are the header values a template may refer to.
type genericFields struct {
	id    string
	tsRaw string
	ts    time.Time
}

func (g *genericHMAC) readFields(req *Request) (genericFields, error) {
	var f genericFields
	if g.idHeader != "" {
		id, ok, err := singleHeader(req.Header, g.idHeader)
		if err != nil {
			return f, err
		}
		if !ok && g.usesID {
			return f, fail(ReasonMissingSignature, "%s is absent", g.idHeader)
		}
		f.id = id
	}
	if g.hasTimestamp() {
		raw, ok, err := g.timestampText(req)
		if err != nil {
			return f, err
		}
		if !ok {
			return f, fail(ReasonMissingSignature, "%s is absent", g.timestampSource())
		}
		ts, ok := parseTimestamp(g.tsFormat, raw)
		if !ok {
			return f, fail(ReasonMalformedSignature, "%s is not a %s timestamp", g.timestampSource(), g.tsFormat)
		}
		f.tsRaw, f.ts = raw, ts
	}
	return f, nil
}

func (g *genericHMAC) hasTimestamp() bool { return g.tsHeader != "" || g.tsParam != "" }

func (g *genericHMAC) timestampSource() string {
	if g.tsParam != "" {
		return g.header + " " + g.tsParam + "="
	}
	return g.tsHeader
}

// timestampText returns the timestamp as sent: its header, or the single
// "<param>=" element of the signature header.
func (g *genericHMAC) timestampText(req *Request) (string, bool, error) {
	if g.tsParam == "" {
		return singleHeader(req.Header, g.tsHeader)
	}
	value, ok, err := singleHeader(req.Header, g.header)
	if err != nil || !ok {
		return "", false, err
	}
	var (
		raw   string
		found int
	)
	for _, el := range strings.Split(value, ",") {
		if el = strings.TrimSpace(el); hasPrefixFoldASCII(el, g.tsParam+"=") {
			raw, found = el[len(g.tsParam)+1:], found+1
		}
	}
	if found > 1 {
		return "", false, fail(ReasonMalformedSignature, "%s has %d %s= elements", g.header, found, g.tsParam)
	}
	return raw, found == 1, nil
}

// matches reports whether one of keys made one of sigs over req's signed
// content; a template with {url} is tried with each URL the provider may
// have signed (signedurl.go).
func (g *genericHMAC) matches(keys, sigs [][]byte, req *Request, f genericFields) bool {
	if !g.usesURL {
		return anyKeyMatches(g.newHash, keys, sigs, func(h hash.Hash) { g.writeContent(h, req, f) })
	}
	for _, u := range g.urls.candidates(req) {
		r := *req
		r.URL = u
		if anyKeyMatches(g.newHash, keys, sigs, func(h hash.Hash) { g.writeContent(h, &r, f) }) {
			return true
		}
	}
	return false
}

// writeContent streams the template into h without building the whole
// signed string, since bodies may be large.
func (g *genericHMAC) writeContent(h hash.Hash, req *Request, f genericFields) {
	for _, s := range g.content {
		switch s.kind {
		case literal:
			h.Write([]byte(s.text))
		case phBody:
			h.Write(req.Body)
		case phTimestamp:
			h.Write([]byte(f.tsRaw))
		case phID:
			h.Write([]byte(f.id))
		case phMethod:
			h.Write([]byte(req.Method))
		case phURL:
			// A request without a URL signs as empty and so fails to
			// match, rather than panicking.
			if req.URL != nil {
				h.Write([]byte(req.URL.String()))
			}
		}
	}
}

// parseGenericSignature decodes a configured signature header: prefix, then
// the MAC in enc.
func parseGenericSignature(name, value, prefix string, enc encoding, size int) ([]byte, error) {
	return decodeSignature(name, value, prefix, enc, size)
}

// Timestamp formats of GenericHMACOptions.TimestampFormat.
const (
	TimestampUnix      = "unix"
	TimestampUnixMilli = "unix-ms"
	TimestampRFC3339   = "rfc3339"
	// TimestampISO8601UTC is an ISO 8601 local time read as UTC, with an
	// optional fraction and an optional zone (Orb: "2024-03-27T15:42:29.551").
	TimestampISO8601UTC = "iso8601-utc"
)

// iso8601Local is a zoneless ISO 8601 time with an optional fraction.
const iso8601Local = "2006-01-02T15:04:05.999999999"

// parseTimestamp reads a timestamp header in format.
func parseTimestamp(format, raw string) (time.Time, bool) {
	switch format {
	case TimestampUnixMilli:
		// Digits only, as for seconds, three more of them.
		if len(raw) == 0 || len(raw) > maxTimestampDigits+3 {
			return time.Time{}, false
		}
		var n int64
		for i := 0; i < len(raw); i++ {
			c := raw[i]
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			n = n*10 + int64(c-'0')
		}
		return time.UnixMilli(n).UTC(), true
	case TimestampRFC3339:
		if len(raw) > 64 {
			return time.Time{}, false
		}
		ts, err := time.Parse(time.RFC3339, raw)
		return ts.UTC(), err == nil
	case TimestampISO8601UTC:
		if len(raw) > 64 {
			return time.Time{}, false
		}
		if ts, err := time.ParseInLocation(iso8601Local, raw, time.UTC); err == nil {
			return ts.UTC(), true
		}
		ts, err := time.Parse(time.RFC3339, raw)
		return ts.UTC(), err == nil
	default:
		return parseUnixSeconds(raw)
	}
}

// formatTimestamp writes t as a provider in format would.
func formatTimestamp(format string, t time.Time) string {
	switch format {
	case TimestampUnixMilli:
		return strconv.FormatInt(t.UnixMilli(), 10)
	case TimestampRFC3339:
		return t.UTC().Format(time.RFC3339)
	case TimestampISO8601UTC:
		return t.UTC().Format("2006-01-02T15:04:05.000")
	default:
		return strconv.FormatInt(t.Unix(), 10)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// validHeaderName reports whether s is an RFC 9110 token, the only form a
// header field name can take.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
