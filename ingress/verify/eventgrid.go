package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Azure Event Grid's subscription validation (Event Grid schema), as
// documented in "Endpoint validation with Event Grid event schema"
// (https://learn.microsoft.com/en-us/azure/event-grid/end-point-validation-event-grid-events-schema):
// a POSTed Microsoft.EventGrid.SubscriptionValidationEvent whose data has
// validationCode and, from API version 2018-05-01-preview, validationUrl.
//
//   - Synchronous handshake (hookv1.EventGridValidationCode, the default):
//     the answer is 200 {"validationResponse": "<validationCode>"}.
//   - Asynchronous handshake (hookv1.EventGridValidationURL): the answer is
//     200 without a validation response, which moves the subscription to
//     AwaitingManualAction; a GET of validationUrl within 10 minutes
//     completes it. The receiver does that GET itself, in the background,
//     after the answer (eventGridConfirmer), and only for an https URL on
//     eventGridHost (checkEventGridURL); any other URL is answered 400 and
//     never fetched.
//
// Both are answered only after the request's token verified (jwtVerifier),
// and a validation event is never stored as an event.

// EventGridOptions configure azure-eventgrid's validation handshake
// (spec.eventGrid).
type EventGridOptions struct {
	// Validation is the mode; empty: hookv1.EventGridValidationCode.
	Validation hookv1.EventGridValidation
	// Confirm GETs a validationUrl; nil: a bounded GET with
	// DefaultFetchClient (confirmGET), which follows no redirect and
	// reaches public addresses only.
	Confirm func(ctx context.Context, validationURL string) error
	// Now is the confirmations' clock (the URL's validity, the memory of
	// confirmed URLs); nil: time.Now.
	Now func() time.Time
	// After waits before an attempt; nil: time.After.
	After func(time.Duration) <-chan time.Time

	// confirmer runs the confirmations; nil: defaultEventGridConfirmer.
	// Tests set their own to wait for it.
	confirmer *eventGridConfirmer
}

// EventGridOptionsFromSpec are the verifier's options of spec.eventGrid.
func EventGridOptionsFromSpec(s *hookv1.EventGridSpec) *EventGridOptions {
	if s == nil {
		return nil
	}
	return &EventGridOptions{Validation: s.GetValidation()}
}

// Bounds of the asynchronous handshake.
const (
	// eventGridHost is the host, or the parent domain of the host, of
	// every validationUrl accepted (e.g. rp-eastus2.eventgrid.azure.net).
	// Sovereign clouds' hosts are not documented and not accepted.
	eventGridHost = "eventgrid.azure.net"
	// maxEventGridURLLen bounds a validationUrl.
	maxEventGridURLLen = 2048
	// EventGridValidity is how long Event Grid accepts the GET.
	EventGridValidity = 10 * time.Minute
	// eventGridConcurrency bounds the GETs in flight, all endpoints
	// together.
	eventGridConcurrency = 4
	// eventGridMaxPending bounds the confirmations scheduled or running;
	// beyond it a validation event is answered 503 (ValidationURLBusy).
	eventGridMaxPending = 64
	// eventGridGETTimeout bounds one GET.
	eventGridGETTimeout = 10 * time.Second
	// eventGridMemory is how long a validationUrl is remembered after its
	// confirmation ended (confirmed or not): a replayed validation event,
	// possible while its token is valid (an hour for Entra ID), costs no
	// further GET.
	eventGridMemory = time.Hour
	// eventGridMemoryMax bounds the remembered URLs.
	eventGridMemoryMax = 1024
)

// eventGridAttempts are the waits before each GET, from the answer: the
// first lets the answer reach Event Grid, so that the subscription is
// AwaitingManualAction when the GET arrives. All fall well within
// EventGridValidity.
var eventGridAttempts = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}

// eventGridValidation is the data of a SubscriptionValidationEvent.
type eventGridValidation struct {
	Code string
	URL  string
}

