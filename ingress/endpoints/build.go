package endpoints

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/keyring"
)

// MirrorReader returns the data of an endpoint's key mirror (the
// internal/keyring layout), whether there is one, and an error when it
// cannot be read or is not the endpoint's. It is called only for an
// endpoint that verifies with a Secret.
type MirrorReader func(ctx context.Context) (data map[string][]byte, found bool, err error)

// ProviderReader returns the spec of the WebhookProvider name, for an
// endpoint's spec.providerRef, or an error that says why there is none
// (shown to the sender's operator as the endpoint's 503 reason).
type ProviderReader func(ctx context.Context, name string) (*hookv1.WebhookProviderSpec, error)

// Builder turns a WebhookEndpoint and its key mirror into the registry's
// entry. It is the one place that does: the Kubernetes loader (Loader) and
// the NATS loader of edge receivers (NATSLoader) differ only in where they
// read the two from.
type Builder struct {
	Registry *registry.Registry
	// MaxBodyBytes is the body limit of endpoints that set none.
	MaxBodyBytes int64
	// BodyCap, when set, bounds every endpoint's body limit: what the NATS
	// server accepts in one message, less room for headers.
	BodyCap int64
	// Now is the clock; tests inject one.
	Now func() time.Time
	// Provider resolves spec.providerRef: the Kubernetes loader reads the
	// WebhookProvider, the NATS loader takes the one in the registry
	// entry. Nil: such endpoints get no verifier.
	Provider ProviderReader
}

func (b Builder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Apply publishes ep in the registry with the keys mirror reads, or
// removes it while it is not routable (being deleted, or no path yet).
func (b Builder) Apply(ctx context.Context, ep *hookv1.WebhookEndpoint, mirror MirrorReader) {
	key := types.NamespacedName{Namespace: ep.Namespace, Name: ep.Name}
	// Until the controller has assigned a path there is nothing to route.
	if !ep.DeletionTimestamp.IsZero() || ep.Status.WebhookPath == "" {
		b.Registry.Delete(key)
		return
	}
	info, err := b.resolveProvider(ctx, ep)
	e, cerr := CompileWith(ep, info)
	if err == nil {
		err = cerr
	}
	if err != nil {
		// The API's validation should make this unreachable; keep the
		// endpoint routable so requests get a clear 503 rather than 404.
		ctrl.LoggerFrom(ctx).Error(err, "Endpoint configuration is invalid", "endpoint", key.String())
		e.KeysError = err.Error()
		b.Registry.Upsert(e)
		return
	}
	if ep.Spec.Limits.MaxBodyBytes == nil && b.MaxBodyBytes > 0 {
		e.MaxBodyBytes = b.MaxBodyBytes
	}
	if b.BodyCap > 0 && e.MaxBodyBytes > b.BodyCap {
		e.MaxBodyBytes = b.BodyCap
	}
	b.loadKeys(ctx, ep, e, mirror, info)
	// Status updates (counters, every few seconds) recompile the endpoint:
	// keep the token bucket, or every update would refill it.
	if old, ok := b.Registry.ByUID(e.UID); ok && old.Limiter != nil && e.Limiter != nil &&
		old.Limiter.Limit() == e.Limiter.Limit() && old.Limiter.Burst() == e.Limiter.Burst() {
		e.Limiter = old.Limiter
	}
	b.Registry.Upsert(e)
}

// resolveProvider returns the WebhookProvider's entry of an endpoint with
// spec.providerRef, nil for one with spec.provider.
func (b Builder) resolveProvider(ctx context.Context, ep *hookv1.WebhookEndpoint) (*hookv1.ProviderInfo, error) {
	ref := ep.Spec.ProviderRef
	if ref == nil {
		return nil, nil
	}
	if b.Provider == nil {
		return nil, fmt.Errorf("spec.providerRef: this receiver cannot read WebhookProviders")
	}
	spec, err := b.Provider(ctx, ref.Name)
	if err != nil {
		return nil, fmt.Errorf("spec.providerRef: %w", err)
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("spec.providerRef: WebhookProvider %s is invalid: %w", ref.Name, err)
	}
	info := spec.ProviderInfo(ref.Name)
	return &info, nil
}

// loadKeys fills in the endpoint's keys; ref is its WebhookProvider's
// entry, nil for a built-in provider.
func (b Builder) loadKeys(ctx context.Context, ep *hookv1.WebhookEndpoint, e *registry.Endpoint, mirror MirrorReader, ref *hookv1.ProviderInfo) {
	info, _ := hookv1.LookupProvider(ep.Spec.Provider)
	if ref != nil {
		info = *ref
	}
	if info.KeysFromIssuer() {
		// The verifier has the issuer's keys (spec.jwt, a JWKS, SNS's
		// certificates): no Secret, no mirror.
		e.KeysInVerifier = true
		return
	}
	if info.VerifiesWithPublicKeysOnly(&ep.Spec) {
		for _, k := range ep.Spec.PublicKeys {
			e.Keys = append(e.Keys, []byte(k))
		}
		return
	}
	if ep.Spec.SecretRef == nil {
		e.KeysError = "spec.secretRef is not set"
		return
	}
	name := keyring.MirrorName(string(ep.UID))
	data, found, err := mirror(ctx)
	switch {
	case err != nil:
		e.KeysError = err.Error()
		return
	case !found:
		e.KeysError = fmt.Sprintf("no keys yet for Secret %s/%s: the manager has not mirrored them (see the endpoint's SecretReady condition)",
			ep.Namespace, ep.Spec.SecretRef.Name)
		return
	}
	keys := keyring.ParseMirror(data, b.now())
	if len(keys.Current) == 0 {
		e.KeysError = fmt.Sprintf("key mirror %s has no current key", name)
		return
	}
	e.Keys = [][]byte{keys.Current}
	e.PreviousKey, e.PreviousExpires = keys.Previous, keys.PreviousExpires
	if len(keys.Problems) > 0 {
		ctrl.LoggerFrom(ctx).Info("Ignoring previous key of key mirror", "mirror", name, "problems", keys.Problems)
	}
}
