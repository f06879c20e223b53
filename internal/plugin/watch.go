package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// handlerError is an error of a watch's handler: it ends the watch.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }

// watch opens the endpoint's watch (q are its filters) and calls fn with
// each WatchEvent, one at a time and in order, until ctx ends (nil), fn
// fails (its error), or the watch cannot be opened: the first time, or
// for an answer that will not change (4xx). opened is called once the
// first watch is open. A watch that breaks or that the server ends is
// reopened after a pause, with a warning: what happened in between is not
// replayed.
func (e *env) watch(ctx context.Context, t *target, q url.Values, opened func(), fn func(*eventsv1.WatchEvent) error) error {
	if q == nil {
		q = url.Values{}
	}
	q.Set(eventsv1.ParamWatch, "true")
	delay := e.retryDelay
	if delay <= 0 {
		delay = time.Second
	}
	pause := delay
	first := true
	for {
		body, err := t.c.open(ctx, t.path("/events"), q)
		switch {
		case ctx.Err() != nil:
			if body != nil {
				_ = body.Close()
			}
			return nil
		case err != nil:
			if first || !retryable(err) {
				return err
			}
			fmt.Fprintf(e.stderr, "Warning: reopening the watch failed: %s; trying again in %s\n", oneLine(err), pause)
		default:
			if first {
				first = false
				if opened != nil {
					opened()
				}
			} else {
				fmt.Fprintln(e.stderr, "Warning: the watch is open again; events in between are not shown (see 'kubectl hookgate events')")
			}
			start := time.Now()
			err = readWatch(body, fn)
			_ = body.Close()
			if ctx.Err() != nil {
				return nil
			}
			var he *handlerError
			if errors.As(err, &he) {
				return he.err
			}
			var se *json.SyntaxError
			var te *json.UnmarshalTypeError
			if errors.As(err, &se) || errors.As(err, &te) {
				return fmt.Errorf("reading the watch: %w", err)
			}
			if time.Since(start) > time.Minute {
				pause = delay
			}
			why := "the server ended it"
			if err != nil {
				why = oneLine(err)
			}
			fmt.Fprintf(e.stderr, "Warning: the watch ended (%s); reopening it in %s\n", why, pause)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
}

// readWatch decodes WatchEvents from a watch's JSON lines until it ends
// (nil) or breaks.
func readWatch(r io.Reader, fn func(*eventsv1.WatchEvent) error) error {
	dec := json.NewDecoder(r)
	for {
		var ev eventsv1.WatchEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := fn(&ev); err != nil {
			return &handlerError{err: err}
		}
	}
}

// retryable says whether opening a watch again may work: the network, or
// the server's 5xx and 429.
func retryable(err error) bool {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		c := st.Status().Code
		return c >= 500 || c == http.StatusTooManyRequests
	}
	var ue *url.Error
	return errors.As(err, &ue)
}

func oneLine(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return statusMessage(st.Status())
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

func typeOrProvider(ev *eventsv1.Event) string {
	switch {
	case ev.Type != "":
		return ev.Type
	case ev.Provider != "":
		return ev.Provider
	}
	return "-"
}

// eventLine is one event as tail prints it:
// <time> <id> <outcome> <code> <type or provider> [<status>] [<reason>].
func eventLine(ev *eventsv1.Event) string {
	parts := []string{ev.Time.UTC().Format(time.RFC3339), ev.ID, string(ev.Outcome), strconv.Itoa(ev.Code), escapeLine(typeOrProvider(ev))}
	if ev.Status != "" {
		parts = append(parts, string(ev.Status))
	}
	if ev.Reason != "" {
		parts = append(parts, ev.Reason)
	}
	return strings.Join(parts, " ")
}

// attemptLine is one attempt as tail prints it:
// <time> <id> -> <target> attempt <n> <outcome> [<code>] [<latency>] [<reason>].
func attemptLine(a *eventsv1.Attempt) string {
	parts := []string{a.Time.UTC().Format(time.RFC3339), a.EventID, "->", none(a.Target)}
	if a.Attempt > 0 {
		parts = append(parts, "attempt", strconv.Itoa(a.Attempt))
	}
	parts = append(parts, string(a.Outcome))
	if a.Code != 0 {
		parts = append(parts, strconv.Itoa(a.Code))
	}
	if a.LatencyMillis > 0 {
		parts = append(parts, latency(a.LatencyMillis))
	}
	if r := attemptReason(a); r != "" {
		parts = append(parts, r)
	}
	return strings.Join(parts, " ")
}

var tailCommand = &command{
	name: "tail", short: "Print the latest events; with -f, follow new events and attempts",
	use: "tail ENDPOINT [-f] [flags]",
	long: `Print a WebhookEndpoint's latest requests, newest at the bottom: at most
--limit of those since --since. With -f, then print each new request and
each delivery attempt as it happens, until interrupted (Ctrl-C).

Needs list on webhookendpoints/events (API group hookgate.io), and watch for
-f.`,
	example: `  # The last 20 requests of the last hour to webhookendpoint stripe in namespace shop
  kubectl hookgate tail stripe -n shop

  # Follow them, with the deliveries
  kubectl hookgate tail stripe -n shop -f

  # As JSON lines (eventsv1.WatchEvent), for jq
  kubectl hookgate tail stripe -n shop -f -o json | jq -c .`,
	minArgs: 1, maxArgs: 1, argsHint: "tail takes one ENDPOINT: the name of a WebhookEndpoint",
	setup: func(f *flags, e *env) func(context.Context, []string) error {
		var follow bool
		var since, output string
		var limit int
		f.boolVar(&follow, "follow", "f", false, "then follow new requests and attempts until interrupted")
		f.stringVar(&since, "since", "", "1h", "only requests at or after this time: a duration before now (30m, 2h, 7d) or an RFC 3339 time")
		f.intVar(&limit, "limit", "", 20, "the most past requests to print (0: none, only follow)")
		f.stringVar(&output, "output", "o", "", "output format: json (one eventsv1.WatchEvent per line)")
		return func(ctx context.Context, args []string) error {
			if err := checkOutput("tail", output, "json"); err != nil {
				return err
			}
			from, err := parseTime("since", since, e.timeNow())
			if err != nil {
				return usagef("tail", "%v", err)
			}
			if limit < 0 {
				return usagef("tail", "--limit must not be negative")
			}
			t, err := e.target(args[0])
			if err != nil {
				return err
			}
			emit := func(w *eventsv1.WatchEvent) error {
				if output == "json" {
					b, err := json.Marshal(w)
					if err != nil {
						return err
					}
					_, err = e.stdout.Write(append(b, '\n'))
					return err
				}
				switch {
				case w.Type == eventsv1.WatchTypeEvent && w.Event != nil:
					_, err = fmt.Fprintln(e.stdout, eventLine(w.Event))
				case w.Type == eventsv1.WatchTypeAttempt && w.Attempt != nil:
					_, err = fmt.Fprintln(e.stdout, attemptLine(w.Attempt))
				}
				return err
			}
			if !follow {
				past, err := lastEvents(ctx, t, from, limit)
				if err != nil {
					return err
				}
				if len(past) == 0 && output == "" {
					fmt.Fprintf(e.stderr, "No events found for %s.\n", t)
				}
				for i := range past {
					if err := emit(&eventsv1.WatchEvent{Type: eventsv1.WatchTypeEvent, Event: &past[i]}); err != nil {
						return err
					}
				}
				return nil
			}
			// The watch opens while the past is read, so that nothing in
			// between is missed; what both show is printed once.
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			ch := make(chan *eventsv1.WatchEvent, 64)
			errc := make(chan error, 1)
			go func() {
				errc <- e.watch(wctx, t, nil, nil, func(w *eventsv1.WatchEvent) error {
					select {
					case ch <- w:
						return nil
					case <-wctx.Done():
						return wctx.Err()
					}
				})
			}()
			past, err := lastEvents(ctx, t, from, limit)
			if err != nil {
				cancel()
				<-errc
				return err
			}
			seen := make(map[string]bool, len(past))
			for i := range past {
				seen[past[i].ID] = true
				if err := emit(&eventsv1.WatchEvent{Type: eventsv1.WatchTypeEvent, Event: &past[i]}); err != nil {
					return err
				}
			}
			show := func(w *eventsv1.WatchEvent) error {
				if w.Type == eventsv1.WatchTypeEvent && w.Event != nil && seen[w.Event.ID] {
					return nil
				}
				return emit(w)
			}
			for {
				select {
				case w := <-ch:
					if err := show(w); err != nil {
						return err
					}
				case err := <-errc:
					for {
						select {
						case w := <-ch:
							if err := show(w); err != nil {
								return err
							}
							continue
						default:
						}
						break
					}
					if ctx.Err() != nil {
						return nil
					}
					return err
				case <-ctx.Done():
					return nil
				}
			}
		}
	},
}

// lastEvents reads every page of the requests since from and keeps the
// last n.
func lastEvents(ctx context.Context, t *target, from time.Time, n int) ([]eventsv1.Event, error) {
	if n == 0 {
		return nil, nil
	}
	q := eventsv1.Query{Since: from, Limit: eventsv1.MaxLimit}
	var last []eventsv1.Event
	for {
		var page eventsv1.EventList
		if err := t.c.do(ctx, http.MethodGet, t.path("/events"), q.Values(), nil, &page); err != nil {
			return nil, err
		}
		last = append(last, page.Items...)
		if len(last) > n {
			last = append([]eventsv1.Event(nil), last[len(last)-n:]...)
		}
		if page.Continue == "" || page.Continue == q.Continue {
			return last, nil
		}
		q.Continue = page.Continue
	}
}

// hopHeaders are not forwarded: they are about the connection the event
// came on, not the event (RFC 9110, 7.6.1), and Content-Length and Host
// are the new request's.
var hopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true, "Host": true,
}

var listenCommand = &command{
	name: "listen", short: "Forward new events to a local URL (a copy; deliveries go on)",
	use: "listen ENDPOINT --forward-to URL [flags]",
	long: `Forward a copy of each new event a WebhookEndpoint accepts to a URL, e.g. a
server on your machine, like 'stripe listen': its body and stored headers
(after the endpoint's spec.history redaction), plus the headers a target
gets: Hookgate-Endpoint, Hookgate-Delivery-Id, Hookgate-Provider,
Hookgate-Received-At and Idempotency-Key (the event's id). One event at a time, in order, until interrupted (Ctrl-C).

It reads the history only: the endpoint's deliveries to its targets go on
as before, and nothing is taken from them. An event whose body is not kept
(spec.history.body: Omit) is skipped; a truncated one is forwarded as it is
kept; both with a warning.

Needs watch and get on webhookendpoints/events (API group hookgate.io).`,
	example: `  # Forward webhookendpoint stripe's new events in namespace shop to a local server
  kubectl hookgate listen stripe -n shop --forward-to http://localhost:3000/webhooks/stripe`,
	minArgs: 1, maxArgs: 1, argsHint: "listen takes one ENDPOINT: the name of a WebhookEndpoint",
	setup: func(f *flags, e *env) func(context.Context, []string) error {
		var forwardTo string
		var timeout time.Duration
		f.stringVar(&forwardTo, "forward-to", "", "", "the URL to POST each new event to, e.g. http://localhost:3000/webhooks (required)")
		f.durationVar(&timeout, "forward-timeout", "", 10*time.Second, "how long to wait for the forward URL's answer")
		return func(ctx context.Context, args []string) error {
			if forwardTo == "" {
				return usagef("listen", "--forward-to is required")
			}
			fwd, err := url.Parse(forwardTo)
			if err != nil || (fwd.Scheme != "http" && fwd.Scheme != "https") || fwd.Host == "" {
				return usagef("listen", "--forward-to %q: want an http:// or https:// URL", forwardTo)
			}
			if timeout <= 0 {
				return usagef("listen", "--forward-timeout must be positive")
			}
			t, err := e.target(args[0])
			if err != nil {
				return err
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			// Send the stored Accept-Encoding, not Go's, and hand back
			// what the server answers as it is.
			tr.DisableCompression = true
			hc := &http.Client{Transport: tr, CheckRedirect: noRedirect}
			defer tr.CloseIdleConnections()
			q := url.Values{eventsv1.ParamOutcome: {string(eventsv1.OutcomeAccepted)}}
			opened := func() {
				fmt.Fprintf(e.stdout, "Ready! Forwarding events of webhookendpoint %s/%s to %s (a copy: deliveries to the endpoint's targets go on). Ctrl-C to stop.\n",
					t.ns, t.name, fwd)
			}
			return e.watch(ctx, t, q, opened, func(w *eventsv1.WatchEvent) error {
				ev := w.Event
				if w.Type != eventsv1.WatchTypeEvent || ev == nil || ev.Outcome != eventsv1.OutcomeAccepted {
					return nil
				}
				switch {
				case ev.Hidden:
					return fmt.Errorf("event %s came without its headers and body: you may not get webhookendpoints/events in %s, which listen needs to forward events", ev.ID, t.ns)
				case ev.BodyOmitted:
					fmt.Fprintf(e.stderr, "Warning: event %s skipped: its body is not kept (spec.history.body is Omit, or it could not be redacted)\n", ev.ID)
					return nil
				case ev.BodyTruncated:
					fmt.Fprintf(e.stderr, "Warning: event %s is forwarded truncated: only its first %d bytes are kept (spec.history.maxBodyBytes)\n", ev.ID, len(ev.Body))
				}
				if len(ev.Redacted) > 0 {
					fmt.Fprintf(e.stderr, "Warning: event %s is forwarded with redacted values (%s): a signature check of it will fail\n", ev.ID, strings.Join(ev.Redacted, ", "))
				}
				fmt.Fprintf(e.stdout, "--> %s [%s]\n", escapeLine(typeOrProvider(ev)), ev.ID)
				code, err := forward(ctx, hc, fwd, timeout, t, ev)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					fmt.Fprintf(e.stdout, "<-- error: %s\n", oneLine(err))
					return nil
				}
				fmt.Fprintf(e.stdout, "<-- [%d] POST %s [%s]\n", code, fwd, ev.ID)
				return nil
			})
		}
	},
}

// forward POSTs ev's body with its stored headers to u and returns the
// answer's status code.
func forward(ctx context.Context, hc *http.Client, u *url.URL, timeout time.Duration, t *target, ev *eventsv1.Event) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(ev.Body))
	if err != nil {
		return 0, err
	}
	drop := map[string]bool{}
	for _, v := range ev.Headers["Connection"] {
		for _, name := range strings.Split(v, ",") {
			drop[http.CanonicalHeaderKey(strings.TrimSpace(name))] = true
		}
	}
	for k, vs := range ev.Headers {
		ck := http.CanonicalHeaderKey(k)
		if hopHeaders[ck] || drop[ck] {
			continue
		}
		req.Header[ck] = append(req.Header[ck], vs...)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		// No User-Agent of Go's where the sender sent none.
		req.Header["User-Agent"] = []string{""}
	}
	// The delivery headers a target gets from the dispatcher (but the
	// attempt and sequence, which a copy has not).
	req.Header.Set(hookv1.DeliveryHeaderEndpoint, t.ns+"/"+t.name)
	req.Header.Set(hookv1.DeliveryHeaderDeliveryID, ev.DeliveryID)
	req.Header.Set(hookv1.DeliveryHeaderProvider, ev.Provider)
	req.Header.Set(hookv1.DeliveryHeaderReceivedAt, ev.Time.UTC().Format(time.RFC3339Nano))
	req.Header.Set(hookv1.DeliveryHeaderIdempotencyKey, ev.ID)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
