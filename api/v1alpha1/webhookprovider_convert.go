package v1alpha1

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A WebhookProvider and a table-driven built-in entry are the same data:
// WebhookProviderSpec.ProviderInfo turns a resource into a table entry (what
// ingress/verify builds a verifier from, verify.NewFromInfo), and
// WebhookProviderSpecFromInfo writes a built-in entry as a resource. A
// round trip of every table-driven built-in through the CRD's validation
// and back (controllers/webhookprovider_test.go) proves the built-ins fit
// the schema.

// TableDriven reports whether a scheme's verification is all data, so a
// WebhookProvider may use it.
func (s Scheme) TableDriven() bool {
	return s == SchemeHMAC || s == SchemeToken || s == SchemeJWT
}

// handshakeMethods is the method each table-driven handshake arrives with,
// keyed by the scheme that answers it (the CEL rules on WebhookProviderSpec
// say the same).
var handshakeMethods = map[Scheme]map[Handshake]string{
	SchemeHMAC: {
		HandshakeMetaSubscribe: "GET", HandshakeXCRC: "GET", HandshakeDropboxChallenge: "GET", HandshakeHeadCheck: "HEAD",
	},
	SchemeToken: {HandshakeOktaChallenge: "GET", HandshakeMailchimpValidator: "GET"},
	SchemeJWT:   {HandshakeEventGrid: "OPTIONS"},
}

// ProviderInfo is the table entry the spec describes, named name (the
// WebhookProvider's metadata.name), with the defaults of unset fields
// filled in: key kind and format by scheme, the signature header from the
// recipe, a 5m replay window when the recipe signs a timestamp.
func (s *WebhookProviderSpec) ProviderInfo(name string) ProviderInfo {
	c := s.DeepCopy()
	info := ProviderInfo{
		Name: Provider(name), DisplayName: c.DisplayName, Docs: c.Docs, Scheme: c.Scheme,
		Signature: c.Signature, DeliveryID: c.DeliveryID, Key: c.Key, Handshake: c.Handshake,
		Timestamp: TimestampInfo{Source: c.Timestamp.Source}, EventType: c.EventType,
		HMAC: c.HMAC, Token: c.Token, JWT: c.JWT,
	}
	switch {
	case c.Timestamp.ReplayWindow != nil:
		info.Timestamp.DefaultWindow = c.Timestamp.ReplayWindow.Duration
	case c.signsTimestamp():
		info.Timestamp.DefaultWindow = DefaultReplayTolerance
	}
	if info.Key.Kind == "" {
		info.Key.Kind = c.defaultKeyKind()
	}
	if info.Key.Format == "" {
		switch info.Key.Kind {
		case KeyBasic:
			info.Key.Format = KeyFormatUserPassword
		case KeyIssuerKeys:
			info.Key.Format = KeyFormatJWKS
		default:
			info.Key.Format = KeyFormatRaw
		}
	}
	if len(info.Signature.Headers) == 0 {
		if h := c.recipeHeader(); h != "" {
			info.Signature.Headers = []string{h}
		}
	}
	return info
}

func (s *WebhookProviderSpec) signsTimestamp() bool {
	return s.HMAC != nil && (s.HMAC.TimestampHeader != "" || s.HMAC.TimestampParam != "")
}

func (s *WebhookProviderSpec) defaultKeyKind() KeyKind {
	switch s.Scheme {
	case SchemeToken:
		if s.Token != nil && s.Token.Header == "" && s.Token.Query == "" && s.Token.AllowBasic {
			return KeyBasic
		}
		return KeyToken
	case SchemeJWT:
		return KeyIssuerKeys
	}
	return KeySharedSecret
}

func (s *WebhookProviderSpec) recipeHeader() string {
	switch {
	case s.HMAC != nil:
		return s.HMAC.Header
	case s.Token != nil && s.Token.Header != "":
		return s.Token.Header
	case s.Token != nil && s.Token.AllowBasic:
		return "Authorization"
	case s.JWT != nil && s.JWT.Header != "":
		return s.JWT.Header
	case s.JWT != nil:
		return DefaultJWTHeader
	}
	return ""
}

