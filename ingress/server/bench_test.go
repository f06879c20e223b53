package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookgate/hookgate/ingress/accesslog"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

// BenchmarkAcceptedDelivery is the handler's whole path for a new signed
// GitHub delivery into an embedded JetStream, in one process: the part of
// the receiver's cost per webhook that is Hookgate's (make bench measures
// the process over HTTP). Profile it with -cpuprofile.
func BenchmarkAcceptedDelivery(b *testing.B) {
	q, _ := queuetest.Start(b, queue.Options{})
	reg := registry.New()
	ep := githubEndpoint()
	ep.MaxBodyBytes = 1 << 20
	reg.Upsert(ep)
	// The access record is part of every request's cost.
	access := accesslog.New(io.Discard, accesslog.Config{})
	defer access.Close()
	h := &Handler{Registry: reg, Store: q, Log: logr.Discard(), Metrics: NewMetrics(prometheus.NewRegistry()),
		Now: func() time.Time { return now }, Access: access}
	body := strings.Repeat("x", 2048)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			r := githubRequest(body, fmt.Sprintf("bench-%p-%d", pb, i), githubKey)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d %s", rec.Code, rec.Body)
			}
		}
	})
}
