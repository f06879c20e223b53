// Package e2e runs Hookgate as a user would, without a cluster: the real
// kube-apiserver and etcd from hack/, the hookgate binary started as separate
// manager and receiver processes, a real HTTP target, and signed webhooks.
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookgate/hookgate/internal/freeport"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/testenv"
)

var (
	testEnv *envtest.Environment
	k8s     client.Client
	workDir string
	// natsToken authenticates to the receiver's embedded JetStream.
	natsToken  string
	binary     string
	kubeconfig string
	receiver   *proc
	manager    *proc
	ports      struct{ http, probe, nats, mgrProbe, webhook int }
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end Suite")
}

// proc is one hookgate process with its output in a log file.
type proc struct {
	name       string
	args       []string
	env        []string
	kubeconfig string
	log        string
	mu         sync.Mutex
	cmd        *exec.Cmd
}

func (p *proc) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	Expect(err).NotTo(HaveOccurred())
	fmt.Fprintf(f, "===== %s starting at %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(binary, p.args...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+p.kubeconfig), p.env...)
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
	p, err := freeport.Get()
	Expect(err).NotTo(HaveOccurred())
	return p
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

	admin, err := testEnv.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = writeKubeconfig(admin, "admin")

	binary = filepath.Join(workDir, "hookgate")
	build := exec.Command("go", "build", "-o", binary, "./cmd/hookgate")
	build.Dir = testenv.RepoRoot()
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))

	By("installing the chart's CRDs and RBAC, after a server-side dry run of the whole render")
	kc("create", "namespace", releaseNamespace)
	rendered, objs := renderChart()
	renderedPath := filepath.Join(workDir, "chart.yaml")
	Expect(os.WriteFile(renderedPath, []byte(rendered), 0o644)).To(Succeed())
	kc("apply", "--server-side", "--dry-run=server", "-f", renderedPath)
	var rbac []string
	for _, o := range objs {
		if rbacKinds[o.GetKind()] {
			b, err := o.MarshalJSON()
			Expect(err).NotTo(HaveOccurred())
			rbac = append(rbac, string(b))
		}
	}
	rbacPath := filepath.Join(workDir, "rbac.json")
	Expect(os.WriteFile(rbacPath, []byte(`{"apiVersion":"v1","kind":"List","items":[`+strings.Join(rbac, ",")+`]}`), 0o644)).To(Succeed())
	kc("apply", "--server-side", "-f", rbacPath)

	By("running manager and receiver as the chart's ServiceAccounts with the chart's flags")
	mgrSA, mgrArgs := podSpecOf(findObject(objs, "Deployment", releaseName+"-manager"))
	rcvSA, rcvArgs := podSpecOf(findObject(objs, "StatefulSet", releaseName+"-receiver"))
	ports.http, ports.probe, ports.nats, ports.mgrProbe, ports.webhook = freePort(), freePort(), freePort(), freePort(), freePort()
	receiver = &proc{name: "receiver", log: filepath.Join(workDir, "receiver.log"),
		kubeconfig: saKubeconfig(rcvSA),
		args: testenv.LocalArgs(rcvArgs, map[string]string{
			"--listen":                    "127.0.0.1:" + strconv.Itoa(ports.http),
			"--proxied-listen":            "127.0.0.1:" + strconv.Itoa(freePort()),
			"--metrics-bind-address":      "0",
			"--health-probe-bind-address": "127.0.0.1:" + strconv.Itoa(ports.probe),
			"--nats-listen":               "127.0.0.1:" + strconv.Itoa(ports.nats),
			"--data-dir":                  filepath.Join(workDir, "jetstream"),
			// Local targets are reached through ExternalName Services: the
			// API server refuses loopback addresses in EndpointSlices.
			"--allow-external-name-targets": "true",
			// Few enough delivery slots that two endpoints' backlogs
			// contend for them (the priorities spec).
			"--delivery-slots": "2",
		})}
	manager = &proc{name: "manager", log: filepath.Join(workDir, "manager.log"),
		kubeconfig: saKubeconfig(mgrSA),
		env:        []string{"POD_NAMESPACE=" + releaseNamespace},
		args: testenv.LocalArgs(mgrArgs, map[string]string{
			"--metrics-bind-address":      "0",
			"--health-probe-bind-address": "127.0.0.1:" + strconv.Itoa(ports.mgrProbe),
			"--nats-url":                  "nats://127.0.0.1:" + strconv.Itoa(ports.nats),
			"--public-base-url":           receiverURL(),
			"--status-interval":           "300ms",
			// Outside a pod there is no namespace file to find it from.
			"--leader-election-namespace": releaseNamespace,
			// Not the chart's fixed port: other suites run beside this one.
			// The API server calls it on loopback (below).
			"--webhook-port": strconv.Itoa(ports.webhook),
			"--webhook-host": "127.0.0.1",
		})}
	Expect(receiver.args[0]).To(Equal("receiver"))
	Expect(manager.args[0]).To(Equal("manager"))

	By("authenticating NATS as the chart does: the manager makes the token Secret, the receiver reads it")
	tokenSecret := releaseName + "-nats-auth"
	Expect(manager.args).To(ContainElement("--nats-auth-secret=" + tokenSecret))
	Expect(envSecretRef(findObject(objs, "StatefulSet", releaseName+"-receiver"), "HOOKGATE_NATS_TOKEN")).To(Equal(tokenSecret + "/token"))
	By("registering the chart's admission webhook, addressed at the manager on loopback instead of its Service")
	vwc := findObject(objs, "ValidatingWebhookConfiguration", releaseName+"-webhook").DeepCopy()
	hooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
	Expect(hooks).To(HaveLen(1))
	hook := hooks[0].(map[string]any)
	svcPath, _, _ := unstructured.NestedString(hook, "clientConfig", "service", "path")
	hook["clientConfig"] = map[string]any{"url": "https://127.0.0.1:" + strconv.Itoa(ports.webhook) + svcPath}
	Expect(unstructured.SetNestedSlice(vwc.Object, hooks, "webhooks")).To(Succeed())
	vwcJSON, err := vwc.MarshalJSON()
	Expect(err).NotTo(HaveOccurred())
	vwcPath := filepath.Join(workDir, "webhook.json")
	Expect(os.WriteFile(vwcPath, vwcJSON, 0o644)).To(Succeed())
	kc("apply", "--server-side", "-f", vwcPath)
	manager.start()
	Eventually(func() error {
		var s corev1.Secret
		if err := k8s.Get(ctxT(), client.ObjectKey{Namespace: releaseNamespace, Name: tokenSecret}, &s); err != nil {
			return err
		}
		natsToken = string(s.Data["token"])
		return nil
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	Expect(len(natsToken)).To(BeNumerically(">=", 40))
	receiver.env = append(receiver.env, "HOOKGATE_NATS_TOKEN="+natsToken)
	startReceiver()
	waitReady(ports.mgrProbe)
	fmt.Fprintf(GinkgoWriter, "receiver %v\nmanager %v\n", receiver.args, manager.args)
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

func writeKubeconfig(u *envtest.AuthenticatedUser, name string) string {
	b, err := u.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	p := filepath.Join(workDir, name+".kubeconfig")
	Expect(os.WriteFile(p, b, 0o600)).To(Succeed())
	return p
}

// saKubeconfig authenticates as a ServiceAccount of the release, so the
// chart's RBAC is what the process gets: too little and the test fails.
func saKubeconfig(sa string) string {
	Expect(sa).NotTo(BeEmpty())
	u, err := testEnv.AddUser(envtest.User{
		Name:   "system:serviceaccount:" + releaseNamespace + ":" + sa,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"},
	}, nil)
	Expect(err).NotTo(HaveOccurred())
	return writeKubeconfig(u, sa)
}
