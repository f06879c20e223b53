package chaos

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookgate/hookgate/internal/testenv"
)

// A node whose route port another process took between freePort and the
// node's bind is reported as errPortTaken, which makes startNATS start the
// cluster again on new ports instead of failing the suite.
func TestANodeThatLostItsPortIsReportedAsPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	route := l.Addr().(*net.TCPAddr).Port
	node := &natsNode{name: "n1", client: freePort(), route: route, monit: freePort()}
	cfg := filepath.Join(dir, "n1.conf")
	body := fmt.Sprintf(natsConfig, "n1", node.client, node.monit, filepath.Join(dir, "js"), "", "token", route,
		fmt.Sprintf("nats-route://127.0.0.1:%d", route), "")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(testenv.RepoRoot(), filepath.Join(testenv.RepoRoot(), "hack", "nats-server.sh"), filepath.Join(testenv.RepoRoot(), "bin", "nats-server")); err != nil {
		t.Fatal(err)
	}
	node.p = &proc{name: "nats-n1", bin: filepath.Join(testenv.RepoRoot(), "bin", "nats-server"), args: []string{"-c", cfg}, log: filepath.Join(dir, "n1.log")}
	if err := node.p.start(); err != nil {
		t.Fatal(err)
	}
	defer node.p.kill()
	if err := node.waitStarted(30 * time.Second); !errors.Is(err, errPortTaken) {
		t.Fatalf("waitStarted = %v, want errPortTaken", err)
	}
}
