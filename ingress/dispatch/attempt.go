package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

// attemptError is a failed attempt. reason and msg end up in the endpoint's
// status.lastFailure, which the tenant reads: they say what went wrong
// without describing the network behind the target. cause, when set, is the
// full error for the receiver's own log.
type attemptError struct {
	// status is the target's HTTP status; 0 when it gave none.
	status     int
	reason     string
	msg        string
	retryAfter time.Duration
	cause      error
}

// answer is what the target said to an attempt, for the history.
type answer struct {
	code int
	// response is the first eventsv1.MaxResponseBytes of its body.
	response []byte
}

func (e *attemptError) Error() string { return e.reason + ": " + e.msg }

// refuseRedirect is the dispatcher's CheckRedirect: the client returns the
// 3xx itself, which then counts as a failed attempt.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// withoutRedirects returns a copy of c that never follows a redirect. A
// target answering 307 Location: http://<anything> would otherwise make the
// receiver re-send the event, headers and all, to any address its pod can
// reach, past the namespace rule and --allow-external-name-targets, and
// report what it found there in the tenant's status.
func withoutRedirects(c *http.Client) *http.Client {
	cp := *c
	cp.CheckRedirect = refuseRedirect
	return &cp
}

func (d *Dispatcher) attempt(ctx context.Context, u *unit, msg jetstream.Msg, md *jetstream.MsgMetadata, attempt int, body []byte, ans *answer) *attemptError {
	ep, t := u.ep, u.t
	base, err := d.Resolver.Resolve(ctx, ep.Key.Namespace, *t)
	if err != nil {
		return &attemptError{reason: "TargetUnresolved", msg: err.Error()}
	}
	// An attempt under way finishes within its timeout even when the
	// dispatcher stops (a rolling restart, a suspension): cutting it off
	// would hand back an event the target has probably handled already,
	// and another replica would deliver it again.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, base+t.Path, bytes.NewReader(body))
	if err != nil {
		return &attemptError{reason: "BadTarget", msg: err.Error()}
	}
	h := msg.Headers()
	for k, vs := range h {
		if orig, ok := strings.CutPrefix(k, queue.HeaderOrigPrefix); ok {
			for _, v := range vs {
				req.Header.Add(orig, v)
			}
		}
	}
	req.Header.Set(HeaderDeliveryID, h.Get(queue.HeaderDelivery))
	req.Header.Set(HeaderEndpoint, ep.Name())
	req.Header.Set(HeaderProvider, h.Get(queue.HeaderProvider))
	req.Header.Set(HeaderReceivedAt, h.Get(queue.HeaderReceivedAt))
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	req.Header.Set(HeaderEventSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	// The same on every attempt of the event, so a target can tell a
	// retry from a new event.
	id := eventID(u.key, h, md.Sequence.Stream)
	req.Header.Set(HeaderIdempotencyKey, id)
	if t.CloudEvents {
		setCloudEvent(req, ep, h, body, id)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &attemptError{reason: "Timeout", msg: fmt.Sprintf("no response within %s", t.Timeout), cause: err}
		}
		// The dial error names the address and the errno (refused,
		// unreachable, no such host): in status that would map the network
		// for whoever controls the target.
		return &attemptError{reason: "ConnectionFailed", msg: "connecting to the target failed", cause: err}
	}
	// The start of the answer is kept for the history; the rest is read
	// (up to a bound) so that the connection is reused.
	if ans != nil {
		ans.code = resp.StatusCode
		var head [eventsv1.MaxResponseBytes]byte
		n, _ := io.ReadFull(resp.Body, head[:])
		ans.response = append([]byte(nil), head[:n]...)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	text := fmt.Sprintf("target answered %s", resp.Status)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// Not the Location: where the target points is not status material.
		text = fmt.Sprintf("target answered %s; redirects are not followed", resp.Status)
	}
	return &attemptError{
		status:     resp.StatusCode,
		reason:     "HTTP" + strconv.Itoa(resp.StatusCode),
		msg:        text,
		retryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
}
