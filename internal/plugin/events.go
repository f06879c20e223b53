package plugin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

// endpointName reads ENDPOINT: a WebhookEndpoint's name, also as
// webhookendpoint/NAME (or its plural, short names and group).
func endpointName(cmd, arg string) (string, error) {
	name := arg
	if kind, n, ok := strings.Cut(arg, "/"); ok {
		switch strings.ToLower(kind) {
		case "webhookendpoint", "webhookendpoints", "webhookendpoint.hookgate.io", "webhookendpoints.hookgate.io", "whe", "wep":
			name = n
		default:
			return "", usagef(cmd, "ENDPOINT %q: want the name of a WebhookEndpoint (or webhookendpoint/NAME), in the namespace of -n", arg)
		}
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", usagef(cmd, "ENDPOINT %q is not a WebhookEndpoint name: %s", arg, strings.Join(errs, "; "))
	}
	return name, nil
}

// target is the endpoint a command acts on, and the client to reach it.
type target struct {
	ns, name string
	c        *eventsClient
}

func (t *target) path(sub string) string { return eventsv1.EndpointPath(t.ns, t.name) + sub }

func (t *target) String() string { return "webhookendpoint " + t.ns + "/" + t.name }

func (e *env) target(arg string) (*target, error) {
	name, err := endpointName(e.cmd.name, arg)
	if err != nil {
		return nil, err
	}
	ns, err := e.namespace()
	if err != nil {
		return nil, err
	}
	c, err := e.eventsClient()
	if err != nil {
		return nil, err
	}
	return &target{ns: ns, name: name, c: c}, nil
}

