// Package queuetest starts a real embedded JetStream for tests of the
// packages that use the queue: no fake stands in for it.
package queuetest

import (
	"context"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/hookgate/hookgate/internal/queue"
)

// Token is the embedded server's token in tests: the server refuses to
// start without one, as in production.
const Token = "queuetest-token"

// Start runs an embedded JetStream with file storage in a temp dir, opens
// the layout on it with o, and stops both when the test ends.
func Start(t testing.TB, o queue.Options) (*queue.Queue, *server.Server) {
	t.Helper()
	s, err := queue.StartEmbedded(queue.EmbeddedOptions{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir(), Token: Token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL(), nats.Token(Token))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	q, err := queue.Open(context.Background(), nc, o)
	if err != nil {
		t.Fatal(err)
	}
	return q, s
}
