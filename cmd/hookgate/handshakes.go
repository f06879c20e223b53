package main

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/hookgate/hookgate/internal/queue"
)

// lazyHandshakeSecrets opens the handshake secret bucket on the first
// armed handshake, and again after a failure: most receivers never see
// one, and none should wait for the bucket to start.
type lazyHandshakeSecrets struct {
	nc *nats.Conn
	mu sync.Mutex
	hs *queue.HandshakeSecrets
}

func (l *lazyHandshakeSecrets) Capture(ctx context.Context, uid, arm string, secret []byte) error {
	l.mu.Lock()
	if l.hs == nil {
		hs, err := queue.OpenHandshakeSecrets(ctx, l.nc)
		if err != nil {
			l.mu.Unlock()
			return err
		}
		l.hs = hs
	}
	hs := l.hs
	l.mu.Unlock()
	return hs.Capture(ctx, uid, arm, secret)
}
