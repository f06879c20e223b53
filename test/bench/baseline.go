package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/queue"
)

// The two baseline programs run as child processes of the benchmark (the
// same binary, started with "bare" or "floor" as first argument), so that
// their CPU is read from /proc exactly like the receiver's and the load
// generator's is not in it.
//
//   - bare: net/http, the receiver's GitHub verifier, 200. What any Go
//     webhook receiver costs before it stores anything.
//   - floor: bare plus one synchronous JetStream publish with a
//     Nats-Msg-Id into an embedded file-store JetStream with the
//     receiver's events stream, answered after the ack. The least a
//     receiver that answers only after a durable write can do.
//
// Both print "listening <host:port>" on stdout once they accept
// connections, serve GET /stats with what they accepted and stored, and
// stop on SIGTERM.

const (
	childBare  = "bare"
	childFloor = "floor"
	// keyEnv passes the signing key (hex) to the children.
	keyEnv = "HOOKGATE_BENCH_KEY"
	// statsPath is where the children report their counts.
	statsPath = "/stats"
	// floorUID stands for an endpoint UID in the floor's subject.
	floorUID = "6c0f4c5e-7d7a-4b4e-9c1e-0b3c2f1a9d00"
	// floorToken authenticates to the floor's embedded JetStream, which
	// refuses to start without one.
	floorToken = "hookgate-bench-floor"
)

// childStats is the answer of GET /stats.
type childStats struct {
	Accepted int64  `json:"accepted"`
	Stored   uint64 `json:"stored"`
}

// acceptedBody is what the receiver answers for an accepted event, so all
// three programs send the same bytes back.
var acceptedBody = []byte(`{"status":"accepted"}` + "\n")

func runChild(name string, args []string) int {
	if err := child(name, args); err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", name, err)
		return 1
	}
	return 0
}

func child(name string, args []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	syncAlways := fs.Bool("sync-always", false, "floor: fsync every JetStream write before acknowledging it")
	storeDir := fs.String("store-dir", os.TempDir(), "floor: parent of the temporary JetStream store")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, err := hex.DecodeString(os.Getenv(keyEnv))
	if err != nil || len(key) == 0 {
		return fmt.Errorf("%s must hold the signing key in hex", keyEnv)
	}
	// The constructor the receiver's endpoint compiler calls.
	v, err := verify.New(string(hookv1.ProviderGitHub), verify.Options{})
	if err != nil {
		return err
	}
	b := &baseline{verifier: v, keys: [][]byte{key}, maxBody: maxBodyBytes}
	if name == childFloor {
		dir, err := os.MkdirTemp(*storeDir, "hookgate-bench-floor-*")
		if err != nil {
			return fmt.Errorf("creating JetStream store: %w", err)
		}
		defer os.RemoveAll(dir)
		ns, err := queue.StartEmbedded(queue.EmbeddedOptions{
			Host: "127.0.0.1", Port: -1, StoreDir: dir, SyncAlways: *syncAlways, ServerName: "hookgate-bench-floor", Token: floorToken,
		})
		if err != nil {
			return err
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		// In-process, as the receiver reaches its embedded server.
		nc, err := nats.Connect("", nats.Name("hookgate-bench-floor"), nats.InProcessServer(ns), nats.Token(floorToken))
		if err != nil {
			return fmt.Errorf("connecting to embedded JetStream: %w", err)
		}
		defer nc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		// The receiver's layout, so the events stream has its settings
		// (work queue, file storage, 2m duplicate window, limits), with
		// the per-endpoint ceiling the benchmark gives the receiver: at the
		// default one a run longer than about 15 s fills the floor's one
		// subject and is answered 503.
		q, err := queue.Open(ctx, nc, queue.Options{MaxEventsPerEndpoint: queueEventsCeiling})
		cancel()
		if err != nil {
			return err
		}
		b.js = q.JS
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The receiver's webhook server settings (ingress/server/listen.go).
	srv := &http.Server{
		Handler:           b,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("listening %s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	select {
	case err := <-errc:
		return err
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// baseline is the handler of both programs; js is nil for bare.
type baseline struct {
	verifier verify.Verifier
	keys     [][]byte
	maxBody  int64
	js       jetstream.JetStream
	accepted atomic.Int64
}

func (b *baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == statsPath {
		b.serveStats(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.maxBody))
	if err != nil {
		http.Error(w, "body unreadable or too large", http.StatusRequestEntityTooLarge)
		return
	}
	res, err := b.verifier.Verify(&verify.Request{Method: r.Method, URL: r.URL, Header: r.Header, Body: body}, b.keys, time.Now())
	if err != nil {
		http.Error(w, string(verify.ReasonOf(err)), http.StatusUnauthorized)
		return
	}
	if b.js != nil {
		msg := &nats.Msg{Subject: queue.EventsSubject(floorUID), Data: body, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, res.DeliveryID)
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		_, err := b.js.PublishMsg(ctx, msg)
		cancel()
		if err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	b.accepted.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(acceptedBody)
}

func (b *baseline) serveStats(w http.ResponseWriter, r *http.Request) {
	st := childStats{Accepted: b.accepted.Load()}
	if b.js != nil {
		s, err := b.js.Stream(r.Context(), queue.EventsStream)
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = s.Info(r.Context()); err == nil {
				st.Stored = info.State.Msgs
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}
