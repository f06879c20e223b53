package eventsapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

// Defaults of AuthorizerOptions.
const (
	DefaultAuthenticatedTTL   = 10 * time.Second
	DefaultUnauthenticatedTTL = 2 * time.Second
	DefaultDecisionTTL        = 10 * time.Second
	DefaultMaxCacheEntries    = 10000
)

// ErrNoToken is Authenticate's error for a request with no bearer token.
var ErrNoToken = errors.New("no bearer token")

// ErrUnauthenticated is Authenticate's error for a token the TokenReview
// did not accept (unknown, expired, revoked, or not for the audiences).
var ErrUnauthenticated = errors.New("the bearer token was not accepted")

// ReviewClient creates TokenReviews and SubjectAccessReviews. The
// manager's client.Client (mgr.GetClient()) is one: creates are not cached
// and go to the API server, which fills in the review's status.
type ReviewClient interface {
	Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error
}

// AuthorizerOptions tunes an Authorizer; zero values take the defaults.
type AuthorizerOptions struct {
	// Audiences the token must be valid for (TokenReview spec.audiences).
	// None: the API server's own audiences, as for a token kubectl sends.
	Audiences []string
	// AuthenticatedTTL is how long an accepted token's user is remembered
	// (default 10 s), UnauthenticatedTTL a refused token (default 2 s).
	AuthenticatedTTL   time.Duration
	UnauthenticatedTTL time.Duration
	// DecisionTTL is how long a SubjectAccessReview's answer, allowed or
	// not, is remembered (default 10 s).
	DecisionTTL time.Duration
	// MaxCacheEntries bounds each cache, tokens and decisions (default 10000).
	MaxCacheEntries int
}

// Authorizer authenticates the callers of the events API with TokenReviews
// and authorizes them with SubjectAccessReviews, remembering both for a few
// seconds. It is safe for concurrent use.
type Authorizer struct {
	c         ReviewClient
	o         AuthorizerOptions
	tokens    *ttlCache[tokenResult]
	decisions *ttlCache[bool]
	now       func() time.Time
}

type tokenResult struct {
	user          authenticationv1.UserInfo
	authenticated bool
}

// NewAuthorizer returns an Authorizer that creates its reviews with c,
// which needs RBAC to create tokenreviews (authentication.k8s.io) and
// subjectaccessreviews (authorization.k8s.io).
func NewAuthorizer(c ReviewClient, o AuthorizerOptions) *Authorizer {
	if o.AuthenticatedTTL == 0 {
		o.AuthenticatedTTL = DefaultAuthenticatedTTL
	}
	if o.UnauthenticatedTTL == 0 {
		o.UnauthenticatedTTL = DefaultUnauthenticatedTTL
	}
	if o.DecisionTTL == 0 {
		o.DecisionTTL = DefaultDecisionTTL
	}
	if o.MaxCacheEntries <= 0 {
		o.MaxCacheEntries = DefaultMaxCacheEntries
	}
	o.Audiences = slices.Clone(o.Audiences)
	return &Authorizer{
		c: c, o: o,
		tokens:    newTTLCache[tokenResult](o.MaxCacheEntries),
		decisions: newTTLCache[bool](o.MaxCacheEntries),
		now:       time.Now,
	}
}

// BearerToken returns the request's bearer token: from
// X-Hookgate-Authorization, which the API server's service proxy passes on,
// else from Authorization. When both carry a token, the X-Hookgate one wins
// (it is the one the client set for this API; Authorization may belong to
// a proxy on the way). "" when neither carries "Bearer <token>".
func BearerToken(r *http.Request) string {
	if t := bearer(r.Header.Get(eventsv1.AuthorizationHeader)); t != "" {
		return t
	}
	return bearer(r.Header.Get("Authorization"))
}

func bearer(v string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Authenticate returns who sent r: ErrNoToken without a bearer token,
// ErrUnauthenticated when the TokenReview refuses it, another error when
// the review could not be made.
func (a *Authorizer) Authenticate(ctx context.Context, r *http.Request) (authenticationv1.UserInfo, error) {
	tok := BearerToken(r)
	if tok == "" {
		return authenticationv1.UserInfo{}, ErrNoToken
	}
	return a.AuthenticateToken(ctx, tok)
}

// AuthenticateToken reviews a bearer token, or answers from the cache.
func (a *Authorizer) AuthenticateToken(ctx context.Context, token string) (authenticationv1.UserInfo, error) {
	key := sha256.Sum256([]byte(token))
	if res, ok := a.tokens.get(key, a.now()); ok {
		if !res.authenticated {
			return authenticationv1.UserInfo{}, ErrUnauthenticated
		}
		return res.user, nil
	}
	tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: a.o.Audiences}}
	if err := a.c.Create(ctx, tr); err != nil {
		// The error is the API server's; it does not repeat the token.
		return authenticationv1.UserInfo{}, fmt.Errorf("creating a TokenReview: %w", err)
	}
	res := tokenResult{user: tr.Status.User, authenticated: tr.Status.Authenticated && tr.Status.User.Username != ""}
	// An authenticator that ignores audiences answers with none: the
	// caller must check that the token is meant for one of ours.
	if res.authenticated && len(a.o.Audiences) > 0 && !slices.ContainsFunc(tr.Status.Audiences, func(s string) bool {
		return slices.Contains(a.o.Audiences, s)
	}) {
		res.authenticated = false
	}
	if res.authenticated {
		a.tokens.put(key, res, a.o.AuthenticatedTTL, a.now())
		return res.user, nil
	}
	a.tokens.put(key, tokenResult{}, a.o.UnauthenticatedTTL, a.now())
	return authenticationv1.UserInfo{}, ErrUnauthenticated
}

// Allowed reports whether user may use verb on the subresource of the
// WebhookEndpoint namespace/name (eventsv1.RBACGroup, RBACResource), by a
// SubjectAccessReview for exactly that user, or from the cache.
func (a *Authorizer) Allowed(ctx context.Context, user authenticationv1.UserInfo, namespace, name, subresource, verb string) (bool, error) {
	attrs := authorizationv1.ResourceAttributes{
		Namespace: namespace, Verb: verb, Group: eventsv1.RBACGroup,
		Resource: eventsv1.RBACResource, Subresource: subresource, Name: name,
	}
	key, err := decisionKey(user, attrs)
	if err != nil {
		return false, err
	}
	if ok, hit := a.decisions.get(key, a.now()); hit {
		return ok, nil
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		ResourceAttributes: &attrs,
		User:               user.Username,
		UID:                user.UID,
		Groups:             user.Groups,
	}}
	if len(user.Extra) > 0 {
		sar.Spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			sar.Spec.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	if err := a.c.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("creating a SubjectAccessReview: %w", err)
	}
	ok := sar.Status.Allowed && !sar.Status.Denied
	a.decisions.put(key, ok, a.o.DecisionTTL, a.now())
	return ok, nil
}

// decisionKey is the SHA-256 of everything a decision depends on.
func decisionKey(user authenticationv1.UserInfo, attrs authorizationv1.ResourceAttributes) ([32]byte, error) {
	// encoding/json writes map keys sorted: the key is canonical.
	b, err := json.Marshal(struct {
		U authenticationv1.UserInfo
		A authorizationv1.ResourceAttributes
	}{user, attrs})
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}
