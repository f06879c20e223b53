package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-logr/logr"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/endpoints"
	"github.com/hookgate/hookgate/ingress/registry"
	ingserver "github.com/hookgate/hookgate/ingress/server"
	"github.com/hookgate/hookgate/internal/queue"
)

// The benchmark endpoint, as a cluster would declare it.
const (
	benchPath      = ingserver.PathPrefix + "bench"
	benchUID       = "6c0f4c5e-7d7a-4b4e-9c1e-0b3c2f1a9d00"
	benchNamespace = "bench"
	benchName      = "github"
)

// serve starts an HTTP server for h on a random loopback port, with the
// settings of the receiver's webhook server (cmd/hookgate/receiver.go), so
// both targets differ only by handler.
func serve(h http.Handler) (url string, shutdown func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listening: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	shutdown = func() error {
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
	return "http://" + ln.Addr().String() + benchPath, shutdown, nil
}

// bareHandler only answers 200. It drains the body itself because net/http
// closes rather than reuses a connection whose unread body exceeds 256 KiB,
// which would make large -body-bytes runs unfair to the bare side.
func bareHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusOK)
}

func runBare(ctx context.Context, cfg config, wl *workload) (*runResult, error) {
	url, shutdown, err := serve(http.HandlerFunc(bareHandler))
	if err != nil {
		return nil, err
	}
	res := generate(ctx, cfg, wl, "bare", url)
	if err := shutdown(); err != nil {
		return nil, fmt.Errorf("stopping server: %w", err)
	}
	return res, nil
}

// sanityCheck compares what JetStream holds with what the receiver accepted.
type sanityCheck struct {
	Stored      uint64 // messages in the events stream
	StoredBytes uint64
	Accepted    int64 // 2xx answers over the whole receiver run
}

// OK reports whether every accepted request is a stored event and nothing
// else was stored.
func (s sanityCheck) OK() bool { return s.Accepted >= 0 && s.Stored == uint64(s.Accepted) }

// runReceiver measures the real handler over a fresh embedded JetStream,
// then checks the stream against the answers.
func runReceiver(ctx context.Context, cfg config, wl *workload) (*runResult, sanityCheck, error) {
	var check sanityCheck
	js, err := startJetStream(ctx, cfg)
	if err != nil {
		return nil, check, err
	}
	defer js.close()

	h, err := receiverHandler(cfg, js.q, wl.key)
	if err != nil {
		return nil, check, err
	}
	url, shutdown, err := serve(h)
	if err != nil {
		return nil, check, err
	}
	res := generate(ctx, cfg, wl, "receiver", url)
	if err := shutdown(); err != nil {
		return nil, check, fmt.Errorf("stopping server: %w", err)
	}

	check.Accepted = res.OK
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.q.JS.Stream(sctx, queue.EventsStream)
	if err != nil {
		return nil, check, fmt.Errorf("opening stream %s: %w", queue.EventsStream, err)
	}
	info, err := s.Info(sctx)
	if err != nil {
		return nil, check, fmt.Errorf("reading stream %s: %w", queue.EventsStream, err)
	}
	check.Stored, check.StoredBytes = info.State.Msgs, info.State.Bytes
	return res, check, nil
}

// receiverHandler builds the handler the receiver serves, with one GitHub
// endpoint compiled from a WebhookEndpoint exactly as the receiver's loader
// compiles it from the cluster.
func receiverHandler(cfg config, q *queue.Queue, key []byte) (http.Handler, error) {
	we := &hookv1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: benchNamespace, Name: benchName, UID: benchUID, Generation: 1},
		Spec: hookv1.WebhookEndpointSpec{
			Provider:  hookv1.ProviderGitHub,
			SecretRef: &hookv1.SecretKeyRef{Name: "github-webhook"},
			Target:    hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "sink", Port: 8080}},
			Dedupe:    hookv1.DedupeSpec{Window: &metav1.Duration{Duration: time.Hour}},
		},
		Status: hookv1.WebhookEndpointStatus{WebhookPath: benchPath},
	}
	ep, err := endpoints.Compile(we)
	if err != nil {
		return nil, fmt.Errorf("compiling the benchmark endpoint: %w", err)
	}
	// What the loader adds after Compile: the receiver-wide body limit
	// (the endpoint sets none) and the key from the Secret. No limits in
	// the spec means no rate limiter, so nothing is refused with 429.
	ep.MaxBodyBytes = cfg.endpointMaxBody()
	ep.Keys = [][]byte{key}
	reg := registry.New()
	reg.Upsert(ep)

	log := logr.Discard()
	if cfg.logMode == logJSON {
		// controller-runtime's production logger, as `hookgate receiver`
		// builds it without flags (JSON, info level, sampled), so the cost
		// of the per-request log line is in the figures. io.Discard keeps
		// terminal speed out of them.
		log = crzap.New(crzap.WriteTo(io.Discard)).WithName("http")
	}
	return &ingserver.Handler{
		Registry: reg,
		Store:    q,
		Log:      log,
		Metrics:  ingserver.NewMetrics(prometheus.NewRegistry()),
		// The receiver's default: no --trusted-proxies.
		Proxies: &ingserver.Proxies{},
	}, nil
}

// jetStream is the receiver's default queue: an embedded server with file
// storage, reached through an in-process connection.
type jetStream struct {
	dir string
	ns  *natsserver.Server
	nc  *nats.Conn
	q   *queue.Queue
}

func startJetStream(ctx context.Context, cfg config) (_ *jetStream, err error) {
	js := &jetStream{}
	defer func() {
		if err != nil {
			js.close()
		}
	}()
	if js.dir, err = os.MkdirTemp(cfg.storeDir, "hookgate-bench-*"); err != nil {
		return nil, fmt.Errorf("creating JetStream store: %w", err)
	}
	// Port -1: the receiver also listens for the controller, which the
	// benchmark does not run, so any free port will do.
	js.ns, err = queue.StartEmbedded(queue.EmbeddedOptions{
		Host: "127.0.0.1", Port: -1, StoreDir: js.dir, SyncAlways: cfg.syncAlways, ServerName: "hookgate-bench",
	})
	if err != nil {
		return nil, err
	}
	js.nc, err = nats.Connect("", nats.Name("hookgate-bench"), nats.MaxReconnects(-1), nats.InProcessServer(js.ns))
	if err != nil {
		return nil, fmt.Errorf("connecting to embedded JetStream: %w", err)
	}
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if js.q, err = queue.Open(octx, js.nc, queue.Options{}); err != nil {
		return nil, fmt.Errorf("opening JetStream layout: %w", err)
	}
	return js, nil
}

func (js *jetStream) close() {
	if js.q != nil {
		// Let the handler's unacknowledged counter increments land, so
		// that shutdown does not log about them.
		select {
		case <-js.q.JS.PublishAsyncComplete():
		case <-time.After(5 * time.Second):
		}
	}
	if js.nc != nil {
		js.nc.Close()
	}
	if js.ns != nil {
		js.ns.Shutdown()
		js.ns.WaitForShutdown()
	}
	if js.dir != "" {
		if err := os.RemoveAll(js.dir); err != nil {
			progress("removing %s: %v", js.dir, err)
		}
	}
}
