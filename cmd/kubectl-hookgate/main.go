// Command kubectl-hookgate is the kubectl plugin of Hookgate: `kubectl
// hookgate events|show|retry|replay|tail|listen|send` on a WebhookEndpoint's
// history (internal/plugin). Install it with
//
//	go install github.com/hookgate/hookgate/cmd/kubectl-hookgate@latest
//
// or `kubectl krew install hookgate`, and run `kubectl hookgate -h`.
package main

import (
	"os"

	"github.com/hookgate/hookgate/internal/plugin"
)

func main() {
	os.Exit(plugin.Main())
}
