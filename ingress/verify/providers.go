package verify

import (
	"fmt"
	"sort"
	"sync"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Constructor builds a scheme's verifier from per-endpoint options.
type Constructor func(o Options) (Verifier, error)

// SchemeConstructor builds a scheme's verifier for one provider table entry:
// table-driven schemes (hookv1.SchemeHMAC, hookv1.SchemeToken) are
// configured from the entry alone.
type SchemeConstructor func(info hookv1.ProviderInfo, o Options) (Verifier, error)

var (
	schemesMu sync.RWMutex
	schemes   = map[hookv1.Scheme]SchemeConstructor{}
)

// register adds the verifier of a scheme that needs only the options. Each
// scheme's file registers itself in init; which providers use it is the
// provider table's business (hookv1.Providers).
func register(scheme string, c Constructor) {
	registerScheme(hookv1.Scheme(scheme), func(_ hookv1.ProviderInfo, o Options) (Verifier, error) { return c(o) })
}

func registerScheme(scheme hookv1.Scheme, c SchemeConstructor) {
	schemesMu.Lock()
	defer schemesMu.Unlock()
	if _, dup := schemes[scheme]; dup {
		panic("verify: scheme registered twice: " + string(scheme))
	}
	schemes[scheme] = c
}

func schemeConstructor(s hookv1.Scheme) (SchemeConstructor, bool) {
	schemesMu.RLock()
	defer schemesMu.RUnlock()
	c, ok := schemes[s]
	return c, ok
}

// New returns the verifier of a provider by its API name, built from its
// entry in the provider table by the entry's scheme. A zero o.Tolerance
// takes the entry's default replay window.
func New(provider string, o Options) (Verifier, error) {
	info, ok := hookv1.LookupProvider(hookv1.Provider(provider))
	if !ok {
		return nil, fmt.Errorf("unknown provider %q", provider)
	}
	return NewFromInfo(info, o)
}

// NewFromInfo returns the verifier of a provider table entry, built by the
// entry's scheme: a built-in's, or a WebhookProvider's converted with
// WebhookProviderSpec.ProviderInfo. A zero o.Tolerance takes the entry's
// default replay window.
func NewFromInfo(info hookv1.ProviderInfo, o Options) (Verifier, error) {
	c, ok := schemeConstructor(info.Scheme)
	if !ok {
		return nil, fmt.Errorf("provider %q: no verifier for scheme %q", info.Name, info.Scheme)
	}
	if o.Tolerance <= 0 {
		o.Tolerance = info.Timestamp.DefaultWindow
	}
	return c(info, o)
}

// Providers lists the names of the table's providers that have a verifier
// in this build, sorted.
func Providers() []string {
	var out []string
	for _, info := range hookv1.Providers {
		if _, ok := schemeConstructor(info.Scheme); ok {
			out = append(out, string(info.Name))
		}
	}
	sort.Strings(out)
	return out
}

func init() {
	register("github", func(o Options) (Verifier, error) { return NewGitHub(GitHubOptions{AllowSHA1: o.AllowSHA1}), nil })
	register(string(hookv1.SchemeStandardWebhooks), func(o Options) (Verifier, error) { return NewStandardWebhooksWithOptions(o), nil })
	register(string(hookv1.SchemeGenericHMAC), func(o Options) (Verifier, error) {
		opts := GenericHMACOptions{}
		if o.Generic != nil {
			opts = *o.Generic
		}
		g, err := compileGenericHMAC(opts)
		if err != nil {
			return nil, err
		}
		g.urls = newSignedURLs(o)
		return g, nil
	})
}
