// Package plugin is kubectl-hookgate, the kubectl plugin of Hookgate: it
// reads an endpoint's history from the manager's events API
// (api/events/v1alpha1) and retries, replays, tails and forwards its
// events, as the user of the kubeconfig. cmd/kubectl-hookgate is its main.
//
// The plugin sends the user's own bearer token, and nothing else, to the
// events API, which authenticates it with a TokenReview and authorizes each
// action with a SubjectAccessReview. It reaches the API through the API
// server's service proxy (default) or directly (--events-url).
package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookgate/hookgate/internal/sendhook"
)

// Version is the plugin's version, set at build time:
//
//	go build -ldflags "-X github.com/hookgate/hookgate/internal/plugin.Version=v1.2.3" ./cmd/kubectl-hookgate
var Version = "dev"

// Main runs the plugin with the process's arguments, standard streams and
// environment and returns the exit code. SIGINT and SIGTERM cancel the
// command (tail -f and listen then end with 0); a second one kills.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	defer stop()
	return Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// Run runs the plugin with args (without the program name) and returns
// the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return (&runner{stdout: stdout, stderr: stderr, getenv: os.Getenv}).run(ctx, args)
}

// runner is one run of the plugin: its streams and what tests replace.
type runner struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// now is time.Now unless a test sets it.
	now func() time.Time
	// sendClient makes the client send reads the endpoint with; nil:
	// controller-runtime's.
	sendClient func(*rest.Config) (client.Reader, error)
	// retryDelay is the first pause before a watch is reopened.
	retryDelay time.Duration
}

func (r *runner) timeNow() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// usageError is a mistake on the command line: it is printed with a hint
// to the command's help.
type usageError struct {
	cmd string
	err error
}

func (e *usageError) Error() string { return e.err.Error() }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
}

// exitError ends the plugin with code, its message already printed.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func (r *runner) run(ctx context.Context, args []string) int {
	g := &globalOpts{}
	root := newFlags("kubectl-hookgate")
	g.bind(root, r.getenv)
	_, pos, posAt, help, err := root.scan(args, true)
	if err != nil {
		return r.fail(ctx, &usageError{err: err})
	}
	if len(pos) == 0 {
		r.rootHelp(r.stdout, root)
		return 0
	}
	name := pos[0]
	rest := append(append([]string(nil), args[:posAt[0]]...), args[posAt[0]+1:]...)
	if name == "help" {
		_, sub, _, _, _ := root.scan(rest, true)
		if len(sub) == 0 {
			r.rootHelp(r.stdout, root)
			return 0
		}
		name, rest, help = sub[0], nil, true
	}
	cmd := lookup(name)
	if cmd == nil {
		if help {
			r.rootHelp(r.stdout, root)
			return 0
		}
		return r.fail(ctx, &usageError{err: fmt.Errorf("unknown command %q for \"kubectl hookgate\"", name)})
	}
	f := newFlags(cmd.name)
	e := &env{runner: r, g: &globalOpts{}, cmd: cmd}
	e.g.bind(f, r.getenv)
	runFn := cmd.setup(f, e)
	cmdArgs, cmdHelp, err := f.parse(rest)
	if err != nil {
		return r.fail(ctx, &usageError{cmd: cmd.name, err: err})
	}
	if help || cmdHelp {
		cmd.help(r.stdout, f)
		return 0
	}
	if err := cmd.checkArgs(cmdArgs); err != nil {
		return r.fail(ctx, err)
	}
	return r.fail(ctx, runFn(ctx, cmdArgs))
}

// fail prints err as kubectl would and returns the exit code.
func (r *runner) fail(ctx context.Context, err error) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	var ee *exitError
	var st apierrors.APIStatus
	var ure *url.Error
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		hint := "See 'kubectl hookgate -h' for help."
		if ue.cmd != "" {
			hint = fmt.Sprintf("See 'kubectl hookgate %s -h' for help.", ue.cmd)
		}
		fmt.Fprintf(r.stderr, "error: %v\n%s\n", ue.err, hint)
		return 1
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// Interrupted: nothing to say.
		return 130
	case errors.As(err, &st):
		fmt.Fprintln(r.stderr, statusMessage(st.Status()))
		return 1
	case errors.As(err, &ure):
		fmt.Fprintf(r.stderr, "Unable to connect to the server: %v\n", ure.Err)
		return 1
	default:
		fmt.Fprintf(r.stderr, "error: %v\n", err)
		return 1
	}
}

// statusMessage is how kubectl prints an API error
// (cmdutil.StandardErrorMessage).
func statusMessage(s metav1.Status) string {
	switch {
	case s.Reason == metav1.StatusReasonUnauthorized:
		return fmt.Sprintf("error: You must be logged in to the server (%s)", s.Message)
	case s.Reason != "":
		return fmt.Sprintf("Error from server (%s): %s", s.Reason, s.Message)
	default:
		return fmt.Sprintf("Error from server: %s", s.Message)
	}
}

// command is one subcommand.
type command struct {
	name, short string
	// use is the synopsis after "kubectl hookgate".
	use     string
	long    string
	example string
	// minArgs and maxArgs bound the positional arguments (maxArgs -1: any).
	minArgs, maxArgs int
	argsHint         string
	// setup binds the command's flags and returns its run function.
	setup func(f *flags, e *env) func(ctx context.Context, args []string) error
}