// parseTime reads --since or --until as the API does (an RFC 3339 time
// or a duration before now), and also in days (7d).
func parseTime(flag, s string, now time.Time) (time.Time, error) {
	if t, ok := eventsv1.ParseTime(s, now); ok {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid value %q for --%s: want a duration before now (30m, 2h, 7d) or an RFC 3339 time (2006-01-02T15:04:05Z)", s, flag)
}

// oneOf returns the value of list that s names, case-insensitively.
func oneOf[T ~string](flag, s string, list []T) (T, error) {
	if s == "" {
		return "", nil
	}
	if v, ok := eventsv1.Named(s, list); ok {
		return v, nil
	}
	names := make([]string, len(list))
	for i, v := range list {
		names[i] = string(v)
	}
	return "", fmt.Errorf("invalid value %q for --%s: want one of %s", s, flag, strings.Join(names, ", "))
}

// checkOutput checks -o against the formats a command prints.
func checkOutput(cmd, o string, allowed ...string) error {
	if o == "" {
		return nil
	}
	for _, a := range allowed {
		if o == a {
			return nil
		}
	}
	return usagef(cmd, "unable to match a printer suitable for the output format %q, allowed formats are: %s", o, strings.Join(allowed, ","))
}

// printObject prints v as -o json (indented as kubectl does) or yaml.
func printObject(w io.Writer, format string, v any) error {
	var b []byte
	var err error
	if format == "yaml" {
		b, err = yaml.Marshal(v)
	} else {
		if b, err = json.MarshalIndent(v, "", "    "); err == nil {
			b = append(b, '\n')
		}
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// newTabWriter spaces columns as kubectl does (printers.GetNewTabWriter).
func newTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
}

func none(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// queryFlags are the filters of a listing.
type queryFlags struct {
	status, outcome, since, until, delivery, typ, text string
	limit                                              int
	cont                                               string
}

func (q *queryFlags) bind(f *flags, sinceDefault string, limitDefault int, all bool) {
	f.stringVar(&q.since, "since", "", sinceDefault, "only events at or after this time: a duration before now (30m, 2h, 7d) or an RFC 3339 time")
	if all {
		f.stringVar(&q.status, "status", "", "", "only accepted events in this delivery status: Pending, Delivered, Retrying, DeadLettered, Dropped, or Failed (Retrying and DeadLettered)")
		f.stringVar(&q.outcome, "outcome", "", "", "only requests with this outcome: accepted, duplicate, rejected, handshake or error")
		f.stringVar(&q.until, "until", "", "", "only events before this time: a duration before now or an RFC 3339 time")
		f.stringVar(&q.delivery, "delivery", "", "", "only the event with this provider delivery id")
		f.stringVar(&q.typ, "type", "", "", "only events of this provider event type")
		f.stringVar(&q.text, "grep", "q", "", "only events whose header values or body contain this text (case-insensitive; needs get on webhookendpoints/events)")
		f.stringVar(&q.cont, "continue", "", "", "the token a previous page printed, to list the next page")
	}
	f.intVar(&q.limit, "limit", "", limitDefault, fmt.Sprintf("the most events to print (at most %d)", eventsv1.MaxLimit))
}

func (q *queryFlags) query(cmd string, now time.Time) (eventsv1.Query, error) {
	var out eventsv1.Query
	var err error
	if out.Status, err = oneOf("status", q.status, eventsv1.QueryStatuses); err != nil {
		return out, usagef(cmd, "%v", err)
	}
	if out.Outcome, err = oneOf("outcome", q.outcome, eventsv1.Outcomes); err != nil {
		return out, usagef(cmd, "%v", err)
	}
	if out.Since, err = parseTime("since", q.since, now); err != nil {
		return out, usagef(cmd, "%v", err)
	}
	if out.Until, err = parseTime("until", q.until, now); err != nil {
		return out, usagef(cmd, "%v", err)
	}
	if q.limit < 0 || q.limit > eventsv1.MaxLimit {
		return out, usagef(cmd, "--limit must be between 1 and %d", eventsv1.MaxLimit)
	}
	out.DeliveryID, out.Type, out.Text, out.Limit, out.Continue = q.delivery, q.typ, q.text, q.limit, q.cont
	return out, nil
}

var eventsCommand = &command{
	name: "events", short: "List an endpoint's requests and their delivery status",
	use: "events ENDPOINT [flags]",
	long: `List the requests a WebhookEndpoint received, oldest first: what the
receiver answered (OUTCOME, CODE) and, for accepted events, where their
delivery is (STATUS) and its latest attempt. A page holds --limit events;
when there are more, the token for the next page is printed on stderr.

Needs list on webhookendpoints/events (API group hookgate.io); --grep also
get, which also shows headers and bodies (see 'kubectl hookgate show').`,
	example: `  # The latest requests to webhookendpoint stripe in namespace shop
  kubectl hookgate events stripe -n shop

  # Its dead letters of the last two hours, with more columns
  kubectl hookgate events stripe -n shop --status DeadLettered --since 2h -o wide

  # Rejected requests (bad signatures, ...), as JSON
  kubectl hookgate events stripe -n shop --outcome rejected -o json

  # Events that mention a customer
  kubectl hookgate events stripe -n shop -q cus_123`,
	minArgs: 1, maxArgs: 1, argsHint: "events takes one ENDPOINT: the name of a WebhookEndpoint",
	setup: func(f *flags, e *env) func(context.Context, []string) error {
		var q queryFlags
		var output string
		q.bind(f, "", 0, true)
		f.stringVar(&output, "output", "o", "", "output format: wide, json or yaml")
		return func(ctx context.Context, args []string) error {
			if err := checkOutput("events", output, "wide", "json", "yaml"); err != nil {
				return err
			}
			query, err := q.query("events", e.timeNow())
			if err != nil {
				return err
			}
			t, err := e.target(args[0])
			if err != nil {
				return err
			}
			var list eventsv1.EventList
			if err := t.c.do(ctx, http.MethodGet, t.path("/events"), query.Values(), nil, &list); err != nil {
				return err
			}
			switch {
			case output == "json" || output == "yaml":
				if list.Items == nil {
					list.Items = []eventsv1.Event{}
				}
				if err := printObject(e.stdout, output, &list); err != nil {
					return err
				}
			case len(list.Items) == 0:
				fmt.Fprintf(e.stderr, "No events found for %s.\n", t)
			default:
				printEventTable(e.stdout, list.Items, output == "wide", e.timeNow())
			}
			if list.Continue != "" {
				fmt.Fprintf(e.stderr, "(more events: --continue %s)\n", list.Continue)
			}
			return nil
		}
	},
}

// lastAttempt is the short form of an event's latest attempt: the target
// and its code, or the attempt's outcome when it got none.
func lastAttempt(ev *eventsv1.Event) string {
	if len(ev.Attempts) == 0 {
		return ""
	}
	a := ev.Attempts[len(ev.Attempts)-1]
	s := string(a.Outcome)
	if a.Code != 0 {
		s = strconv.Itoa(a.Code)
	}
	if a.Target != "" {
		s = a.Target + ":" + s
	}
	return s
}

func eventReason(ev *eventsv1.Event) string {
	if ev.Reason != "" {
		return ev.Reason
	}
	if n := len(ev.Attempts); n > 0 && ev.Status != eventsv1.StatusDelivered {
		return ev.Attempts[n-1].Reason
	}
	return ""
}

func printEventTable(w io.Writer, items []eventsv1.Event, wide bool, now time.Time) {
	tw := newTabWriter(w)
	fmt.Fprint(tw, "ID\tAGE\tOUTCOME\tSTATUS\tCODE\tTYPE\tDELIVERY\tLAST-ATTEMPT\tREASON")
	if wide {
		fmt.Fprint(tw, "\tSOURCE\tSIZE\tTIME")
	}
	fmt.Fprintln(tw)
	for i := range items {
		ev := &items[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s", ev.ID, age(now, ev.Time), ev.Outcome, none(string(ev.Status)), ev.Code,
			none(ev.Type), none(ev.DeliveryID), none(lastAttempt(ev)), none(eventReason(ev)))
		if wide {
			fmt.Fprintf(tw, "\t%s\t%s\t%s", none(ev.Source), size(ev.Size), ev.Time.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
}

func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

func size(n int64) string {
	if n < 0 {
		return "<unknown>"
	}
	return strconv.FormatInt(n, 10)
}

var showCommand = &command{
	name: "show", short: "Show one event: its headers, body and delivery attempts",
	use: "show ENDPOINT ID [flags]",
	long: `Show one request to a WebhookEndpoint: what the receiver answered, the
headers and body as stored (after the endpoint's spec.history redaction),
and every delivery attempt with the start of the target's answer.

Needs get on webhookendpoints/events (API group hookgate.io) for headers,
bodies and answers; with list alone they are hidden.`,
	example: `  # One event of webhookendpoint stripe in namespace shop
  kubectl hookgate show stripe evt_1Nx -n shop

  # As YAML
  kubectl hookgate show stripe evt_1Nx -n shop -o yaml`,
	minArgs: 2, maxArgs: 2, argsHint: "show takes an ENDPOINT and an event ID",
	setup: func(f *flags, e *env) func(context.Context, []string) error {
		var output string
		f.stringVar(&output, "output", "o", "", "output format: json or yaml")
		return func(ctx context.Context, args []string) error {
			if err := checkOutput("show", output, "json", "yaml"); err != nil {
				return err
			}
			if args[1] == "" {
				return usagef("show", "the event ID is empty")
			}
			t, err := e.target(args[0])
			if err != nil {
				return err
			}
			var ev eventsv1.Event
			if err := t.c.do(ctx, http.MethodGet, t.path("/events/"+url.PathEscape(args[1])), nil, nil, &ev); err != nil {
				return err
			}
			if output != "" {
				return printObject(e.stdout, output, &ev)
			}
			describeEvent(e.stdout, t, &ev, e.timeNow())
			return nil
		}
	},
}

// describeEvent prints ev as kubectl describe prints an object.
func describeEvent(w io.Writer, t *target, ev *eventsv1.Event, now time.Time) {
	tw := newTabWriter(w)
	field := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	ns, name := ev.Namespace, ev.Endpoint
	if ns == "" {
		ns = t.ns
	}
	if name == "" {
		name = t.name
	}
	field("ID", ev.ID)
	field("Endpoint", ns+"/"+name)
	field("Time", fmt.Sprintf("%s (%s ago)", ev.Time.UTC().Format(time.RFC3339Nano), age(now, ev.Time)))
	field("Outcome", string(ev.Outcome))
	field("Code", strconv.Itoa(ev.Code))
	if ev.Reason != "" {
		field("Reason", ev.Reason)
	}
	field("Status", none(string(ev.Status)))
	field("Provider", none(ev.Provider))
	field("Delivery ID", none(ev.DeliveryID))
	field("Type", none(ev.Type))
	field("Source", none(ev.Source))
	if ev.Method != "" {
		field("Method", ev.Method)
	}
	sz := size(ev.Size)
	if ev.Size >= 0 {
		sz += " bytes"
	}
	field("Size", sz)
	if len(ev.Redacted) > 0 {
		field("Redacted", strings.Join(ev.Redacted, ", "))
	}
	if ev.Hidden {
		field("Headers", fmt.Sprintf("(headers and body hidden: you may not get webhookendpoints/events in %s)", ns))
	}
	_ = tw.Flush()
	line := func(k, v string) {
		tw := newTabWriter(w)
		fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		_ = tw.Flush()
	}

	if !ev.Hidden {
		fmt.Fprintln(w, "Headers:")
		if len(ev.Headers) == 0 {
			fmt.Fprintln(w, "  <none>")
		}
		keys := make([]string, 0, len(ev.Headers))
		for k := range ev.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tw = newTabWriter(w)
		for _, k := range keys {
			for _, v := range ev.Headers[k] {
				fmt.Fprintf(tw, "  %s:\t%s\n", k, escapeLine(v))
			}
		}
		_ = tw.Flush()
		switch {
		case ev.BodyOmitted:
			line("Body", "(omitted: spec.history.body is Omit, or the body could not be redacted)")
		case len(ev.Body) == 0:
			line("Body", "<empty>")
		default:
			label, text := renderBody(ev.Body)
			fmt.Fprintf(w, "Body%s:\n%s", label, indent(text, "  "))
			if ev.BodyTruncated {
				fmt.Fprintf(w, "  (truncated: only the first %d bytes are kept, spec.history.maxBodyBytes)\n", len(ev.Body))
			}
		}
		if len(ev.Redacted) > 0 {
			fmt.Fprintln(w, "  (redacted values are replaced; a signature over them no longer verifies)")
		}
	}

	fmt.Fprintln(w, "Attempts:")
	if len(ev.Attempts) == 0 {
		fmt.Fprintln(w, "  <none>")
		return
	}
	tw = newTabWriter(w)
	fmt.Fprintln(tw, "  #\tTIME\tTARGET\tOUTCOME\tCODE\tLATENCY\tREASON/ERROR")
	for _, a := range ev.Attempts {
		n := "-"
		if a.Attempt > 0 {
			n = strconv.Itoa(a.Attempt)
		}
		code := "-"
		if a.Code != 0 {
			code = strconv.Itoa(a.Code)
		}
		lat := "-"
		if a.LatencyMillis > 0 {
			lat = latency(a.LatencyMillis)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, a.Time.UTC().Format(time.RFC3339), none(a.Target), a.Outcome, code, lat, none(attemptReason(&a)))
	}
	_ = tw.Flush()
	for _, a := range ev.Attempts {
		if len(a.Response) == 0 {
			continue
		}
		// As it came: the first bytes of an answer are seldom whole JSON.
		_, text := renderText(a.Response)
		fmt.Fprintf(w, "Response to attempt %d (%s, %d):\n%s", a.Attempt, none(a.Target), a.Code, indent(text, "  "))
	}
}

func attemptReason(a *eventsv1.Attempt) string {
	var parts []string
	switch {
	case a.Reason != "" && a.Error != "":
		parts = append(parts, a.Reason+": "+a.Error)
	case a.Reason != "":
		parts = append(parts, a.Reason)
	case a.Error != "":
		parts = append(parts, a.Error)
	}
	if a.By != "" {
		parts = append(parts, "by "+a.By)
	}
	if a.NextAttempt != nil {
		parts = append(parts, "next attempt "+a.NextAttempt.UTC().Format(time.RFC3339))
	}
	return escapeLine(strings.Join(parts, "; "))
}

func latency(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	if d >= time.Millisecond {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// renderBody is a body for a terminal: JSON pretty-printed, text with
// its non-printable characters escaped, anything else (invalid UTF-8, or
// mostly control characters) as base64. label says which, after "Body".
func renderBody(b []byte) (label, text string) {
	var buf bytes.Buffer
	if json.Valid(b) && json.Indent(&buf, b, "", "  ") == nil {
		return " (JSON)", buf.String() + "\n"
	}
	return renderText(b)
}

// renderText is renderBody without the JSON.
func renderText(b []byte) (label, text string) {
	if utf8.Valid(b) && controlShare(b) < 0.1 {
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		escaped := false
		for i, l := range lines {
			l = strings.TrimSuffix(l, "\r")
			lines[i] = escapeLine(l)
			escaped = escaped || lines[i] != l
		}
		text = strings.Join(lines, "\n") + "\n"
		if escaped {
			return " (text; non-printable characters escaped as \\xNN or \\uNNNN, and \\ as \\\\)", text
		}
		return "", text
	}
	enc := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(enc) > 76 {
		out.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	out.WriteString(enc + "\n")
	return fmt.Sprintf(" (binary, %d bytes, base64)", len(b)), out.String()
}

// controlShare is the share of b's runes that are neither printable nor
// line or tab characters.
func controlShare(b []byte) float64 {
	n, bad := 0, 0
	for _, r := range string(b) {
		n++
		if !printable(r) && r != '\n' && r != '\r' {
			bad++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(bad) / float64(n)
}

func printable(r rune) bool {
	return r != utf8.RuneError && (r == '\t' || unicode.IsPrint(r))
}

// escapeLine escapes what a terminal should not be handed: control
// characters (escape sequences) and invalid UTF-8, and then, so that the
// escapes read unambiguously, the backslash. A line without either is
// returned as it is.
func escapeLine(s string) string {
	clean := true
	for _, r := range s {
		if !printable(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case printable(r):
			b.WriteRune(r)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

func indent(text, prefix string) string {
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		b.WriteString(prefix + l)
	}
	return b.String()
}
