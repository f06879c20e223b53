// Package v1alpha1 is the wire contract of Hookgate's events API: the
// history of one WebhookEndpoint's requests and delivery attempts, and the
// actions on them (retry, replay). The manager serves it (internal/eventsapi),
// the receiver records it (internal/history), and kubectl-hookgate reads
// it; this package is the one home of its paths, headers, RBAC names and
// types. It is not a Kubernetes API group served by the API server: it is
// named like one so that its RBAC reads like one.
package v1alpha1

import (
	"bytes"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Group and Version name the API in paths.
const (
	Group   = "events.hookgate.io"
	Version = "v1alpha1"
	// PathPrefix is where every path of the API starts.
	PathPrefix = "/apis/" + Group + "/" + Version + "/"
)

// RBAC: the events API asks the API server, with a SubjectAccessReview,
// whether the caller may act on these subresources of the endpoint
// (apiGroup hookgate.io, resource webhookendpoints).
const (
	RBACGroup    = "hookgate.io"
	RBACResource = "webhookendpoints"
	// SubresourceEvents: verb list reads the history (no headers, no
	// bodies); verb get also reads headers, bodies and target responses,
	// and allows the text search (q), which would otherwise reveal them.
	SubresourceEvents = "events"
	// SubresourceReplay: verb create retries or replays events.
	SubresourceReplay = "replay"
)

// AuthorizationHeader carries "Bearer <token>" when the request comes
// through the API server's service proxy, which authenticates the caller
// and then drops Authorization. Direct requests may use Authorization.
const AuthorizationHeader = "X-Hookgate-Authorization"

// EndpointPath is the path of one endpoint's part of the API:
// /apis/events.hookgate.io/v1alpha1/namespaces/<ns>/webhookendpoints/<name>.
// Under it:
//
//	GET  .../events          list (Query as URL parameters); ?watch=true streams WatchEvents as JSON lines
//	GET  .../events/<id>     one Event with its headers, body and attempts
//	POST .../retry           RetryRequest -> ActionResult
//	POST .../replay          ReplayRequest -> ActionResult
func EndpointPath(namespace, name string) string {
	return PathPrefix + "namespaces/" + url.PathEscape(namespace) + "/webhookendpoints/" + url.PathEscape(name)
}

// Outcome is what the receiver answered a request.
type Outcome string

// Outcomes of a request.
const (
	// OutcomeAccepted: verified and stored; the event is delivered.
	OutcomeAccepted Outcome = "accepted"
	// OutcomeDuplicate: a redelivery of a stored event, answered 2xx and not stored again.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeRejected: refused (4xx), e.g. a bad signature; Reason says why.
	OutcomeRejected Outcome = "rejected"
	// OutcomeHandshake: a provider's verification handshake, answered and not stored.
	OutcomeHandshake Outcome = "handshake"
	// OutcomeError: not stored because of our side (5xx, the sender retries).
	OutcomeError Outcome = "error"
)

// Status is where an accepted event is in its delivery.
type Status string

// Statuses of an accepted event. With several targets, the worst of
// theirs: DeadLettered, then Retrying, then Pending, then Delivered/Dropped.
const (
	// StatusPending: stored, no attempt finished yet.
	StatusPending Status = "Pending"
	// StatusDelivered: the target answered 2xx.
	StatusDelivered Status = "Delivered"
	// StatusRetrying: an attempt failed and another is scheduled.
	StatusRetrying Status = "Retrying"
	// StatusDeadLettered: its attempts are used up; it waits in the
	// dead-letter stream for a retry or replay.
	StatusDeadLettered Status = "DeadLettered"
	// StatusDropped: the target's filter did not want it.
	StatusDropped Status = "Dropped"
)

// StatusFailed is the Query.Status value that selects Retrying and
// DeadLettered events together.
const StatusFailed Status = "Failed"

// Outcomes are every Outcome, and QueryStatuses every value Query.Status
// takes: what the API accepts and the plugin offers.
var (
	Outcomes      = []Outcome{OutcomeAccepted, OutcomeDuplicate, OutcomeRejected, OutcomeHandshake, OutcomeError}
	QueryStatuses = []Status{StatusPending, StatusDelivered, StatusRetrying, StatusDeadLettered, StatusDropped, StatusFailed}
)

// Named returns the value of list that s names, in any case.
func Named[T ~string](s string, list []T) (T, bool) {
	for _, v := range list {
		if strings.EqualFold(s, string(v)) {
			return v, true
		}
	}
	return "", false
}

// AttemptOutcome is what one delivery attempt, or an action on the event, did.
type AttemptOutcome string

// Attempt outcomes.
const (
	AttemptDelivered    AttemptOutcome = "Delivered"
	AttemptFailed       AttemptOutcome = "Failed"
	AttemptDeadLettered AttemptOutcome = "DeadLettered"
	AttemptDropped      AttemptOutcome = "Dropped"
	// AttemptRetried: a person retried or replayed the event (By says who);
	// it is back in the queue.
	AttemptRetried AttemptOutcome = "Retried"
)

// Event is one request to an endpoint and, when it was accepted, its
// delivery.
type Event struct {
	// ID is the event's id: for an accepted event its Hookgate-Event-Id
	// (the target's Idempotency-Key); for any other request an id of the
	// record alone.
	ID        string    `json:"id"`
	Namespace string    `json:"namespace"`
	Endpoint  string    `json:"endpoint"`
	Time      time.Time `json:"time"`
	Outcome   Outcome   `json:"outcome"`
	// Reason says why a request was rejected or not stored, e.g.
	// SignatureMismatch, SourceNotAllowed, QuotaExceeded.
	Reason string `json:"reason,omitempty"`
	// Code is the HTTP status the receiver answered.
	Code int `json:"code"`
	// Status of an accepted event's delivery; empty for other outcomes.
	Status     Status `json:"status,omitempty"`
	Provider   string `json:"provider,omitempty"`
	DeliveryID string `json:"deliveryID,omitempty"`
	// Type is the provider's event type, when it sends one.
	Type string `json:"type,omitempty"`
	// Source is the client address the allowlist judged.
	Source string `json:"source,omitempty"`
	Method string `json:"method,omitempty"`
	// Size of the request body in bytes (-1: unknown, chunked).
	Size int64 `json:"size"`
	// Headers and Body of an accepted event as stored (after the
	// endpoint's spec.history redaction); only for a caller with get on
	// webhookendpoints/events.
	Headers map[string][]string `json:"headers,omitempty"`
	Body    []byte              `json:"body,omitempty"`
	// BodyOmitted: spec.history.body is Omit, or the body is not JSON or a
	// form while fields are to be redacted.
	BodyOmitted bool `json:"bodyOmitted,omitempty"`
	// BodyTruncated: only the first spec.history.maxBodyBytes are kept.
	BodyTruncated bool `json:"bodyTruncated,omitempty"`
	// Redacted lists the header names and body fields that were redacted.
	Redacted []string `json:"redacted,omitempty"`
	// Hidden: headers, body and responses were left out because the
	// caller may not get webhookendpoints/events.
	Hidden bool `json:"hidden,omitempty"`
	// Attempts, oldest first (one event's GET), or only the latest (list).
	Attempts []Attempt `json:"attempts,omitempty"`
}

// Hide strips what a caller without get on webhookendpoints/events may
// not see: headers, body and the targets' responses, and says so
// (Hidden). The attempts are copied, not changed in place: they may be
// shared with whoever handed ev over.
func (e *Event) Hide() {
	e.Headers, e.Body, e.Hidden = nil, nil, true
	if e.Attempts != nil {
		e.Attempts = append([]Attempt(nil), e.Attempts...)
		for i := range e.Attempts {
			e.Attempts[i].Response = nil
		}
	}
}

// Attempt is one delivery attempt of an event, or an action on it.
type Attempt struct {
	EventID string `json:"eventID"`
	// Target is the target's name (spec.targets[].name, or the Service's).
	Target  string         `json:"target,omitempty"`
	Attempt int            `json:"attempt,omitempty"`
	Time    time.Time      `json:"time"`
	Outcome AttemptOutcome `json:"outcome"`
	// Code is the target's HTTP status; 0 when it gave none.
	Code int `json:"code,omitempty"`
	// LatencyMillis is from sending the request to the target's answer.
	LatencyMillis float64 `json:"latencyMillis,omitempty"`
	// Reason and Error say why an attempt failed (as in status.lastFailure).
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// Response is the first KiB of the target's answer (get only).
	Response []byte `json:"response,omitempty"`
	// NextAttempt is when a failed event is tried again.
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
	// By is who retried or replayed the event (AttemptRetried).
	By string `json:"by,omitempty"`
}

// MaxResponseBytes is how much of a target's answer an Attempt keeps.
const MaxResponseBytes = 1024

// Query selects events. Every field is optional; they combine with AND.
type Query struct {
	// Outcome of the request.
	Outcome Outcome
	// Status of an accepted event; StatusFailed selects Retrying and DeadLettered.
	Status Status
	// Since and Until bound the request's time (Until exclusive).
	Since, Until time.Time
	DeliveryID   string
	Type         string
	// Text is searched for, case-insensitively, in header values and the body.
	Text string
	// Limit is the most events returned (default DefaultLimit, at most MaxLimit).
	Limit int
	// Continue resumes a listing where the previous page ended.
	Continue string
}

// Match returns q's test of one request record: every filter but the
// Status value itself, which needs the event's attempts (a Status selects
// accepted events only, so it is tested that far). A list, a watch and
// any other reader of records filter with it, so a query means the same
// everywhere.
func (q Query) Match() func(ev *Event) bool {
	lower := strings.ToLower(q.Text)
	return func(ev *Event) bool {
		switch {
		case q.Outcome != "" && ev.Outcome != q.Outcome,
			q.Status != "" && ev.Outcome != OutcomeAccepted,
			q.DeliveryID != "" && ev.DeliveryID != q.DeliveryID,
			q.Type != "" && ev.Type != q.Type,
			!q.Since.IsZero() && ev.Time.Before(q.Since),
			!q.Until.IsZero() && !ev.Time.Before(q.Until):
			return false
		}
		return lower == "" || ContainsText(ev.Headers, ev.Body, lower)
	}
}

// ContainsText reports whether lower, in lower case, is in a header value
// or the body, in any case: Query.Text's search, also over dead letters.
func ContainsText(headers map[string][]string, body []byte, lower string) bool {
	for _, vs := range headers {
		for _, v := range vs {
			if strings.Contains(strings.ToLower(v), lower) {
				return true
			}
		}
	}
	return bytes.Contains(bytes.ToLower(body), []byte(lower))
}

// Limits of a listing.
const (
	DefaultLimit = 50
	MaxLimit     = 500
	// MaxScan is the most records one list call reads; a page that stops
	// there returns Continue even with fewer than Limit items.
	MaxScan = 20000
)

// URL parameter names of a Query.
const (
	ParamOutcome  = "outcome"
	ParamStatus   = "status"
	ParamSince    = "since"
	ParamUntil    = "until"
	ParamDelivery = "delivery"
	ParamType     = "type"
	ParamText     = "q"
	ParamLimit    = "limit"
	ParamContinue = "continue"
	ParamWatch    = "watch"
)

// ParseTime reads a since or until value as the API takes it: an RFC 3339
// time, or a duration meaning that long before now (90m); ok is false
// for anything else. "" is the zero time.
func ParseTime(s string, now time.Time) (t time.Time, ok bool) {
	if s == "" {
		return time.Time{}, true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), true
	}
	return time.Time{}, false
}

