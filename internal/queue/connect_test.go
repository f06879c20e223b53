package queue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const testToken = "queue-test-token"

func TestEmbeddedServerRefusesToStartWithoutAToken(t *testing.T) {
	_, err := StartEmbedded(EmbeddedOptions{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "needs a token") {
		t.Fatalf("StartEmbedded without a token: err = %v, want a refusal", err)
	}
}

// A pod that reaches the embedded server's port but holds no token can
// neither read nor publish nor purge: the attack of a pod in the cluster.
func TestAPodWithoutTheTokenCannotUseTheEmbeddedJetStream(t *testing.T) {
	q := startQueue(t)
	url := q.NC.ConnectedUrl()
	for name, opts := range map[string][]nats.Option{
		"no token":    nil,
		"wrong token": {nats.Token("guess")},
	} {
		t.Run(name, func(t *testing.T) {
			nc, err := nats.Connect(url, opts...)
			if err == nil {
				defer nc.Close()
				js, _ := jetstream.New(nc)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if _, perr := js.Publish(ctx, EventsSubject("victim"), []byte("forged")); perr == nil {
					t.Fatal("published a forged event without the token")
				}
				t.Fatalf("connected without the token")
			}
			if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
				t.Fatalf("connect error = %v, want an authorization violation", err)
			}
		})
	}
	// The holder of the token still can.
	nc, err := nats.Connect(url, nats.Token(testToken))
	if err != nil {
		t.Fatalf("connecting with the token: %v", err)
	}
	nc.Close()
}

func TestClientsRefuseAServerThatRequiresNoAuthentication(t *testing.T) {
	s, err := StartEmbedded(EmbeddedOptions{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir(), AllowUnauthenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	strict := &ClientAuth{Token: "anything"}
	if err := strict.CheckServerAuth(nc); !errors.Is(err, ErrUnauthenticatedServer) {
		t.Fatalf("CheckServerAuth on an open server = %v, want ErrUnauthenticatedServer", err)
	}
	lax := &ClientAuth{AllowUnauthenticated: true}
	if err := lax.CheckServerAuth(nc); err != nil {
		t.Fatalf("with AllowUnauthenticated: %v", err)
	}

	q := startQueue(t)
	if err := strict.CheckServerAuth(q.NC); err != nil {
		t.Fatalf("CheckServerAuth on a token server = %v", err)
	}
}

func TestClientAuthLoad(t *testing.T) {
	t.Setenv(TokenEnv, "")
	cases := []struct {
		name    string
		auth    ClientAuth
		env     string
		wantErr string
		token   string
	}{
		{name: "no credentials at all is refused", wantErr: "no NATS credentials"},
		{name: "no credentials is allowed with the explicit flag", auth: ClientAuth{AllowUnauthenticated: true}},
		{name: "the token comes from the environment", env: " s3cret\n", token: "s3cret"},
		{name: "a creds file is a credential", auth: ClientAuth{CredsFile: "/x.creds"}},
		{name: "a client cert without its key is refused", auth: ClientAuth{Token: "t", TLSCertFile: "c.pem"}, wantErr: "go together"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(TokenEnv, c.env)
			a := c.auth
			err := a.Load()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Load() = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			if a.Token != c.token {
				t.Fatalf("token = %q, want %q", a.Token, c.token)
			}
		})
	}
}
