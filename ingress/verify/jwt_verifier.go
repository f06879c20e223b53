package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// The JWT scheme (hookv1.SchemeJWT): the request carries a signed token
// (an OIDC ID token from Google for Pub/Sub push, GitHub Actions' OIDC
// token, an Entra ID access token from Event Grid, or any issuer's) and
// the receiver checks its signature with the issuer's published keys, then
// iss, aud, exp/nbf/iat (DefaultJWTLeeway) and the endpoint's exact
// claims. The keys come from the provider's JWKS URL or spec.jwt (never
// from the token: jku, jwk, x5u and x5c are refused).
//
// A token proves who sent the request and to whom, not what the body is:
// a captured request can be replayed, with any body, until the token
// expires (an hour for Google and Entra ID). Serve such endpoints over TLS.

// JWTOptions configure a SchemeJWT verifier (spec.jwt).
type JWTOptions struct {
	// Issuer is the accepted iss where the provider fixes none.
	Issuer string
	// Audiences accepted; required.
	Audiences []string
	// JWKSURL is the issuer's key set where the provider fixes none.
	JWKSURL string
	// Keys are inline keys (PEM, JWK or JWK Set), used instead of any URL.
	Keys [][]byte
	// Algorithms allowed; empty: the provider's, or all of JWTAlgorithms.
	Algorithms []string
	// Claims each must hold exactly this value.
	Claims map[string]string
	// Header carries the token; default Authorization ("Bearer <token>").
	Header string
	// Leeway on exp/nbf/iat; default DefaultJWTLeeway.
	Leeway time.Duration
	// Fetcher gets the JWKS; nil: DefaultFetcher.
	Fetcher *Fetcher
}

// CloudEvents webhook abuse protection (OPTIONS) headers,
// https://github.com/cloudevents/spec/blob/main/cloudevents/http-webhook.md#4-abuse-protection
const (
	WebHookRequestOriginHeader = "WebHook-Request-Origin"
	WebHookRequestRateHeader   = "WebHook-Request-Rate"
	WebHookAllowedOriginHeader = "WebHook-Allowed-Origin"
	WebHookAllowedRateHeader   = "WebHook-Allowed-Rate"
	// EventGridValidationEvent is the eventType of Event Grid's
	// subscription validation (Event Grid schema).
	EventGridValidationEvent = "Microsoft.EventGrid.SubscriptionValidationEvent"
)

func init() {
	registerScheme(hookv1.SchemeJWT, func(info hookv1.ProviderInfo, o Options) (Verifier, error) {
		v, err := newJWTVerifier(info, o.JWT)
		if err != nil {
			return nil, err
		}
		if o.EventGrid == nil {
			return v, nil
		}
		if info.Handshake.Kind != hookv1.HandshakeEventGrid {
			return nil, fmt.Errorf("spec.eventGrid: provider %s answers no Event Grid validation", info.Name)
		}
		switch o.EventGrid.Validation {
		case "", hookv1.EventGridValidationCode, hookv1.EventGridValidationURL:
		default:
			return nil, fmt.Errorf("spec.eventGrid.validation %q is not Code or URL", o.EventGrid.Validation)
		}
		v.eventGrid = o.EventGrid
		return v, nil
	})
}

type jwtVerifier struct {
	issuers   []string
	audiences []string
	jwksURL   string
	static    []publicKey
	algs      map[string]bool
	claims    map[string]string
	header    string
	leeway    time.Duration
	fetcher   *Fetcher
	idField   string
	handshake hookv1.Handshake
	ceOrigin  string
	// eventGrid is the validation mode (spec.eventGrid); nil: Code.
	eventGrid *EventGridOptions
}

func newJWTVerifier(info hookv1.ProviderInfo, o *JWTOptions) (*jwtVerifier, error) {
	r := info.JWT
	if r == nil {
		return nil, fmt.Errorf("provider %s has no JWT recipe", info.Name)
	}
	o = withJWTRecipe(r, o)
	if len(o.Audiences) == 0 {
		return nil, fmt.Errorf("provider %s needs spec.jwt.audiences", info.Name)
	}
	v := &jwtVerifier{
		audiences: o.Audiences, claims: o.Claims, header: orDefault(o.Header, hookv1.DefaultJWTHeader),
		leeway: o.Leeway, fetcher: o.Fetcher.orDefault(), idField: r.IDField,
		handshake: info.Handshake.Kind, ceOrigin: r.CloudEventsOrigin, algs: map[string]bool{},
	}
	if v.leeway <= 0 {
		v.leeway = DefaultJWTLeeway
	}
	switch {
	case len(r.Issuers) > 0:
		if o.Issuer != "" && !contains(r.Issuers, o.Issuer) {
			return nil, fmt.Errorf("spec.jwt.issuer: provider %s's issuer is fixed (%s)", info.Name, strings.Join(r.Issuers, ", "))
		}
		v.issuers = r.Issuers
	case o.Issuer != "":
		v.issuers = []string{o.Issuer}
	default:
		return nil, fmt.Errorf("provider %s needs spec.jwt.issuer", info.Name)
	}
	switch {
	case len(o.Keys) > 0:
		for i, k := range o.Keys {
			keys, err := parseKeySet(k)
			if err != nil {
				return nil, fmt.Errorf("spec.jwt.keys[%d]: %w", i, err)
			}
			v.static = append(v.static, keys...)
		}
	case r.JWKSURL != "":
		v.jwksURL = r.JWKSURL
	case o.JWKSURL != "":
		if !strings.HasPrefix(o.JWKSURL, "https://") {
			return nil, fmt.Errorf("spec.jwt.jwksURL must be an https URL")
		}
		v.jwksURL = o.JWKSURL
	default:
		return nil, fmt.Errorf("provider %s needs spec.jwt.jwksURL or spec.jwt.keys", info.Name)
	}
	allowed := JWTAlgorithms
	if len(r.Algorithms) > 0 {
		allowed = r.Algorithms
	}
	for _, a := range allowed {
		if len(o.Algorithms) == 0 || contains(o.Algorithms, a) {
			v.algs[a] = true
		}
	}
	if len(v.algs) == 0 {
		return nil, fmt.Errorf("spec.jwt.algorithms: none of %v is allowed for provider %s (%v)", o.Algorithms, info.Name, allowed)
	}
	return v, nil
}

