package plugin

import (
	"context"
	"fmt"
	"net/http"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

var retryCommand = &command{
	name: "retry", short: "Retry dead-lettered events by id",
	use: "retry ENDPOINT ID [ID...] [flags]",
	long: `Retry dead-lettered events of a WebhookEndpoint: each one named goes back
into the queue, with its original headers and body, and is delivered again.
An event that is not a dead letter (delivered, still being retried, expired,
or never accepted) is not retried, and the command then exits 1.

Needs create on webhookendpoints/replay (API group hookgate.io).`,
	example: `  # Retry two dead letters of webhookendpoint stripe in namespace shop
  kubectl hookgate retry stripe evt_1 evt_2 -n shop

  # Retry every dead letter of the last hour that 'events' lists
  kubectl hookgate events stripe -n shop --status DeadLettered --since 1h -o json \
    | jq -r '.items[].id' | xargs kubectl hookgate retry stripe -n shop`,
	minArgs: 2, maxArgs: -1, argsHint: "retry takes an ENDPOINT and at least one event ID",
	setup: func(f *flags, e *env) func(context.Context, []string) error {
		var output string
		f.stringVar(&output, "output", "o", "", "output format: json or yaml (the result of each event)")
		return func(ctx context.Context, args []string) error {
			if err := checkOutput("retry", output, "json", "yaml"); err != nil {
				return err
			}
			ids := args[1:]
			if len(ids) > eventsv1.MaxRetryIDs {
				return usagef("retry", "at most %d event IDs at once, not %d", eventsv1.MaxRetryIDs, len(ids))
			}
			for _, id := range ids {
				if id == "" {
					return usagef("retry", "an event ID is empty")
				}
			}
			t, err := e.target(args[0])
			if err != nil {
				return err
			}
			var res eventsv1.ActionResult
			if err := t.c.do(ctx, http.MethodPost, t.path("/retry"), nil, &eventsv1.RetryRequest{IDs: ids}, &res); err != nil {
				return err
			}
			if output != "" {
				if err := printObject(e.stdout, output, &res); err != nil {
					return err
				}
			}
			seen := map[string]bool{}
			failed := 0
			for _, it := range res.Items {
				seen[it.ID] = true
				if it.Result == eventsv1.ActionRetried {
					if output == "" {
						fmt.Fprintf(e.stdout, "event %s retried\n", it.ID)
					}
					continue
				}
				failed++
				if output == "" {
					fmt.Fprintf(e.stderr, "event %s not retried: %s\n", it.ID, itemMessage(it))
				}
			}
			for _, id := range ids {
				if !seen[id] {
					seen[id] = true
					failed++
					if output == "" {
						fmt.Fprintf(e.stderr, "event %s not retried: the server said nothing about it\n", id)
					}
				}
			}
			if failed > 0 {
				return &exitError{code: 1}
			}
			return nil
		}
	},
}

func itemMessage(it eventsv1.ActionItem) string {
	switch {
	case it.Message != "":
		return it.Message
	case it.Result == eventsv1.ActionNotFound:
		return "no dead letter with this id (delivered, still being retried, expired, or never accepted)"
	default:
		return string(it.Result)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

var replayCommand = &command{
	name: "replay", short: "Replay the dead letters that match a filter",
	use: "replay ENDPOINT [flags]",
	long: `Replay a WebhookEndpoint's dead letters: every one that matches the filters
(all of them without any) goes back into the queue, with its original
headers and body, and is delivered again; at most --limit of them. With
--dry-run, list what would be replayed and replay nothing.

Needs create on webhookendpoints/replay (API group hookgate.io); --grep also
get on webhookendpoints/events.`,
	example: `  # What would be replayed of the last 2 hours' dead letters
  kubectl hookgate replay stripe -n shop --since 2h --dry-run

  # Replay the dead letters of one event type
  kubectl hookgate replay stripe -n shop --type invoice.paid`,
	minArgs: 1, maxArgs: 1, argsHint: "replay takes one ENDPOINT: the name of a WebhookEndpoint",
	setup: func(f *flags, e *env) func(context.Context, []string) error {
		var since, until, typ, text, output string
		var limit int
		var dryRun bool
		f.stringVar(&since, "since", "", "", "only dead letters received at or after this time: a duration before now (30m, 2h, 7d) or an RFC 3339 time")
		f.stringVar(&until, "until", "", "", "only dead letters received before this time: a duration before now or an RFC 3339 time")
		f.stringVar(&typ, "type", "", "", "only dead letters of this provider event type")
		f.stringVar(&text, "grep", "q", "", "only dead letters whose header values or body contain this text (needs get on webhookendpoints/events)")
		f.intVar(&limit, "limit", "", 0, fmt.Sprintf("the most dead letters to replay (default and at most %d)", eventsv1.MaxRetryIDs))
		f.boolVar(&dryRun, "dry-run", "", false, "list what would be replayed, and replay nothing")
		f.stringVar(&output, "output", "o", "", "output format: json or yaml (the result of each event)")
		return func(ctx context.Context, args []string) error {
			if err := checkOutput("replay", output, "json", "yaml"); err != nil {
				return err
			}
			now := e.timeNow()
			req := eventsv1.ReplayRequest{Type: typ, Text: text, Limit: limit, DryRun: dryRun}
			if s, err := parseTime("since", since, now); err != nil {
				return usagef("replay", "%v", err)
			} else if !s.IsZero() {
				req.Since = &s
			}
			if u, err := parseTime("until", until, now); err != nil {
				return usagef("replay", "%v", err)
			} else if !u.IsZero() {
				req.Until = &u
			}
			if limit < 0 || limit > eventsv1.MaxRetryIDs {
				return usagef("replay", "--limit must be between 1 and %d", eventsv1.MaxRetryIDs)
			}
			t, err := e.target(args[0])
			if err != nil {
				return err
			}
			var res eventsv1.ActionResult
			if err := t.c.do(ctx, http.MethodPost, t.path("/replay"), nil, &req, &res); err != nil {
				return err
			}
			if output != "" {
				return printObject(e.stdout, output, &res)
			}
			if dryRun {
				n := 0
				for _, it := range res.Items {
					if it.Result == eventsv1.ActionWouldRetry || it.Result == eventsv1.ActionRetried {
						fmt.Fprintln(e.stdout, it.ID)
						n++
					}
				}
				fmt.Fprintf(e.stdout, "%s would be replayed (dry run)\n", plural(n, "dead letter", "dead letters"))
				return nil
			}
			failed := 0
			for _, it := range res.Items {
				if it.Result != eventsv1.ActionRetried {
					failed++
					fmt.Fprintf(e.stderr, "event %s not replayed: %s\n", it.ID, itemMessage(it))
				}
			}
			fmt.Fprintf(e.stdout, "%s replayed\n", plural(res.Retried, "dead letter", "dead letters"))
			if failed > 0 {
				return &exitError{code: 1}
			}
			return nil
		}
	},
}