func (c *command) checkArgs(args []string) error {
	switch {
	case len(args) < c.minArgs:
		return usagef(c.name, "%s", c.argsHint)
	case c.maxArgs >= 0 && len(args) > c.maxArgs:
		return usagef(c.name, "unexpected argument(s): %s (%s)", strings.Join(args[c.maxArgs:], " "), c.argsHint)
	}
	return nil
}

func (c *command) help(w io.Writer, f *flags) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  kubectl hookgate %s\n", strings.TrimSpace(c.long), c.use)
	if c.example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(c.example, "\n"))
	}
	f.usage(w)
}

var commands []*command

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func init() {
	commands = []*command{
		eventsCommand, showCommand, retryCommand, replayCommand, tailCommand, listenCommand, sendCommand, versionCommand,
	}
}

func (r *runner) rootHelp(w io.Writer, root *flags) {
	fmt.Fprint(w, `kubectl hookgate reads the history of Hookgate WebhookEndpoints (the requests
they received and the delivery attempts of their events) and retries,
replays, tails and forwards their events.

Usage:
  kubectl hookgate <command> [ENDPOINT] [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, `
ENDPOINT is the name of a WebhookEndpoint in the namespace of -n (or
webhookendpoint/NAME).

Examples:
  # The latest requests to webhookendpoint stripe in namespace shop
  kubectl hookgate events stripe -n shop

  # Its dead letters, retried
  kubectl hookgate events stripe -n shop --status DeadLettered
  kubectl hookgate retry stripe -n shop evt_1 evt_2

  # Follow it, and forward a copy of each new event to a local server
  kubectl hookgate tail stripe -n shop -f
  kubectl hookgate listen stripe -n shop --forward-to http://localhost:3000/webhooks

The events API is served by the Hookgate manager. The plugin reaches it
through the API server's service proxy (or --events-url) and sends it your
kubeconfig's bearer token, which the manager checks with a TokenReview; RBAC
on webhookendpoints/events and webhookendpoints/replay (API group
hookgate.io) says what you may do.

Use "kubectl hookgate <command> -h" for more information about a command.
`)
	root.usage(w)
}

var versionCommand = &command{
	name: "version", short: "Print the plugin's version",
	use:  "version",
	long: "Print the version of kubectl-hookgate.",
	setup: func(f *flags, e *env) func(context.Context, []string) error {
		return func(context.Context, []string) error {
			fmt.Fprintf(e.stdout, "kubectl-hookgate version %s (%s, %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		}
	},
}

// version is Version, or the module version `go install ...@vX` recorded.
func version() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Version
}

var sendCommand = &command{
	name: "send", short: "Sign and send a test webhook to an endpoint",
	use: "send ENDPOINT [flags]",
	long: `Sign a test webhook the way the endpoint's provider would and post it to
the receiver: the quickest way to see the whole path work (then 'kubectl
hookgate tail ENDPOINT'). It reads the WebhookEndpoint and its Secret (or
WebhookProvider) with your kubeconfig, so it needs get on them. The webhook
goes to the endpoint's status.url, the public URL providers call, unless
--receiver names the receiver's base URL (e.g. a port-forward).`,
	example: `  # Send a signed test event to webhookendpoint github in namespace ci
  kubectl hookgate send github -n ci --event push

  # Through a port-forward to the receiver, and with a broken signature (a 401)
  kubectl hookgate send github -n ci --receiver http://127.0.0.1:8080 --tamper

  # A key pair for an endpoint that verifies public keys
  kubectl hookgate send --generate-key-pair discord`,
	minArgs: 0, maxArgs: 1, argsHint: "send takes one ENDPOINT",
	setup: func(f *flags, e *env) func(context.Context, []string) error {
		var o sendhook.Options
		var genPair string
		o.BindFlags(f.fs)
		f.stringVar(&o.Receiver, "receiver", "", "", "base URL of the receiver (the endpoint's status.webhookPath is appended); default: the endpoint's status.url")
		f.stringVar(&genPair, "generate-key-pair", "", "", sendhook.GenerateKeyPairUsage)
		return func(ctx context.Context, args []string) error {
			if genPair != "" {
				if len(args) > 0 {
					return usagef("send", "--generate-key-pair takes no ENDPOINT")
				}
				return sendhook.PrintKeyPair(e.stdout, genPair)
			}
			if len(args) != 1 {
				return usagef("send", "ENDPOINT is required: the name of a WebhookEndpoint")
			}
			name, err := endpointName("send", args[0])
			if err != nil {
				return err
			}
			ns, err := e.namespace()
			if err != nil {
				return err
			}
			cfg, err := e.restConfig()
			if err != nil {
				return err
			}
			newClient := e.sendClient
			if newClient == nil {
				newClient = func(cfg *rest.Config) (client.Reader, error) {
					return client.New(cfg, client.Options{Scheme: sendhook.Scheme()})
				}
			}
			c, err := newClient(cfg)
			if err != nil {
				return err
			}
			timeout := e.g.requestTimeout
			if timeout <= 0 {
				timeout = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			o.Namespace, o.Name = ns, name
			o.HTTPClient = &http.Client{}
			res, err := sendhook.Run(ctx, c, o, e.stdout)
			if err != nil {
				return err
			}
			if !res.OK() {
				return &exitError{code: 1}
			}
			return nil
		}
	},
}