// ErrHandshakeNotTableDriven: the entry's scheme is table-driven but its
// handshake is answered by code of its own (Asana's X-Hook-Secret, which the
// receiver captures), so no WebhookProvider can say it.
var ErrHandshakeNotTableDriven = errors.New("the handshake is not table-driven")

// WebhookProviderSpecFromInfo writes a table-driven entry (SchemeHMAC,
// SchemeToken, SchemeJWT) as a WebhookProvider spec. Entries whose schemes
// have code of their own cannot be written so.
func WebhookProviderSpecFromInfo(info ProviderInfo) (WebhookProviderSpec, error) {
	if !info.Scheme.TableDriven() {
		return WebhookProviderSpec{}, fmt.Errorf("provider %s: scheme %q is not table-driven", info.Name, info.Scheme)
	}
	if info.Signature.URL || info.Key.PublicKeysOptional {
		return WebhookProviderSpec{}, fmt.Errorf("provider %s: signs the URL or takes public keys, which no WebhookProvider field says", info.Name)
	}
	if _, ok := handshakeMethods[info.Scheme][info.Handshake.Kind]; info.Handshake.Kind != "" && !ok {
		return WebhookProviderSpec{}, fmt.Errorf("provider %s: %w: %s", info.Name, ErrHandshakeNotTableDriven, info.Handshake.Kind)
	}
	s := WebhookProviderSpec{
		DisplayName: info.DisplayName, Docs: info.Docs, Scheme: info.Scheme,
		Signature: *info.Signature.DeepCopy(), DeliveryID: info.DeliveryID, Key: info.Key, Handshake: info.Handshake,
		Timestamp: ProviderTimestamp{Source: info.Timestamp.Source}, EventType: info.EventType,
		HMAC: info.HMAC.DeepCopy(), Token: info.Token.DeepCopy(), JWT: info.JWT.DeepCopy(),
	}
	if info.Timestamp.DefaultWindow > 0 {
		s.Timestamp.ReplayWindow = &metav1.Duration{Duration: info.Timestamp.DefaultWindow}
	}
	return s, nil
}

// Validate checks the spec as the CRD's rules do, and what they cannot:
// that headers are HTTP tokens, that the signed-content template parses,
// that inline JWT keys decode. An object admitted before a CRD upgrade, or
// read from the edge registry, gets the same answer as a new one. The
// receiver's verifier (verify.NewFromInfo) checks the same and more;
// ingress/verify's TestWebhookProviderValidateAgreesWithTheVerifier keeps
// the two in step.
func (s *WebhookProviderSpec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.DisplayName == "" {
		bad("spec.displayName is required")
	}
	if s.Docs != "" {
		if u, err := url.Parse(s.Docs); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("spec.docs must be an https URL")
		}
	}
	if !s.Scheme.TableDriven() {
		bad("spec.scheme %q is not one of hmac, token, jwt", s.Scheme)
	}
	for _, r := range []struct {
		field  string
		set    bool
		scheme Scheme
	}{{"spec.hmac", s.HMAC != nil, SchemeHMAC}, {"spec.token", s.Token != nil, SchemeToken}, {"spec.jwt", s.JWT != nil, SchemeJWT}} {
		switch {
		case r.set && s.Scheme != r.scheme:
			bad("%s is only used by scheme %s", r.field, r.scheme)
		case !r.set && s.Scheme == r.scheme:
			bad("scheme %s needs %s", r.scheme, r.field)
		}
	}
	if s.HMAC != nil {
		errs = append(errs, s.HMAC.validate()...)
	}
	if s.Token != nil {
		errs = append(errs, s.Token.validate()...)
	}
	if s.JWT != nil {
		errs = append(errs, s.JWT.validate()...)
	}
	errs = append(errs, s.validateKeyAndHandshake()...)
	errs = append(errs, s.EventType.validate()...)
	if w := s.Timestamp.ReplayWindow; w != nil {
		switch {
		case !s.signsTimestamp():
			bad("spec.timestamp.replayWindow needs a signed timestamp: spec.hmac.timestampHeader or spec.hmac.timestampParam")
		case w.Duration <= 0:
			bad("spec.timestamp.replayWindow must be positive")
		}
	}
	return errors.Join(errs...)
}

