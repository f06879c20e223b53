// Package server is the receiver's HTTP handler: one server for every
// WebhookEndpoint, routed by the path the controller assigned. A request is
// answered 2xx only after its event is durably stored in JetStream.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/nats-io/nuid"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/accesslog"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/history"
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
	// Admission bounds requests and body bytes in flight; nil is unbounded.
	Admission *Admission
	// Quota refuses an endpoint's events while it is at its storage
	// quota; nil never does.
	Quota *Quota
	// Sources slows down addresses whose requests keep failing; nil never does.
	Sources *SourceLimiter
	// Now is the clock; tests inject one.
	Now func() time.Time
	// Handshakes stores secrets captured from armed handshakes (Asana's
	// X-Hook-Secret, capture.go); nil refuses them with 503.
	Handshakes HandshakeSecrets
	// Access gets one record per request, never sampled (the application
	// log is for errors); nil records none.
	Access *accesslog.Logger
	// History records every request to a known endpoint, with an
	// accepted event's headers and body (internal/history.Recorder); nil
	// records none.
	History RequestRecorder
}

// RequestRecorder records requests in an endpoint's history.
type RequestRecorder interface {
	Request(uid string, p *history.Policy, ev *eventsv1.Event)
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
	// stored is the accepted event, for the history.
	stored *queue.Event
}

// ServeHTTP handles one webhook request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	now := h.now()
	// The client address, judged once: by the allowlist and the source
	// limiter in handle, and recorded in the access log.
	client, clientErr := h.Proxies.Client(r)
	if !h.Admission.enter() {
		h.finish(w, r, nil, start, client, clientErr, overloaded)
		return
	}
	defer h.Admission.leave()
	ep, ok := h.Registry.ByPath(r.URL.Path)
	if !ok {
		h.finish(w, r, nil, start, client, clientErr, outcome{status: http.StatusNotFound, result: "rejected", reason: "UnknownPath"})
		return
	}
	o := h.handle(r, ep, now, client, clientErr)
	// Only refused deliveries count: a GET from a scanner is not one, nor
	// a request from an address already slowed down for its refusals
	// (counting those would turn a flood into a flood of counter writes).
	if o.result == "rejected" && o.status != http.StatusMethodNotAllowed && o.reason != ReasonTooManyRefusals {
		if err := h.Store.Incr(ep.UID, queue.CounterRejected, 1); err != nil {
			h.Log.V(1).Info("Counting rejection failed", "error", err.Error())
		}
	}
	h.finish(w, r, ep, start, client, clientErr, o)
}

