// Package e2e runs Hookgate as a user would, without a cluster: the real
// kube-apiserver and etcd from hack/, the hookgate binary started as separate
// manager and receiver processes, a real HTTP target, and signed webhooks.
package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/testenv"
)

var (
	testEnv    *envtest.Environment
	k8s        client.Client
	workDir    string
	binary     string
	kubeconfig string
	receiver   *proc
	manager    *proc
	ports      struct{ http, probe, nats, mgrProbe int }
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end Suite")
}

// proc is one hookgate process with its output in a log file.
type proc struct {
	name string
	args []string
	log  string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func (p *proc) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	Expect(err).NotTo(HaveOccurred())
	fmt.Fprintf(f, "===== %s starting at %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(binary, p.args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = f, f
	Expect(cmd.Start()).To(Succeed())
	p.cmd = cmd
	go func() { _ = cmd.Wait(); f.Close() }()
}

// kill sends SIGKILL: no graceful shutdown, no flush.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_, _ = p.cmd.Process.Wait()
	}
}

func (p *proc) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = p.cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
		}
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func receiverURL() string { return "http://127.0.0.1:" + strconv.Itoa(ports.http) }

func waitReady(port int) {
	Eventually(func() int {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}, 60*time.Second, 200*time.Millisecond).Should(Equal(http.StatusOK))
}

func startReceiver() {
	receiver.start()
	waitReady(ports.probe)
}

var _ = BeforeSuite(func() {
	var err error
	workDir = GinkgoT().TempDir()
	testEnv, err = testenv.New()
	Expect(err).NotTo(HaveOccurred())
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(testEnv.Stop)

	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(hookv1.AddToScheme(scheme)).To(Succeed())
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	user, err := testEnv.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	kc, err := user.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = filepath.Join(workDir, "kubeconfig")
	Expect(os.WriteFile(kubeconfig, kc, 0o600)).To(Succeed())

	binary = filepath.Join(workDir, "hookgate")
	build := exec.Command("go", "build", "-o", binary, "./cmd/hookgate")
	build.Dir = testenv.RepoRoot()
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))

	ports.http, ports.probe, ports.nats, ports.mgrProbe = freePort(), freePort(), freePort(), freePort()
	receiver = &proc{name: "receiver", log: filepath.Join(workDir, "receiver.log"), args: []string{
		"receiver",
		"--listen", "127.0.0.1:" + strconv.Itoa(ports.http),
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(ports.probe),
		"--nats-listen", "127.0.0.1:" + strconv.Itoa(ports.nats),
		"--data-dir", filepath.Join(workDir, "jetstream"),
	}}
	manager = &proc{name: "manager", log: filepath.Join(workDir, "manager.log"), args: []string{
		"manager",
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(ports.mgrProbe),
		"--nats-url", "nats://127.0.0.1:" + strconv.Itoa(ports.nats),
		"--public-base-url", receiverURL(),
		"--status-interval", "300ms",
	}}
	startReceiver()
	manager.start()
	waitReady(ports.mgrProbe)
	DeferCleanup(func() { manager.stop(); receiver.stop() })
})

// Dump what the processes said when a spec fails: the first thing anyone
// debugging an e2e failure needs.
var _ = AfterEach(func() {
	if !CurrentSpecReport().Failed() {
		return
	}
	for _, p := range []*proc{receiver, manager} {
		if p == nil {
			continue
		}
		b, _ := os.ReadFile(p.log)
		if len(b) > 64<<10 {
			b = b[len(b)-64<<10:]
		}
		fmt.Fprintf(GinkgoWriter, "\n===== %s log (tail) =====\n%s\n", p.name, b)
	}
})

func ctxT() context.Context { return context.Background() }