func (s *WebhookProviderSpec) validateKeyAndHandshake() []error {
	var errs []error
	k := s.Key
	kinds := map[Scheme][]KeyKind{SchemeHMAC: {KeySharedSecret}, SchemeToken: {KeyToken, KeyBasic}, SchemeJWT: {KeyIssuerKeys}}
	formats := map[Scheme][]KeyFormat{
		SchemeHMAC:  {KeyFormatRaw, KeyFormatHex, KeyFormatBase64, KeyFormatVerifyTokenSecret},
		SchemeToken: {KeyFormatRaw, KeyFormatHex, KeyFormatUserPassword},
		SchemeJWT:   {KeyFormatJWKS},
	}
	if k.Kind != "" && !oneOf(k.Kind, kinds[s.Scheme]) {
		errs = append(errs, fmt.Errorf("spec.key.kind %q is not for scheme %s (%v)", k.Kind, s.Scheme, kinds[s.Scheme]))
	}
	if k.Format != "" && !oneOf(k.Format, formats[s.Scheme]) {
		errs = append(errs, fmt.Errorf("spec.key.format %q is not for scheme %s (%v)", k.Format, s.Scheme, formats[s.Scheme]))
	}
	if k.ReceiverChooses && (s.Scheme == SchemeJWT || k.Format != KeyFormatHex) {
		errs = append(errs, errors.New("spec.key.receiverChooses needs spec.key.format hex, the form the controller generates (and is not for jwt)"))
	}
	h := s.Handshake
	switch want, ok := handshakeMethods[s.Scheme][h.Kind]; {
	case h.Kind == "" && h.Method != "":
		errs = append(errs, errors.New("spec.handshake.method is only set with spec.handshake.kind"))
	case h.Kind != "" && !ok:
		errs = append(errs, fmt.Errorf("spec.handshake.kind %q is not answered by scheme %s", h.Kind, s.Scheme))
	case h.Kind != "" && h.Method != want:
		errs = append(errs, fmt.Errorf("spec.handshake.method must be %s for %s", want, h.Kind))
	}
	return errs
}

func oneOf[T comparable](v T, list []T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// signedContentPlaceholders are the placeholders of a signed-content
// template, as ingress/verify's parser knows them.
var signedContentPlaceholders = []string{"body", "timestamp", "id", "url", "method"}

func (r *HMACRecipe) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("spec.hmac: "+format, args...)) }
	for _, h := range []struct{ field, name string }{{"header", r.Header}, {"timestampHeader", r.TimestampHeader}, {"idHeader", r.IDHeader}} {
		if h.name != "" && !isHTTPToken(h.name) {
			bad("%s %q is not a valid HTTP header name", h.field, h.name)
		}
	}
	if r.Header == "" {
		bad("header is required")
	}
	if !oneOf(r.Algorithm, []string{"sha1", "sha256", "sha512"}) {
		bad("algorithm %q is not sha1, sha256 or sha512", r.Algorithm)
	}
	if !oneOf(r.Encoding, []string{"hex", "base64"}) {
		bad("encoding %q is not hex or base64", r.Encoding)
	}
	if !oneOf(r.TimestampFormat, []string{"", "unix", "unix-ms", "rfc3339", "iso8601-utc"}) {
		bad("timestampFormat %q is not unix, unix-ms, rfc3339 or iso8601-utc", r.TimestampFormat)
	}
	if !oneOf(r.KeyEncoding, []string{"", "base64"}) {
		bad("keyEncoding %q is not base64", r.KeyEncoding)
	}
	hasTS := r.TimestampHeader != "" || r.TimestampParam != ""
	switch {
	case r.TimestampHeader != "" && r.TimestampParam != "":
		bad("set timestampHeader or timestampParam, not both")
	case r.TimestampParam != "" && r.ListSeparator == "":
		bad("timestampParam names an element of a list-form signature header: set listSeparator too")
	case r.TimestampFormat != "" && !hasTS:
		bad("timestampFormat needs timestampHeader or timestampParam")
	}
	if r.IDHeader != "" && strings.EqualFold(r.IDHeader, r.Header) {
		bad("idHeader must differ from header")
	}
	if r.TimestampHeader != "" && strings.EqualFold(r.TimestampHeader, r.Header) {
		bad("timestampHeader must differ from header")
	}
	if r.IDHeader != "" && r.IDField != "" {
		bad("set idHeader or idField, not both")
	}
	content := r.SignedContent
	if content == "" {
		content = "{body}"
	}
	used, err := templatePlaceholders(content)
	switch {
	case err != nil:
		bad("signedContent: %v", err)
	case !used["body"]:
		bad("signedContent must include {body}, or the payload is not authenticated")
	case used["timestamp"] != hasTS:
		bad("signedContent must use {timestamp} exactly when timestampHeader or timestampParam is set")
	case used["id"] && r.IDHeader == "":
		bad("signedContent uses {id}: set idHeader")
	}
	return errs
}