// withJWTRecipe returns the endpoint's options completed by what the
// recipe fixes beyond issuers and JWKS URL (a WebhookProvider's): keys and
// audiences when the endpoint names none, the header when it names none,
// and the recipe's claims, which the endpoint's cannot override.
func withJWTRecipe(r *hookv1.JWTRecipe, o *JWTOptions) *JWTOptions {
	out := JWTOptions{}
	if o != nil {
		out = *o
	}
	if len(out.Audiences) == 0 {
		out.Audiences = r.Audiences
	}
	if len(out.Keys) == 0 {
		for _, k := range r.Keys {
			out.Keys = append(out.Keys, []byte(k))
		}
	}
	if out.Header == "" {
		out.Header = r.Header
	}
	if len(r.Claims) > 0 {
		claims := make(map[string]string, len(out.Claims)+len(r.Claims))
		for k, v := range out.Claims {
			claims[k] = v
		}
		for k, v := range r.Claims {
			claims[k] = v
		}
		out.Claims = claims
	}
	return &out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Verify implements Verifier. keys are not used: the keys are the issuer's.
func (v *jwtVerifier) Verify(req *Request, _ [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	token, err := v.token(req)
	if err != nil {
		return Result{}, err
	}
	t, err := parseJWT(token)
	if err != nil {
		return Result{}, err
	}
	if !v.algs[t.header.Alg] {
		return Result{}, fail(ReasonMalformedSignature, "alg %s is not allowed for this endpoint", t.header.Alg)
	}
	if err := v.checkSignature(t, now); err != nil {
		return Result{}, err
	}
	if err := v.checkClaims(t, now); err != nil {
		return Result{}, err
	}
	if hs, ok, err := v.answerHandshake(req); ok || err != nil {
		return Result{Handshake: hs}, err
	}
	if req.Method != http.MethodPost {
		return Result{}, fail(ReasonMissingSignature, "a %s request is not a handshake of this provider", req.Method)
	}
	return Result{DeliveryID: v.deliveryID(req)}, nil
}

// token reads the token from the configured header.
func (v *jwtVerifier) token(req *Request) (string, error) {
	value, present, err := singleHeader(req.Header, v.header)
	if err != nil {
		return "", err
	}
	if !present {
		return "", fail(ReasonMissingSignature, "header %s is absent", v.header)
	}
	if !strings.EqualFold(v.header, hookv1.DefaultJWTHeader) {
		return value, nil
	}
	scheme, tok, ok := strings.Cut(value, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fail(ReasonMalformedSignature, "%s is not \"Bearer <token>\"", v.header)
	}
	return strings.TrimSpace(tok), nil
}

// maxKeyTries bounds the keys tried for a token without a kid.
const maxKeyTries = 8

func (v *jwtVerifier) keySet(now time.Time, force bool) ([]publicKey, error) {
	if v.static != nil {
		return v.static, nil
	}
	got, err := v.fetcher.get(v.jwksURL, now, force, func(b []byte) (any, error) { return parseKeySet(b) })
	if err != nil {
		return nil, err
	}
	return got.([]publicKey), nil
}

func (v *jwtVerifier) checkSignature(t *parsedJWT, now time.Time) error {
	keys, err := v.keySet(now, false)
	if err != nil {
		return fail(ReasonNoUsableKey, "the issuer's keys are unavailable: %v", err)
	}
	cands := candidates(keys, t.header)
	if len(cands) == 0 && t.header.Kid != "" && v.static == nil {
		// A key the issuer has just rotated in: refetch, at most once per
		// Fetcher.MinRefresh however many tokens ask.
		if keys, err = v.keySet(now, true); err == nil {
			cands = candidates(keys, t.header)
		}
	}
	if len(cands) == 0 {
		if t.header.Kid != "" {
			return fail(ReasonSignatureMismatch, "no key of the issuer has kid %q and fits %s", truncate(t.header.Kid, 64), t.header.Alg)
		}
		return fail(ReasonSignatureMismatch, "no key of the issuer fits %s", t.header.Alg)
	}
	for i, k := range cands {
		if i >= maxKeyTries {
			break
		}
		if t.verifySignature(k.key) {
			return nil
		}
	}
	return fail(ReasonSignatureMismatch, "the token's signature matches none of %d keys", len(cands))
}

// candidates are the keys that may have signed t: those with its kid (all
// when it names none), of the algorithm's type, and of its alg when the
// JWK names one.
func candidates(keys []publicKey, h jwtHeader) []publicKey {
	var out []publicKey
	for _, k := range keys {
		if h.Kid != "" && k.kid != "" && k.kid != h.Kid {
			continue
		}
		if h.Kid != "" && k.kid == "" && hasKid(keys, h.Kid) {
			continue
		}
		if (k.alg != "" && k.alg != h.Alg) || !keyFitsAlg(k.key, h.Alg) {
			continue
		}
		out = append(out, k)
	}
	return out
}

func hasKid(keys []publicKey, kid string) bool {
	for _, k := range keys {
		if k.kid == kid {
			return true
		}
	}
	return false
}

func (v *jwtVerifier) checkClaims(t *parsedJWT, now time.Time) error {
	c, err := t.registered()
	if err != nil {
		return err
	}
	if !contains(v.issuers, c.iss) {
		return fail(ReasonSignatureMismatch, "iss %q is not the endpoint's issuer", truncate(c.iss, 128))
	}
	aud := false
	for _, a := range c.aud {
		aud = aud || contains(v.audiences, a)
	}
	if !aud {
		return fail(ReasonSignatureMismatch, "aud names none of the endpoint's audiences")
	}
	if !c.hasExp {
		return fail(ReasonMalformedSignature, "the token has no exp")
	}
	if !now.Before(c.exp.Add(v.leeway)) {
		return fail(ReasonTimestampOutOfRange, "the token expired at %s", c.exp.Format(time.RFC3339))
	}
	if !c.nbf.IsZero() && now.Add(v.leeway).Before(c.nbf) {
		return fail(ReasonTimestampOutOfRange, "the token is not valid before %s", c.nbf.Format(time.RFC3339))
	}
	if !c.iat.IsZero() && now.Add(v.leeway).Before(c.iat) {
		return fail(ReasonTimestampOutOfRange, "the token was issued in the future (%s)", c.iat.Format(time.RFC3339))
	}
	for name, want := range v.claims {
		if !t.claimMatches(name, want) {
			return fail(ReasonSignatureMismatch, "claim %s does not have the endpoint's value", truncate(name, 64))
		}
	}
	return nil
}

// answerHandshake answers Event Grid's validations, only ever after the
// request's token verified.
func (v *jwtVerifier) answerHandshake(req *Request) (*Handshake, bool, error) {
	if v.handshake != hookv1.HandshakeEventGrid {
		return nil, false, nil
	}
	if req.Method == http.MethodOptions {
		hs, err := v.answerAbuseProtection(req)
		return hs, true, err
	}
	return answerEventGridValidation(v.eventGrid, req.Body)
}

// answerAbuseProtection answers the CloudEvents webhook validation
// (OPTIONS) for the provider's origin only.
func (v *jwtVerifier) answerAbuseProtection(req *Request) (*Handshake, error) {
	origin, present, err := singleHeader(req.Header, WebHookRequestOriginHeader)
	if err != nil {
		return nil, err
	}
	if !present {
		return nil, fail(ReasonMissingSignature, "an OPTIONS request without %s is no abuse-protection handshake", WebHookRequestOriginHeader)
	}
	if v.ceOrigin == "" || !strings.EqualFold(origin, v.ceOrigin) {
		return nil, fail(ReasonSignatureMismatch, "%s %q is not this provider's origin", WebHookRequestOriginHeader, truncate(origin, 64))
	}
	h := http.Header{}
	h.Set(WebHookAllowedOriginHeader, v.ceOrigin)
	h.Set(WebHookAllowedRateHeader, "*")
	h.Set("Allow", "POST, OPTIONS")
	return &Handshake{Status: http.StatusOK, Header: h}, nil
}

func (v *jwtVerifier) deliveryID(req *Request) string {
	if v.idField != "" {
		return jsonPathString(req.Body, v.idField)
	}
	if v.handshake != hookv1.HandshakeEventGrid {
		return ""
	}
	// CloudEvents binary mode names the event in ce-id; structured mode and
	// Event Grid schema in the body (one event; a batch has no one id).
	if id := firstHeader(req.Header, "ce-id"); id != "" {
		return id
	}
	b := bytes.TrimSpace(req.Body)
	if len(b) > 0 && b[0] == '[' {
		var events []json.RawMessage
		if json.Unmarshal(b, &events) != nil || len(events) != 1 {
			return ""
		}
		b = events[0]
	}
	return jsonPathString(b, "id")
}