// parseEventGridValidation finds a SubscriptionValidationEvent in an Event
// Grid schema body (a JSON array of events). ok is false when the body is
// no validation event (an ordinary event, another schema); err when it is
// one but malformed (not alone in its batch, data not of strings), so that
// it is refused rather than stored.
func parseEventGridValidation(body []byte) (ev eventGridValidation, ok bool, err error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '[' {
		return ev, false, nil
	}
	var events []struct {
		EventType json.RawMessage `json:"eventType"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &events); err != nil {
		return ev, false, nil
	}
	for _, e := range events {
		var typ string
		if json.Unmarshal(e.EventType, &typ) != nil || typ != EventGridValidationEvent {
			continue
		}
		if len(events) != 1 {
			return ev, true, fail(ReasonMalformedSignature, "a validation event comes alone")
		}
		var data struct {
			ValidationCode string `json:"validationCode"`
			ValidationURL  string `json:"validationUrl"`
		}
		if len(e.Data) > 0 && json.Unmarshal(e.Data, &data) != nil {
			return ev, true, fail(ReasonMalformedSignature, "the validation event's validationCode and validationUrl are not strings")
		}
		return eventGridValidation{Code: data.ValidationCode, URL: data.ValidationURL}, true, nil
	}
	return ev, false, nil
}

// checkEventGridURL accepts an absolute https URL on eventGridHost or a
// subdomain of it, any port, no userinfo, nothing else. The host must be
// plain ASCII labels, so no encoding can make it mean another host.
func checkEventGridURL(raw string) (*url.URL, error) {
	refuse := fail(ReasonMalformedSignature, "validationUrl is not an https URL on %s", eventGridHost)
	if raw == "" || len(raw) > maxEventGridURLLen {
		return nil, refuse
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Opaque != "" || u.Host == "" {
		return nil, refuse
	}
	host := strings.ToLower(u.Hostname())
	if host != eventGridHost && !strings.HasSuffix(host, "."+eventGridHost) {
		return nil, refuse
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return nil, refuse
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
			return nil, refuse
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, refuse
	}
	u.Host = strings.ToLower(u.Host)
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// Outcomes of the asynchronous handshake, in the answer's status.
const (
	EventGridURLScheduled = "ValidationURLScheduled"
	EventGridURLConfirmed = "ValidationURLConfirmed"
	EventGridURLFailed    = "ValidationURLFailed"
	EventGridURLRefused   = "ValidationURLRefused"
	EventGridURLBusy      = "ValidationURLBusy"
)

// answerEventGridValidation answers a verified request's validation
// event, if it is one, per o's mode.
func answerEventGridValidation(o *EventGridOptions, body []byte) (*Handshake, bool, error) {
	ev, ok, err := parseEventGridValidation(body)
	if !ok || err != nil {
		return nil, ok, err
	}
	mode := hookv1.EventGridValidationCode
	if o != nil && o.Validation != "" {
		mode = o.Validation
	}
	if mode == hookv1.EventGridValidationCode && !(ev.Code == "" && ev.URL != "") {
		if !tokenText(ev.Code) {
			return nil, true, fail(ReasonMalformedSignature, "validationCode is not a short token")
		}
		b, _ := json.Marshal(map[string]string{"validationResponse": ev.Code})
		return &Handshake{Status: http.StatusOK, ContentType: "application/json", Body: b}, true, nil
	}
	// URL mode, or a Code-mode event that only has a validationUrl.
	u, err := checkEventGridURL(ev.URL)
	if err != nil {
		return outcomeAnswer(http.StatusBadRequest, EventGridURLRefused), true, nil
	}
	return outcomeAnswer(o.confirmerOrDefault().schedule(o, u.String())), true, nil
}

func (o *EventGridOptions) confirmerOrDefault() *eventGridConfirmer {
	if o == nil || o.confirmer == nil {
		return defaultEventGridConfirmer
	}
	return o.confirmer
}

// eventGridConfirmer GETs validationUrls in the background: at most
// eventGridConcurrency at a time, eventGridMaxPending scheduled, each URL
// tried len(eventGridAttempts) times within EventGridValidity and then
// remembered for eventGridMemory. It is shared by every endpoint's
// verifier: endpoints are recompiled on every status update, the memory
// must outlive them (as SNS's confirmed).
type eventGridConfirmer struct {
	mu      sync.Mutex
	seen    map[string]*eventGridEntry
	pending int
	slots   chan struct{}
	wg      sync.WaitGroup
}

type eventGridEntry struct {
	state string // EventGridURLScheduled, EventGridURLConfirmed, EventGridURLFailed
	ended time.Time
}

var defaultEventGridConfirmer = newEventGridConfirmer()

func newEventGridConfirmer() *eventGridConfirmer {
	return &eventGridConfirmer{seen: map[string]*eventGridEntry{}, slots: make(chan struct{}, eventGridConcurrency)}
}

// schedule starts the confirmation of u unless it is known, and returns the
// answer's status and outcome.
func (c *eventGridConfirmer) schedule(o *EventGridOptions, u string) (int, string) {
	var opts EventGridOptions
	if o != nil {
		opts = *o
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	after := opts.After
	if after == nil {
		after = time.After
	}
	do := opts.Confirm
	if do == nil {
		do = confirmGET
	}
	received := now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.seen[u]; ok {
		if e.state == EventGridURLScheduled || received.Sub(e.ended) < eventGridMemory {
			switch e.state {
			case EventGridURLFailed:
				return http.StatusBadGateway, e.state
			default:
				return http.StatusOK, e.state
			}
		}
		delete(c.seen, u)
	}
	if c.pending >= eventGridMaxPending {
		return http.StatusServiceUnavailable, EventGridURLBusy
	}
	if len(c.seen) >= eventGridMemoryMax {
		c.forget(received)
		if len(c.seen) >= eventGridMemoryMax {
			return http.StatusServiceUnavailable, EventGridURLBusy
		}
	}
	c.seen[u] = &eventGridEntry{state: EventGridURLScheduled}
	c.pending++
	c.wg.Add(1)
	go c.run(u, received, do, now, after)
	return http.StatusOK, EventGridURLScheduled
}

// forget drops ended entries past eventGridMemory and, if the memory is
// still full, every ended one: never a scheduled one, which pending bounds.
func (c *eventGridConfirmer) forget(now time.Time) {
	for k, e := range c.seen {
		if e.state != EventGridURLScheduled && now.Sub(e.ended) >= eventGridMemory {
			delete(c.seen, k)
		}
	}
	if len(c.seen) < eventGridMemoryMax {
		return
	}
	for k, e := range c.seen {
		if e.state != EventGridURLScheduled {
			delete(c.seen, k)
		}
	}
}

// run tries u after each of eventGridAttempts' waits until a GET succeeds
// or the URL's validity ends.
func (c *eventGridConfirmer) run(u string, received time.Time, do func(context.Context, string) error,
	now func() time.Time, after func(time.Duration) <-chan time.Time) {
	defer c.wg.Done()
	state := EventGridURLFailed
	for _, wait := range eventGridAttempts {
		<-after(wait)
		if now().Sub(received) >= EventGridValidity {
			break
		}
		c.slots <- struct{}{}
		ctx, cancel := context.WithTimeout(context.Background(), eventGridGETTimeout)
		err := do(ctx, u)
		cancel()
		<-c.slots
		if err == nil {
			state = EventGridURLConfirmed
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending--
	if e, ok := c.seen[u]; ok {
		e.state, e.ended = state, now()
	}
}