// Values encodes q as URL parameters (times RFC 3339).
func (q Query) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set(ParamOutcome, string(q.Outcome))
	set(ParamStatus, string(q.Status))
	if !q.Since.IsZero() {
		v.Set(ParamSince, q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set(ParamUntil, q.Until.UTC().Format(time.RFC3339Nano))
	}
	set(ParamDelivery, q.DeliveryID)
	set(ParamType, q.Type)
	set(ParamText, q.Text)
	if q.Limit > 0 {
		v.Set(ParamLimit, strconv.Itoa(q.Limit))
	}
	set(ParamContinue, q.Continue)
	return v
}

// EventList is a page of events, oldest first.
type EventList struct {
	Items []Event `json:"items"`
	// Continue, when set, is passed as Query.Continue for the next page.
	Continue string `json:"continue,omitempty"`
	// Scanned is how many records this page read.
	Scanned int `json:"scanned"`
}

// RetryRequest retries the named events: each dead-lettered one is moved
// back into the queue (with its original headers and body) and delivered
// again.
type RetryRequest struct {
	IDs []string `json:"ids"`
}

// MaxRetryIDs bounds a RetryRequest, and ReplayRequest.Limit.
const MaxRetryIDs = 1000

// ReplayRequest replays the endpoint's dead letters that match a filter.
type ReplayRequest struct {
	Since *time.Time `json:"since,omitempty"`
	Until *time.Time `json:"until,omitempty"`
	Type  string     `json:"type,omitempty"`
	// Text as in Query (needs get on webhookendpoints/events).
	Text string `json:"text,omitempty"`
	// Limit is the most dead letters replayed (default and at most MaxRetryIDs).
	Limit int `json:"limit,omitempty"`
	// DryRun lists what would be replayed without replaying it.
	DryRun bool `json:"dryRun,omitempty"`
}