// templatePlaceholders returns the placeholders a template uses; a brace
// that opens no known placeholder is an error, as in ingress/verify.
func templatePlaceholders(t string) (map[string]bool, error) {
	used := map[string]bool{}
	for rest := t; rest != ""; {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			break
		}
		if rest[open] == '}' {
			return nil, fmt.Errorf("%q: '}' opens nothing", t)
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("%q: '{' is never closed", t)
		}
		name := rest[open+1 : open+end]
		if !oneOf(name, signedContentPlaceholders) {
			return nil, fmt.Errorf("%q: unknown placeholder {%s}; use {body}, {timestamp}, {id}, {url} or {method}", t, name)
		}
		used[name] = true
		rest = rest[open+end+1:]
	}
	return used, nil
}

// eventTypeFormField is the CRD's pattern of EventTypeInfo.FormField.
var eventTypeFormField = regexp.MustCompile(`^[A-Za-z0-9_.\[\]-]+$`)

func (e EventTypeInfo) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("spec.eventType: "+format, args...)) }
	if e.Header != "" && !isHTTPToken(e.Header) {
		bad("header %q is not a valid HTTP header name", e.Header)
	}
	if e.JSONField != "" && slices.Contains(strings.Split(e.JSONField, "."), "") {
		bad("jsonField %q is not a path of object keys joined by dots", e.JSONField)
	}
	if e.FormField != "" && !eventTypeFormField.MatchString(e.FormField) {
		bad("formField %q may hold only letters, digits and _.[]-", e.FormField)
	}
	return errs
}

func (r *TokenRecipe) validate() []error {
	var errs []error
	if r.Header == "" && r.Query == "" && !r.AllowBasic {
		errs = append(errs, errors.New("spec.token needs a header, a query parameter or allowBasic: where the credential travels"))
	}
	if r.Header != "" && !isHTTPToken(r.Header) {
		errs = append(errs, fmt.Errorf("spec.token.header %q is not a valid HTTP header name", r.Header))
	}
	return errs
}

func (r *JWTRecipe) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("spec.jwt: "+format, args...)) }
	if len(r.Issuers) == 0 {
		bad("issuers is required")
	}
	switch {
	case r.JWKSURL != "" && len(r.Keys) > 0:
		bad("set jwksURL or keys, not both")
	case r.JWKSURL == "" && len(r.Keys) == 0:
		bad("the issuer's keys are required: jwksURL (https) or keys")
	case r.JWKSURL != "":
		if u, err := url.Parse(r.JWKSURL); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("jwksURL must be an https URL")
		}
	}
	for i, k := range r.Keys {
		if err := decodesAsPublicKey([]byte(k)); err != nil {
			bad("keys[%d]: %v", i, err)
		}
	}
	if r.Header != "" && !isHTTPToken(r.Header) {
		bad("header %q is not a valid HTTP header name", r.Header)
	}
	return errs
}

