package queue

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configure a JetStream server inside the receiver process.
type EmbeddedOptions struct {
	// Host and Port the NATS client listener binds (the controller connects
	// here). Port -1 picks a random free port.
	Host string
	Port int
	// StoreDir is where JetStream keeps its files.
	StoreDir string
	// Token is required from every client. An empty token is refused
	// unless AllowUnauthenticated is set (tests, throwaway setups): the
	// client port is reachable by every pod the NetworkPolicy lets in.
	Token string
	// AllowUnauthenticated starts the server without a token.
	AllowUnauthenticated bool
	// TLSCertFile and TLSKeyFile, when set, make the client port TLS-only.
	TLSCertFile, TLSKeyFile string
	// MaxStoreBytes bounds JetStream's file store (0: no bound). Keep it
	// below the volume's size, so a full store is a clean 503, not a
	// failing disk.
	MaxStoreBytes int64
	// SyncAlways makes JetStream fsync every write before it acknowledges
	// it. Without it, writes survive a process crash (they are in the page
	// cache) and are synced every 2 minutes, JetStream's default.
	SyncAlways bool
	// ServerName names the server in logs and cluster views.
	ServerName string
}

// MaxPayload is the largest NATS message the embedded server accepts. An
// inline body (Options.InlineBodyMax) and its headers must fit in it; a
// larger body is stored by reference, in chunks (bodies.go), so endpoint
// body limits (up to MaxBodyBytes) do not depend on it.
const MaxPayload = 8 << 20

// StartEmbedded starts a JetStream server with file storage and waits until
// it accepts connections.
func StartEmbedded(o EmbeddedOptions) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, fmt.Errorf("embedded JetStream needs a store directory")
	}
	if o.Token == "" && !o.AllowUnauthenticated {
		return nil, fmt.Errorf("embedded JetStream needs a token (%s): without one any pod that reaches its port can read, forge and purge events", TokenEnv)
	}
	opts := &server.Options{
		ServerName:         o.ServerName,
		Host:               o.Host,
		Port:               o.Port,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		MaxPayload:         MaxPayload,
		NoSigs:             true,
		NoLog:              true,
		Authorization:      o.Token,
		SyncAlways:         o.SyncAlways,
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  o.MaxStoreBytes,
	}
	if o.TLSCertFile != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: o.TLSCertFile, KeyFile: o.TLSKeyFile})
		if err != nil {
			return nil, fmt.Errorf("embedded JetStream TLS: %w", err)
		}
		opts.TLSConfig, opts.TLS = tc, true
	}
	if opts.ServerName == "" {
		opts.ServerName = "hookgate-embedded"
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring embedded JetStream: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded JetStream did not become ready within 30s")
	}
	return s, nil
}