// ActionResult says what a retry or replay did to each event.
type ActionResult struct {
	Items []ActionItem `json:"items"`
	// Retried is how many events went back into the queue.
	Retried int `json:"retried"`
}

// ActionItem is one event's result.
type ActionItem struct {
	ID     string        `json:"id"`
	Result ActionOutcome `json:"result"`
	// Message says more, e.g. why an event could not be retried.
	Message string `json:"message,omitempty"`
}

// ActionOutcome is one event's result in an ActionResult.
type ActionOutcome string

// Action outcomes.
const (
	ActionRetried ActionOutcome = "Retried"
	// ActionWouldRetry: a dry run's match.
	ActionWouldRetry ActionOutcome = "WouldRetry"
	// ActionNotFound: no dead letter with that id (delivered, still being
	// retried, expired, or never accepted).
	ActionNotFound ActionOutcome = "NotFound"
)

// WatchEvent is one line of a watch: a new request, or a new attempt.
type WatchEvent struct {
	// Type is "Event" or "Attempt".
	Type    string   `json:"type"`
	Event   *Event   `json:"event,omitempty"`
	Attempt *Attempt `json:"attempt,omitempty"`
}

// Watch event types.
const (
	WatchTypeEvent   = "Event"
	WatchTypeAttempt = "Attempt"
)
