// Command hookgate runs the parts of Hookgate:
//
//	hookgate manager   the controller (reconciles WebhookEndpoints)
//	hookgate receiver  the shared webhook receiver and dispatcher (embeds JetStream by default)
//	hookgate target    a small HTTP target that prints what it receives (local runs, tests)
//	hookgate send      signs and sends a test webhook to an endpoint
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "manager":
		err = runManager(os.Args[2:])
	case "receiver":
		err = runReceiver(os.Args[2:])
	case "target":
		err = runTarget(os.Args[2:])
	case "send":
		err = runSend(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "hookgate: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "hookgate %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: hookgate <command> [flags]

commands:
  manager   run the WebhookEndpoint controller
  receiver  run the webhook receiver and dispatcher
  target    run an HTTP target that prints the events it receives
  send      sign and send a test webhook

Run 'hookgate <command> -h' for the flags of a command.`)
}
