package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HandshakeSecretBucket holds the signing secrets receivers captured from
// armed handshakes (Asana's X-Hook-Secret), keyed by endpoint UID and arm,
// until the manager has written each into the endpoint's Secret. The
// receiver never writes a team's Secret: this bucket is how it hands a
// secret over.
const HandshakeSecretBucket = "hookgate-handshake-secrets"

// handshakeSecretTTL outlives the longest arm (an hour), so a second
// handshake within one arm always finds the first.
const handshakeSecretTTL = 2 * time.Hour

// handshakeConsumed replaces a secret once the manager stored it: the key
// stays, so a second handshake of the same arm is still refused, but the
// secret no longer lies in the bucket.
var handshakeConsumed = []byte("consumed")

// ErrHandshakeSecretTaken: this arm already captured a secret.
var ErrHandshakeSecretTaken = errors.New("a secret was already captured for this arm")

// HandshakeSecrets is the bucket of captured handshake secrets.
type HandshakeSecrets struct {
	KV jetstream.KeyValue
}

// OpenHandshakeSecrets creates the bucket if needed (file storage, as many
// replicas as the events stream) and opens it.
func OpenHandshakeSecrets(ctx context.Context, nc *nats.Conn) (*HandshakeSecrets, error) {
	kv, err := ensureBucketBesideEvents(ctx, nc, jetstream.KeyValueConfig{
		Bucket:      HandshakeSecretBucket,
		Description: "Signing secrets captured from armed handshakes, until the manager stores them",
		Storage:     jetstream.FileStorage,
		TTL:         handshakeSecretTTL,
	})
	if err != nil {
		return nil, err
	}
	return &HandshakeSecrets{KV: kv}, nil
}

// handshakeKey is the key of one arm of one endpoint: the arm's value is
// hashed, since KV keys allow few characters.
func handshakeKey(uid, arm string) string {
	sum := sha256.Sum256([]byte(arm))
	return uid + "." + hex.EncodeToString(sum[:8])
}

// Capture stores secret for the arm, durably (the KV write is acknowledged
// by JetStream), or returns ErrHandshakeSecretTaken when the arm already
// captured one.
func (h *HandshakeSecrets) Capture(ctx context.Context, uid, arm string, secret []byte) error {
	_, err := h.KV.Create(ctx, handshakeKey(uid, arm), secret)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return ErrHandshakeSecretTaken
	}
	if err != nil {
		return fmt.Errorf("storing handshake secret: %w", err)
	}
	return nil
}

// Captured returns the secret captured for the arm: found is false when
// none was, consumed true when the manager already stored it.
func (h *HandshakeSecrets) Captured(ctx context.Context, uid, arm string) (secret []byte, found, consumed bool, err error) {
	e, err := h.KV.Get(ctx, handshakeKey(uid, arm))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, false, nil
	}
	if err != nil {
		return nil, false, false, fmt.Errorf("reading handshake secret: %w", err)
	}
	if string(e.Value()) == string(handshakeConsumed) {
		return nil, true, true, nil
	}
	return e.Value(), true, false, nil
}

// Consume replaces the arm's secret with a marker once it is stored
// elsewhere; the key stays until its TTL so the arm cannot capture again.
func (h *HandshakeSecrets) Consume(ctx context.Context, uid, arm string) error {
	if _, err := h.KV.Put(ctx, handshakeKey(uid, arm), handshakeConsumed); err != nil {
		return fmt.Errorf("clearing handshake secret: %w", err)
	}
	return nil
}
