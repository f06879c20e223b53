// Package server is the receiver's HTTP handler: one server for every
// WebhookEndpoint, routed by the path the controller assigned. A request is
// answered 2xx only after its event is durably stored in JetStream.
package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-logr/logr"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/queue"
)

// PathPrefix is where endpoint paths live.
const PathPrefix = "/hook/"

// DefaultMaxBodyBytes bounds a request body when the endpoint sets no limit:
// the API's default.
const DefaultMaxBodyBytes = hookv1.DefaultMaxBodyBytes

// Store is the part of the queue the handler uses.
type Store interface {
	Enqueue(ctx context.Context, ev *queue.Event, window time.Duration) (queue.EnqueueResult, error)
	Incr(uid, counter string, n int64) error
}

// Handler serves webhook requests.
type Handler struct {
	Registry *registry.Registry
	Store    Store
	Log      logr.Logger
	Metrics  *Metrics
	// Proxies says whose forwarding headers to trust; nil trusts none.
	Proxies *Proxies
	// Now is the clock; tests inject one.
	Now func() time.Time
}

// outcome is what happened to one request, for the log line and metrics.
type outcome struct {
	status   int
	result   string // accepted, duplicate, rejected, error
	reason   string
	delivery string
	// handshake is answered verbatim instead of the JSON status.
	handshake  *verify.Handshake
	retryAfter string
}

// ServeHTTP handles one webhook request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	now := h.now()
	ep, ok := h.Registry.ByPath(r.URL.Path)
	if !ok {
		h.finish(w, r, nil, start, outcome{status: http.StatusNotFound, result: "rejected", reason: "UnknownPath"})
		return
	}
	o := h.handle(r, ep, now)
	// Only refused deliveries count: a GET from a scanner is not one.
	if o.result == "rejected" && o.status != http.StatusMethodNotAllowed {
		if err := h.Store.Incr(ep.UID, queue.CounterRejected, 1); err != nil {
			h.Log.V(1).Info("Counting rejection failed", "error", err.Error())
		}
	}
	h.finish(w, r, ep, start, o)
}

