package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// EdgeRegistryBucket holds, for edge receivers that cannot reach the
// private cluster's Kubernetes API, what a receiver reads from it: each
// routable WebhookEndpoint and the keys of its key mirror, one entry per
// endpoint UID. The manager writes it (--edge-registry); edge receivers
// (--registry=nats) watch it. It holds signing keys: see docs/security.md.
const EdgeRegistryBucket = "hookgate-edge-registry"

// RegistryEntry is one endpoint in the edge registry.
type RegistryEntry struct {
	// Endpoint is the WebhookEndpoint with only what a receiver reads:
	// name, namespace, UID and generation, the spec, status.webhookPath.
	Endpoint *hookv1.WebhookEndpoint `json:"endpoint"`
	// Keys is the data of the endpoint's key mirror (internal/keyring's
	// layout); nil while there is none.
	Keys map[string][]byte `json:"keys,omitempty"`
	// Provider is the spec of the WebhookProvider the endpoint's
	// spec.providerRef names, resolved by the manager so that an edge
	// receiver needs no API access; nil for a built-in provider, or while
	// the WebhookProvider does not exist.
	Provider *hookv1.WebhookProviderSpec `json:"provider,omitempty"`
}

// NewRegistryEntry trims ep to what a receiver reads, so status updates
// (counters, conditions) do not rewrite the entry.
func NewRegistryEntry(ep *hookv1.WebhookEndpoint, keys map[string][]byte) RegistryEntry {
	return RegistryEntry{
		Endpoint: &hookv1.WebhookEndpoint{
			TypeMeta: metav1.TypeMeta{APIVersion: hookv1.GroupVersion.String(), Kind: "WebhookEndpoint"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ep.Namespace, Name: ep.Name, UID: ep.UID,
				Generation: ep.Generation},
			Spec:   *ep.Spec.DeepCopy(),
			Status: hookv1.WebhookEndpointStatus{WebhookPath: ep.Status.WebhookPath},
		},
		Keys: keys,
	}
}

// EdgeRegistry is the edge registry bucket.
type EdgeRegistry struct {
	KV jetstream.KeyValue
}

// OpenEdgeRegistry creates the bucket if needed, with as many replicas as
// the events stream the receivers made (the manager never decides
// replicas), and opens it.
func OpenEdgeRegistry(ctx context.Context, nc *nats.Conn) (*EdgeRegistry, error) {
	kv, err := ensureBucketBesideEvents(ctx, nc, jetstream.KeyValueConfig{
		Bucket:      EdgeRegistryBucket,
		Description: "Endpoints and their keys, for receivers outside the cluster",
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, err
	}
	return &EdgeRegistry{KV: kv}, nil
}

// AttachEdgeRegistry opens the bucket the manager made, through js (an
// edge receiver's DomainJetStream).
func AttachEdgeRegistry(ctx context.Context, js jetstream.JetStream) (*EdgeRegistry, error) {
	kv, err := js.KeyValue(ctx, EdgeRegistryBucket)
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s (is the manager running with --edge-registry?): %w", EdgeRegistryBucket, err)
	}
	return &EdgeRegistry{KV: kv}, nil
}

// Put writes e under its endpoint's UID unless the bucket already holds
// exactly that, and reports whether it wrote.
func (r *EdgeRegistry) Put(ctx context.Context, e RegistryEntry) (bool, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return false, fmt.Errorf("encoding registry entry: %w", err)
	}
	uid := string(e.Endpoint.UID)
	cur, err := r.KV.Get(ctx, uid)
	// A bucket just made on a cluster answers direct gets once its
	// replicas are up: wait for that rather than fail the first write.
	for pause := 50 * time.Millisecond; errors.Is(err, nats.ErrNoResponders) && pause < 5*time.Second; pause *= 2 {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(pause):
		}
		cur, err = r.KV.Get(ctx, uid)
	}
	switch {
	case err == nil && bytes.Equal(cur.Value(), b):
		return false, nil
	case err != nil && !errors.Is(err, jetstream.ErrKeyNotFound):
		return false, fmt.Errorf("reading registry entry %s: %w", uid, err)
	}
	if _, err := r.KV.Put(ctx, uid, b); err != nil {
		return false, fmt.Errorf("writing registry entry %s: %w", uid, err)
	}
	return true, nil
}

// Delete removes the entry of an endpoint, with its history.
func (r *EdgeRegistry) Delete(ctx context.Context, uid string) error {
	if err := r.KV.Purge(ctx, uid); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("removing registry entry %s: %w", uid, err)
	}
	return nil
}

// UIDs lists the endpoints the bucket holds.
func (r *EdgeRegistry) UIDs(ctx context.Context) ([]string, error) {
	keys, err := r.KV.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing registry entries: %w", err)
	}
	var out []string
	for k := range keys.Keys() {
		out = append(out, k)
	}
	// The lister ends early, silently, when ctx does.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("listing registry entries: %w", err)
	}
	return out, nil
}

// DecodeRegistryEntry reads an entry's value.
func DecodeRegistryEntry(b []byte) (RegistryEntry, error) {
	var e RegistryEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("decoding registry entry: %w", err)
	}
	if e.Endpoint == nil || e.Endpoint.UID == "" {
		return e, errors.New("decoding registry entry: no endpoint")
	}
	return e, nil
}