func (h *Handler) handle(r *http.Request, ep *registry.Endpoint, now time.Time, addr netip.Addr, addrErr error) outcome {
	// A provider's handshake may come as a GET (Okta, Mailchimp): it is
	// let through to the verifier, and answered only if it is a handshake
	// that proves itself; it is never stored as an event.
	handshakeOnly := r.Method != http.MethodPost
	if handshakeOnly && (ep.HandshakeMethod == "" || r.Method != ep.HandshakeMethod) {
		return outcome{status: http.StatusMethodNotAllowed, result: "rejected", reason: "MethodNotAllowed"}
	}
	if addrErr != nil {
		return outcome{status: http.StatusForbidden, result: "rejected", reason: "SourceNotAllowed"}
	}
	if h.Sources.Blocked(addr, now) {
		return outcome{status: http.StatusTooManyRequests, result: "rejected", reason: ReasonTooManyRefusals, retryAfter: "1"}
	}
	if !ep.Allowed(addr) {
		h.Sources.Refused(addr, now)
		return outcome{status: http.StatusForbidden, result: "rejected", reason: "SourceNotAllowed"}
	}
	// Before the keys: the handshake is how the first key arrives.
	if o, ok := h.captureHandshake(r, ep, now); ok {
		if o.result == "rejected" {
			h.Sources.Refused(addr, now)
		}
		return o
	}
	if ep.Verifier == nil {
		return outcome{status: http.StatusServiceUnavailable, result: "error", reason: "EndpointMisconfigured"}
	}
	keys := ep.ValidKeys(now)
	if len(keys) == 0 && !ep.KeysInVerifier {
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
	// Reserve the most this body can take before reading a byte of it.
	need := r.ContentLength
	if need < 0 {
		need = limit
	}
	release, ok := h.Admission.reserve(need)
	if !ok {
		return overloaded
	}
	defer release()
	body, err := readBody(r, limit)
	if errors.Is(err, errBodyTooLarge) {
		return outcome{status: http.StatusRequestEntityTooLarge, result: "rejected", reason: "BodyTooLarge"}
	}
	if err != nil {
		return outcome{status: http.StatusBadRequest, result: "rejected", reason: "BodyUnreadable"}
	}
	if h.Metrics != nil {
		h.Metrics.BodyBytes.Observe(float64(len(body)))
	}
	res, err := ep.Verifier.Verify(&verify.Request{Method: r.Method, URL: h.Proxies.URL(r), Header: r.Header, Body: body}, keys, now)
	if err != nil {
		h.Sources.Refused(addr, now)
		return outcome{status: http.StatusUnauthorized, result: "rejected", reason: string(verify.ReasonOf(err))}
	}
	// Only verified requests spend the endpoint's rate: a sender without
	// the key must not be able to make the provider's own requests fail.
	if ep.Limiter != nil && !ep.Limiter.AllowN(now, 1) {
		return outcome{status: http.StatusTooManyRequests, result: "rejected", reason: "RateLimited", retryAfter: retryAfterFor(ep, now)}
	}
	if res.Handshake != nil {
		return outcome{status: res.Handshake.Status, result: "handshake", handshake: res.Handshake, delivery: res.DeliveryID}
	}
	if handshakeOnly {
		return outcome{status: http.StatusMethodNotAllowed, result: "rejected", reason: "MethodNotAllowed"}
	}
	if why := h.Quota.Check(ep, len(body)); why != "" {
		h.Log.V(1).Info("Endpoint over its storage quota", "endpoint", ep.Name(), "usage", why)
		return outcome{status: http.StatusServiceUnavailable, result: "error", reason: ReasonQuotaExceeded, retryAfter: quotaRetryAfter, delivery: res.DeliveryID}
	}
	ev := &queue.Event{
		ID:          nuid.Next(),
		EndpointUID: ep.UID,
		Endpoint:    ep.Name(),
		Provider:    ep.Provider,
		DeliveryID:  res.DeliveryID,
		ReceivedAt:  now,
		Header:      forwardedHeaders(r.Header),
		Body:        body,
		ReplayGuard: res.ReplayGuard(),
	}
	enqStart := time.Now()
	window := max(ep.DedupeWindow, res.DedupeTTL)
	qr, err := h.Store.Enqueue(r.Context(), ev, window)
	if h.Metrics != nil {
		h.Metrics.EnqueueSeconds.Observe(time.Since(enqStart).Seconds())
	}
	if err != nil {
		switch serr := queue.StoreError(err); {
		case errors.Is(serr, queue.ErrQuotaExceeded):
			return outcome{status: http.StatusServiceUnavailable, result: "error", reason: ReasonQuotaExceeded, retryAfter: quotaRetryAfter, delivery: res.DeliveryID}
		case errors.Is(serr, queue.ErrStoreFull):
			h.Log.Error(err, "Event store full", "endpoint", ep.Name(), "delivery", res.DeliveryID)
			return outcome{status: http.StatusServiceUnavailable, result: "error", reason: ReasonStoreFull, retryAfter: quotaRetryAfter, delivery: res.DeliveryID}
		}
		h.Log.Error(err, "Storing event failed", "endpoint", ep.Name(), "delivery", res.DeliveryID)
		return outcome{status: http.StatusServiceUnavailable, result: "error", reason: "QueueUnavailable", delivery: res.DeliveryID}
	}
	// Nothing is counted for a stored event: received is derived from what
	// is stored and finished (queue.Counters).
	result := "accepted"
	if qr.Duplicate {
		result = "duplicate"
		if err := h.Store.Incr(ep.UID, queue.CounterDuplicates, 1); err != nil {
			h.Log.V(1).Info("Counting event failed", "error", err.Error())
		}
	}
	if !qr.Duplicate {
		h.Quota.Stored(ep.UID, len(body))
	}
	return outcome{status: http.StatusOK, result: result, delivery: res.DeliveryID, stored: ev}
}

func (h *Handler) finish(w http.ResponseWriter, r *http.Request, ep *registry.Endpoint, start time.Time, client netip.Addr, clientErr error, o outcome) {
	switch {
	case o.handshake != nil:
		for k, vs := range o.handshake.Header {
			w.Header()[k] = vs
		}
		if o.handshake.ContentType != "" {
			w.Header().Set("Content-Type", o.handshake.ContentType)
		}
		w.WriteHeader(o.status)
		_, _ = w.Write(o.handshake.Body)
	default:
		w.Header().Set("Content-Type", "application/json")
		switch {
		case o.status == http.StatusServiceUnavailable && o.reason == ReasonOverloaded:
			w.Header().Set("Retry-After", "1")
		case o.retryAfter != "":
			w.Header().Set("Retry-After", o.retryAfter)
		case o.status == http.StatusServiceUnavailable:
			w.Header().Set("Retry-After", RetryAfterSeconds)
		}
		w.WriteHeader(o.status)
		_, _ = w.Write(answerBody(o.result, o.reason))
	}

	endpoint, provider := "", ""
	if ep != nil {
		endpoint, provider = ep.Name(), ep.Provider
	}
	if h.Metrics != nil {
		h.Metrics.Requests.WithLabelValues(endpoint, o.result, o.reason).Inc()
	}
	if h.History != nil && ep != nil && ep.History != nil && !ep.History.Disabled {
		h.recordHistory(r, ep, start, client, clientErr, o)
	}
	if h.Access != nil {
		rec := accesslog.Record{Time: start, RemoteAddr: r.RemoteAddr, Method: r.Method, Endpoint: endpoint, Provider: provider,
			Status: o.status, Outcome: o.result, Reason: o.reason, Delivery: o.delivery, BodyBytes: r.ContentLength,
			Latency: time.Since(start)}
		// The address the allowlist judged.
		if clientErr == nil {
			rec.Client = client
		}
		h.Access.Record(rec)
	}
}

// recordHistory writes the request to the endpoint's history: what
// happened to it and, for an accepted event, its id, type, headers and
// body (the recorder redacts them by the endpoint's policy).
func (h *Handler) recordHistory(r *http.Request, ep *registry.Endpoint, start time.Time, client netip.Addr, clientErr error, o outcome) {
	ev := &eventsv1.Event{
		Namespace: ep.Key.Namespace, Endpoint: ep.Key.Name,
		Time: start.UTC(), Outcome: eventsv1.Outcome(o.result), Reason: o.reason, Code: o.status,
		Provider: ep.Provider, DeliveryID: o.delivery, Method: r.Method, Size: r.ContentLength,
	}
	if clientErr == nil && client.IsValid() {
		ev.Source = client.String()
	} else {
		ev.Source = r.RemoteAddr
	}
	if o.stored != nil && o.result == string(eventsv1.OutcomeAccepted) {
		ev.ID = o.stored.ID
		ev.Status = eventsv1.StatusPending
		ev.Type = ep.EventType.Of(r.Header, o.stored.Body)
		ev.Headers, ev.Body = o.stored.Header, o.stored.Body
		ev.Size = int64(len(o.stored.Body))
	} else {
		ev.ID = nuid.Next()
	}
	h.History.Request(ep.UID, ep.History, ev)
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

// ReasonOverloaded: the receiver is at its bound of requests or body bytes
// in flight; the sender should retry in a second.
const ReasonOverloaded = "Overloaded"

// ReasonTooManyRefusals: the client address sent too many requests that
// were refused (bad signature, not allowlisted) and is slowed down.
const ReasonTooManyRefusals = "TooManyRefusals"

// ReasonQuotaExceeded: the endpoint has as many events or bytes waiting
// for delivery as its quota allows.
const ReasonQuotaExceeded = "QuotaExceeded"

// ReasonStoreFull: the store as a whole is at its limit.
const ReasonStoreFull = "StoreFull"

// quotaRetryAfter: a quota frees up as the target drains, not at once.
const quotaRetryAfter = "30"

var overloaded = outcome{status: http.StatusServiceUnavailable, result: "error", reason: ReasonOverloaded}

var errBodyTooLarge = errors.New("body too large")

// readBody reads the whole body, at most limit bytes. A known length is
// read into a buffer of exactly that size, so what was reserved is what is
// held; an unknown one grows to at most limit+1.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength >= 0 {
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, errBodyTooLarge
	}
	return body, nil
}

// answers holds the JSON answer of each result and reason met so far (both
// come from a fixed set of names): encoded once, not per request.
var answers sync.Map

// answerBody is {"reason":…,"status":…} and a newline, as encoding/json
// writes it.
func answerBody(result, reason string) []byte {
	key := result + "/" + reason
	if b, ok := answers.Load(key); ok {
		return b.([]byte)
	}
	body := map[string]string{"status": result}
	if reason != "" {
		body["reason"] = reason
	}
	b, _ := json.Marshal(body)
	b = append(b, '\n')
	answers.Store(key, b)
	return b
}

// RetryAfterSeconds is the Retry-After sent with a 503.
var RetryAfterSeconds = strconv.Itoa(5)