func (h *Handler) handle(r *http.Request, ep *registry.Endpoint, now time.Time) outcome {
	if r.Method != http.MethodPost {
		return outcome{status: http.StatusMethodNotAllowed, result: "rejected", reason: "MethodNotAllowed"}
	}
	addr, err := h.Proxies.Client(r)
	if err != nil || !ep.Allowed(addr) {
		return outcome{status: http.StatusForbidden, result: "rejected", reason: "SourceNotAllowed"}
	}
	if ep.Limiter != nil && !ep.Limiter.AllowN(now, 1) {
		return outcome{status: http.StatusTooManyRequests, result: "rejected", reason: "RateLimited", retryAfter: retryAfterFor(ep, now)}
	}
	if ep.Verifier == nil {
		return outcome{status: http.StatusServiceUnavailable, result: "error", reason: "EndpointMisconfigured"}
	}
	keys := ep.ValidKeys(now)
	if len(keys) == 0 {
		// Our side is misconfigured: ask the provider to come back later
		// rather than refusing an event that may be valid.
		return outcome{status: http.StatusServiceUnavailable, result: "error", reason: "SecretUnavailable"}
	}
	limit := ep.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if r.ContentLength > limit {
		return outcome{status: http.StatusRequestEntityTooLarge, result: "rejected", reason: "BodyTooLarge"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return outcome{status: http.StatusBadRequest, result: "rejected", reason: "BodyUnreadable"}
	}
	if int64(len(body)) > limit {
		return outcome{status: http.StatusRequestEntityTooLarge, result: "rejected", reason: "BodyTooLarge"}
	}
	if h.Metrics != nil {
		h.Metrics.BodyBytes.Observe(float64(len(body)))
	}
	res, err := ep.Verifier.Verify(&verify.Request{Method: r.Method, URL: h.Proxies.URL(r), Header: r.Header, Body: body}, keys, now)
	if err != nil {
		return outcome{status: http.StatusUnauthorized, result: "rejected", reason: string(verify.ReasonOf(err))}
	}
	if res.Handshake != nil {
		return outcome{status: res.Handshake.Status, result: "handshake", handshake: res.Handshake, delivery: res.DeliveryID}
	}
	ev := &queue.Event{
		EndpointUID: ep.UID,
		Endpoint:    ep.Key.String(),
		Provider:    ep.Provider,
		DeliveryID:  res.DeliveryID,
		ReceivedAt:  now,
		Header:      forwardedHeaders(r.Header),
		Body:        body,
	}
	enqStart := time.Now()
	window := max(ep.DedupeWindow, res.DedupeTTL)
	qr, err := h.Store.Enqueue(r.Context(), ev, window)
	if h.Metrics != nil {
		h.Metrics.EnqueueSeconds.Observe(time.Since(enqStart).Seconds())
	}
	if err != nil {
		h.Log.Error(err, "Storing event failed", "endpoint", ep.Key.String(), "delivery", res.DeliveryID)
		return outcome{status: http.StatusServiceUnavailable, result: "error", reason: "QueueUnavailable", delivery: res.DeliveryID}
	}
	counter, result := queue.CounterReceived, "accepted"
	if qr.Duplicate {
		counter, result = queue.CounterDuplicates, "duplicate"
	}
	if err := h.Store.Incr(ep.UID, counter, 1); err != nil {
		h.Log.V(1).Info("Counting event failed", "error", err.Error())
	}
	return outcome{status: http.StatusOK, result: result, delivery: res.DeliveryID}
}

func (h *Handler) finish(w http.ResponseWriter, r *http.Request, ep *registry.Endpoint, start time.Time, o outcome) {
	switch {
	case o.handshake != nil:
		if o.handshake.ContentType != "" {
			w.Header().Set("Content-Type", o.handshake.ContentType)
		}
		w.WriteHeader(o.status)
		_, _ = w.Write(o.handshake.Body)
	default:
		w.Header().Set("Content-Type", "application/json")
		switch {
		case o.retryAfter != "":
			w.Header().Set("Retry-After", o.retryAfter)
		case o.status == http.StatusServiceUnavailable:
			w.Header().Set("Retry-After", RetryAfterSeconds)
		}
		w.WriteHeader(o.status)
		body := map[string]string{"status": o.result}
		if o.reason != "" {
			body["reason"] = o.reason
		}
		_ = json.NewEncoder(w).Encode(body)
	}

	endpoint, provider := "", ""
	if ep != nil {
		endpoint, provider = ep.Key.String(), ep.Provider
	}
	if h.Metrics != nil {
		h.Metrics.Requests.WithLabelValues(endpoint, o.result, o.reason).Inc()
	}
	h.Log.Info("Webhook", "endpoint", endpoint, "provider", provider, "status", o.status,
		"outcome", o.result, "reason", o.reason, "delivery", o.delivery,
		"latency", time.Since(start).String(), "remote", r.RemoteAddr)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// retryAfterFor is the whole seconds until the limiter admits a request.
func retryAfterFor(ep *registry.Endpoint, now time.Time) string {
	res := ep.Limiter.ReserveN(now, 1)
	d := res.DelayFrom(now)
	// Reserving took a token; give it back, this request is refused.
	res.CancelAt(now)
	secs := int(d.Seconds())
	if time.Duration(secs)*time.Second < d {
		secs++
	}
	return strconv.Itoa(max(secs, 1))
}

// dropHeaders are never stored or forwarded: hop-by-hop headers, headers
// that describe this hop, and credentials meant for the receiver.
var dropHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Connection": true, "Keep-Alive": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Authorization": true, "Cookie": true, "Forwarded": true, "Accept-Encoding": true,
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true,
	"X-Forwarded-Port": true, "X-Real-Ip": true,
	// Shared secrets sent as headers (GitLab's token): the secret itself,
	// not a signature, so it must not reach the queue or the target.
	"X-Gitlab-Token": true,
}

func forwardedHeaders(in http.Header) map[string][]string {
	out := make(map[string][]string, len(in))
	for k, vs := range in {
		if dropHeaders[k] {
			continue
		}
		out[k] = vs
	}
	return out
}

// RetryAfterSeconds is the Retry-After sent with a 503.
var RetryAfterSeconds = strconv.Itoa(5)
