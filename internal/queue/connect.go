package queue

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// TokenEnv is the environment variable both processes read the NATS token
// from (the chart and kustomize fill it from a Secret), so the token never
// shows in a process list.
const TokenEnv = "HOOKGATE_NATS_TOKEN"

// ErrUnauthenticatedServer is returned when a NATS server accepts clients
// without credentials: any pod that reaches it could then read every stored
// body, publish forged events or purge the streams.
var ErrUnauthenticatedServer = errors.New("the NATS server requires no authentication: any client that reaches it can read, forge and purge webhook events; configure a token, credentials or an NKey (or pass --nats-allow-unauthenticated for a throwaway setup)")

// ClientAuth is how Hookgate authenticates to NATS, shared by the manager
// and the receiver so both read the same flags.
type ClientAuth struct {
	// Token is sent to the server and, for the embedded server, required
	// from every client. Read from TokenEnv or TokenFile.
	Token string
	// TokenFile is a file holding the token (a mounted Secret).
	TokenFile string
	// CredsFile is a NATS .creds file (user JWT and NKey seed), as issued
	// by an operator-mode NATS deployment.
	CredsFile string
	// NKeySeedFile is a file with a user NKey seed (SU...).
	NKeySeedFile string
	// TLS: a CA bundle to verify the server, and an optional client
	// certificate for mutual TLS.
	TLSCAFile, TLSCertFile, TLSKeyFile string
	// AllowUnauthenticated accepts a server that asks for no credentials.
	AllowUnauthenticated bool
}

// BindFlags registers the NATS authentication flags on fs.
func (a *ClientAuth) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.TokenFile, "nats-token-file", "", "file with the NATS token (default: the "+TokenEnv+" environment variable)")
	fs.StringVar(&a.CredsFile, "nats-creds", "", "NATS credentials file (user JWT and NKey seed) for an external cluster")
	fs.StringVar(&a.NKeySeedFile, "nats-nkey", "", "file with a NATS user NKey seed for an external cluster")
	fs.StringVar(&a.TLSCAFile, "nats-tls-ca", "", "CA bundle that signs the NATS server's certificate; enables TLS")
	fs.StringVar(&a.TLSCertFile, "nats-tls-cert", "", "client certificate for NATS mutual TLS")
	fs.StringVar(&a.TLSKeyFile, "nats-tls-key", "", "client key for NATS mutual TLS")
	fs.BoolVar(&a.AllowUnauthenticated, "nats-allow-unauthenticated", false, "accept a NATS server that requires no credentials (never in a shared cluster)")
}

// Load fills Token from TokenFile or the environment.
func (a *ClientAuth) Load() error {
	if a.TokenFile != "" {
		b, err := os.ReadFile(a.TokenFile)
		if err != nil {
			return fmt.Errorf("reading --nats-token-file: %w", err)
		}
		a.Token = strings.TrimSpace(string(b))
		if a.Token == "" {
			return fmt.Errorf("--nats-token-file %s is empty", a.TokenFile)
		}
	} else if a.Token == "" {
		a.Token = strings.TrimSpace(os.Getenv(TokenEnv))
	}
	if (a.TLSCertFile == "") != (a.TLSKeyFile == "") {
		return errors.New("--nats-tls-cert and --nats-tls-key go together")
	}
	if !a.AllowUnauthenticated && !a.HasCredentials() {
		return fmt.Errorf("no NATS credentials: set %s (or --nats-token-file, --nats-creds, --nats-nkey), or pass --nats-allow-unauthenticated for a throwaway setup", TokenEnv)
	}
	return nil
}

// HasCredentials reports whether any credential is configured.
func (a *ClientAuth) HasCredentials() bool {
	return a.Token != "" || a.CredsFile != "" || a.NKeySeedFile != "" || a.TLSCertFile != ""
}

// Options returns the nats.go options for a client named name. Connecting
// is retried for ever: the receiver hosting an embedded server may start
// after the manager.
func (a *ClientAuth) Options(name string) ([]nats.Option, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true)}
	switch {
	case a.CredsFile != "":
		opts = append(opts, nats.UserCredentials(a.CredsFile))
	case a.NKeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(a.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("reading --nats-nkey: %w", err)
		}
		opts = append(opts, o)
	case a.Token != "":
		opts = append(opts, nats.Token(a.Token))
	}
	if a.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(a.TLSCAFile))
	}
	if a.TLSCertFile != "" {
		opts = append(opts, nats.ClientCert(a.TLSCertFile, a.TLSKeyFile))
	}
	return opts, nil
}

// CheckServerAuth refuses a connected server that asked for no
// credentials, unless that is allowed.
func (a *ClientAuth) CheckServerAuth(nc *nats.Conn) error {
	if a.AllowUnauthenticated || !nc.IsConnected() {
		return nil
	}
	// A client certificate is authentication when the server verifies it
	// (tls { verify: true }), which NATS does not announce: trust the
	// operator who configured mutual TLS.
	if !nc.AuthRequired() && a.TLSCertFile == "" {
		return ErrUnauthenticatedServer
	}
	return nil
}
