package verify

import (
	"fmt"
	"sort"
	"sync"
)

// Constructor builds a provider's verifier from per-endpoint options.
type Constructor func(o Options) (Verifier, error)

var (
	providersMu sync.RWMutex
	providers   = map[string]Constructor{}
)

// register adds a provider by its API name (the WebhookEndpoint
// spec.provider enum value). Each provider's file registers itself in init.
func register(name string, c Constructor) {
	providersMu.Lock()
	defer providersMu.Unlock()
	if _, dup := providers[name]; dup {
		panic("verify: provider registered twice: " + name)
	}
	providers[name] = c
}

// New returns the verifier of a provider by its API name. generic-hmac is
// built with NewGenericHMAC instead, as it needs its own options.
func New(provider string, o Options) (Verifier, error) {
	providersMu.RLock()
	c, ok := providers[provider]
	providersMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown provider %q", provider)
	}
	return c(o)
}

// Providers lists the registered provider names, sorted.
func Providers() []string {
	providersMu.RLock()
	defer providersMu.RUnlock()
	out := make([]string, 0, len(providers))
	for n := range providers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func init() {
	register("github", func(o Options) (Verifier, error) { return NewGitHub(GitHubOptions{AllowSHA1: o.AllowSHA1}), nil })
	register("standardwebhooks", func(o Options) (Verifier, error) { return NewStandardWebhooksWithOptions(o), nil })
}