// decodesAsPublicKey is a first look at an inline key: PEM public keys or
// certificates that parse, or a JSON object (a JWK or a JWK Set, which the
// receiver parses in full).
func decodesAsPublicKey(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var v map[string]json.RawMessage
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
		if _, ok := v["keys"]; !ok {
			if _, ok := v["kty"]; !ok {
				return errors.New(`a JSON key needs "kty" (a JWK) or "keys" (a JWK Set)`)
			}
		}
		return nil
	}
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		n++
		var err error
		switch blk.Type {
		case "PUBLIC KEY":
			_, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "CERTIFICATE":
			_, err = x509.ParseCertificate(blk.Bytes)
		case "RSA PUBLIC KEY":
			_, err = x509.ParsePKCS1PublicKey(blk.Bytes)
		default:
			err = fmt.Errorf("PEM block %q is not a public key or certificate", blk.Type)
		}
		if err != nil {
			return err
		}
	}
	if n == 0 {
		return errors.New("neither PEM nor a JWK")
	}
	return nil
}

// isHTTPToken reports whether s is an RFC 9110 token, the syntax of a
// header name.
func isHTTPToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// KeysFromIssuer reports whether the entry's keys come from its issuer (a
// JWKS, a certificate URL) or spec.jwt, not from a Secret.
func (i ProviderInfo) KeysFromIssuer() bool { return i.Key.Kind == KeyIssuerKeys }

// VerifiesWithPublicKeysOnly is WebhookEndpointSpec.VerifiesWithPublicKeysOnly
// for the entry the endpoint resolved to (a built-in or a WebhookProvider).
func (i ProviderInfo) VerifiesWithPublicKeysOnly(s *WebhookEndpointSpec) bool {
	return i.Key.Kind == KeyPublicKey || i.KeysFromIssuer() ||
		(i.Key.PublicKeysOptional && s.SecretRef == nil && len(s.PublicKeys) > 0)
}

// ProviderName names the endpoint's provider for people: spec.provider,
// or "WebhookProvider <name>".
func (s *WebhookEndpointSpec) ProviderName() string {
	if s.ProviderRef != nil {
		return "WebhookProvider " + s.ProviderRef.Name
	}
	return string(s.Provider)
}

// CheckEndpoint says what of an endpoint's spec does not fit the
// WebhookProvider it references: what the CRD's rules check against
// spec.provider, they cannot check against another object.
func (i ProviderInfo) CheckEndpoint(s *WebhookEndpointSpec) error {
	var errs []error
	if !i.KeysFromIssuer() && s.SecretRef == nil {
		errs = append(errs, fmt.Errorf("spec.secretRef is required: WebhookProvider %s verifies with a %s", i.Name, i.Key.Kind))
	}
	if i.Scheme == SchemeJWT {
		if (s.JWT == nil || len(s.JWT.Audiences) == 0) && (i.JWT == nil || len(i.JWT.Audiences) == 0) {
			errs = append(errs, fmt.Errorf("spec.jwt.audiences is required: WebhookProvider %s fixes no audiences", i.Name))
		}
	} else if s.JWT != nil {
		errs = append(errs, fmt.Errorf("spec.jwt is only used with a jwt provider; WebhookProvider %s is %s", i.Name, i.Scheme))
	}
	if s.Rotation != nil && !i.Key.ReceiverChooses {
		errs = append(errs, fmt.Errorf("spec.rotation needs a provider where the receiver chooses the secret; WebhookProvider %s has no spec.key.receiverChooses", i.Name))
	}
	if s.SignedURL != "" && !i.SignsURL() {
		errs = append(errs, fmt.Errorf("spec.signedURL is only used when the signature covers the URL; WebhookProvider %s's signedContent has no {url}", i.Name))
	}
	if s.EventGrid != nil && i.Handshake.Kind != HandshakeEventGrid {
		errs = append(errs, fmt.Errorf("spec.eventGrid is only used with Event Grid's validation; WebhookProvider %s's handshake is not %s", i.Name, HandshakeEventGrid))
	}
	return errors.Join(errs...)
}
