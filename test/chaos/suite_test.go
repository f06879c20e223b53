// Package chaos is Hookgate's fault suite: the system as it runs in
// production on an external NATS cluster (a real kube-apiserver and etcd,
// a 3-node JetStream cluster of nats-server processes, the manager and
// three receivers as processes with the chart's flags and RBAC, a real
// HTTP target) under a provider's load, while processes are killed, the
// target goes away and quotas fill. Each scenario ends in an exact tally:
// nothing acknowledged may be lost, no valid request may get anything but
// 2xx or 503, and the endpoint's status counters must match what happened.
//
// The smoke profile is the default and runs in `go test ./...`; the full
// profile (20 kills, a 10-minute outage, more events) runs with
// -chaos.full or HOOKGATE_CHAOS=full, see `make chaos`. -short skips it.
// -chaos.scenarios=8 (or HOOKGATE_CHAOS_SCENARIOS=8) runs only the listed
// scenarios, on the same system.
package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/testenv"
)

var (
	fullFlag      = flag.Bool("chaos.full", false, "run the full fault suite (also HOOKGATE_CHAOS=full) instead of the smoke profile")
	scenariosFlag = flag.String("chaos.scenarios", "", "comma-separated numbers of the scenarios to run (also HOOKGATE_CHAOS_SCENARIOS), e.g. 8; empty runs all")
)

// selected reports whether scenario num is to run.
func selected(num int) bool {
	list := *scenariosFlag
	if list == "" {
		list = os.Getenv("HOOKGATE_CHAOS_SCENARIOS")
	}
	if strings.TrimSpace(list) == "" {
		return true
	}
	for _, f := range strings.Split(list, ",") {
		if strings.TrimSpace(f) == strconv.Itoa(num) {
			return true
		}
	}
	return false
}

// The release as the chart installs it.
const (
	releaseName      = "hookgate"
	releaseNamespace = "hookgate-system"
	tokenSecret      = "hookgate-nats"
	receiverCount    = 3
)

// profile sizes the suite: the smoke runs in `make test` on a small
// machine, the full one in `make chaos`.
type profile struct {
	name string
	// rate of new webhooks per second per scenario, concurrency of sends.
	rate        float64
	concurrency int
	// receiverKills in scenario 1, natsRounds of (follower, leader) kills
	// in scenario 2, rollRounds of rolling restarts in scenario 7.
	receiverKills, natsRounds, rollRounds int
	// outage of the target in scenario 4, and of the target behind the
	// quota in scenario 6.
	outage, quotaOutage time.Duration
	// events of the outage and quota scenarios.
	outageEvents, quotaEvents int
	// stormIDs sent stormCopies times each in scenario 5.
	stormIDs, stormCopies int
	// survivorLoad is how long the load goes on after scenario 3's kill.
	survivorLoad time.Duration
	// maxSendTime bounds one provider send with its retries;
	// maxRetryDelay caps the provider's backoff and Retry-After.
	maxSendTime, maxRetryDelay time.Duration
	// converge bounds how long a scenario may take to settle after its
	// faults (events in flight on a killed receiver wait for AckWait).
	converge time.Duration
	// linkCuts of the edge's leaf link in scenario 8, each linkDown long.
	linkCuts int
	linkDown time.Duration
}

var (
	smoke = profile{name: "smoke", rate: 25, concurrency: 6,
		receiverKills: 3, natsRounds: 1, rollRounds: 1,
		outage: time.Minute, quotaOutage: 8 * time.Second, outageEvents: 150, quotaEvents: 120,
		stormIDs: 40, stormCopies: 8, survivorLoad: 6 * time.Second,
		maxSendTime: 2 * time.Minute, maxRetryDelay: 2 * time.Second, converge: 2 * time.Minute,
		linkCuts: 2, linkDown: 4 * time.Second}
	full = profile{name: "full", rate: 40, concurrency: 8,
		receiverKills: 20, natsRounds: 3, rollRounds: 3,
		outage: 10 * time.Minute, quotaOutage: time.Minute, outageEvents: 2000, quotaEvents: 600,
		stormIDs: 300, stormCopies: 10, survivorLoad: time.Minute,
		maxSendTime: 5 * time.Minute, maxRetryDelay: 5 * time.Second, converge: 5 * time.Minute,
		linkCuts: 6, linkDown: 15 * time.Second}
)

func chosenProfile() profile {
	if *fullFlag || os.Getenv("HOOKGATE_CHAOS") == "full" {
		return full
	}
	return smoke
}

// receiver is one receiver replica: its process and ports, stable across
// restarts like a pod's.
type receiver struct {
	*proc
	http, probe int
	be          *backend
}

func (r *receiver) waitReady(timeout time.Duration) bool {
	return waitFor(timeout, 100*time.Millisecond, func() bool {
		return httpStatus("http://127.0.0.1:"+strconv.Itoa(r.probe)+"/readyz") == 200
	})
}

type suite struct {
	prof      profile
	dir       string
	env       *envtest.Environment
	k8s       client.Client
	bin       string
	nats      *natsCluster
	manager   *proc
	mgrProbe  int
	receivers []*receiver
	lb        *balancer
	// edge is the edge site of scenario 8, nil when it does not run.
	edge *edgeSite

	mu        sync.Mutex
	scenarios []*scenario
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite runs real processes for minutes; skipped with -short")
	}
	s := &suite{prof: chosenProfile()}
	began := time.Now()
	s.setup(t)
	t.Logf("profile %s: system up in %s, logs in %s", s.prof.name, time.Since(began).Round(time.Second), s.dir)

	// Registered after setup's cleanups, so it runs first: once every
	// scenario's convergence (the parallel subtests) has finished.
	t.Cleanup(func() { s.report(t, began) })

	// Faults run one scenario at a time; each scenario's drain and tally
	// then run in parallel (a subtest each), so the suite waits out
	// AckWait and the outage once, not once per scenario.
	for _, phase := range []struct {
		num int
		run func(*testing.T) *scenario
	}{
		{4, s.targetOutage}, // its outage runs on while the others go
		{1, s.receiverKills},
		{2, s.natsKills},
		{7, s.rollingRestart},
		{5, s.duplicateStorm},
		{6, s.quotaFull},
		{8, s.edgeLinkCut},
		{3, s.receiverLost}, // the lost receiver stays down
	} {
		if !selected(phase.num) {
			continue
		}
		sc := phase.run(t)
		if t.Failed() {
			return
		}
		s.mu.Lock()
		s.scenarios = append(s.scenarios, sc)
		s.mu.Unlock()
		t.Run(sc.key(), func(t *testing.T) {
			t.Parallel()
			s.converge(t, sc)
		})
	}
}

func (s *suite) setup(t *testing.T) {
	var err error
	s.dir, err = os.MkdirTemp("", "hookgate-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("HOOKGATE_CHAOS_KEEP") != "" {
			t.Logf("process logs kept in %s", s.dir)
			return
		}
		_ = os.RemoveAll(s.dir)
	})

	// Build hookgate and ensure nats-server while the control plane starts.
	root := testenv.RepoRoot()
	s.bin = filepath.Join(s.dir, "hookgate")
	natsBin := filepath.Join(root, "bin", "nats-server")
	builds := make(chan error, 2)
	go func() { builds <- run(root, "go", "build", "-o", s.bin, "./cmd/hookgate") }()
	go func() { builds <- run(root, filepath.Join(root, "hack", "nats-server.sh"), natsBin) }()

	s.env, err = testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.env.Stop() })
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := hookv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	s.k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-builds; err != nil {
			t.Fatal(err)
		}
	}

	// The chart as installed on an external cluster: its RBAC is applied
	// and its ServiceAccounts are who the processes authenticate as.
	token := randomHex(32)
	objs, err := renderChart(root, s.dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must(t, s.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: releaseNamespace}}))
	must(t, s.k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: tokenSecret},
		Data: map[string][]byte{"token": []byte(token)}}))
	for _, o := range objs {
		if rbacKinds[o.GetKind()] {
			must(t, s.k8s.Create(ctx, o))
		}
	}
	mgrSA, mgrArgs, err := podSpecOf(objs, "Deployment", releaseName+"-manager")
	if err != nil {
		t.Fatal(err)
	}
	rcvSA, rcvArgs, err := podSpecOf(objs, "Deployment", releaseName+"-receiver")
	if err != nil {
		t.Fatal(err)
	}

	var leafRemote string
	if selected(8) {
		// Edge mode: the cluster gets a JetStream domain and solicits the
		// edge through the link (the edge itself starts once the manager
		// publishes the registry).
		if s.edge, err = newEdgeSite(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.edge.stop)
		if err := s.edge.startServer(s.dir, natsBin); err != nil {
			t.Fatal(err)
		}
		leafRemote = s.edge.remoteURL()
	}
	s.nats, err = startNATS(s.dir, natsBin, token, 3, leafRemote)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.nats.stop)

	env := []string{"POD_NAMESPACE=" + releaseNamespace, "HOOKGATE_NATS_TOKEN=" + token}
	rcvKube, err := s.saKubeconfig(rcvSA)
	if err != nil {
		t.Fatal(err)
	}
	var bs []*backend
	for i := range receiverCount {
		r := &receiver{http: freePort(), probe: freePort()}
		name := "receiver-" + strconv.Itoa(i)
		r.proc = &proc{name: name, bin: s.bin, log: filepath.Join(s.dir, name+".log"),
			noise: []string{`{"time":"` /* access records */, `"msg":"Delivery failed; will retry"`},
			env:   append([]string{"KUBECONFIG=" + rcvKube}, env...),
			args: testenv.LocalArgs(rcvArgs, map[string]string{
				"--listen":                    "127.0.0.1:" + strconv.Itoa(r.http),
				"--proxied-listen":            "",
				"--metrics-bind-address":      "0",
				"--health-probe-bind-address": "127.0.0.1:" + strconv.Itoa(r.probe),
				"--nats-url":                  s.nats.urls(),
				// Local targets are reached through ExternalName Services:
				// the API server refuses loopback addresses in EndpointSlices.
				"--allow-external-name-targets": "true",
			})}
		r.be = &backend{name: name, url: "http://127.0.0.1:" + strconv.Itoa(r.http), probe: "http://127.0.0.1:" + strconv.Itoa(r.probe) + "/readyz"}
		bs = append(bs, r.be)
		s.receivers = append(s.receivers, r)
		if err := r.start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, r := range s.receivers {
			wg.Add(1)
			go func() { defer wg.Done(); r.term(30 * time.Second) }()
		}
		wg.Wait()
	})
	mgrKube, err := s.saKubeconfig(mgrSA)
	if err != nil {
		t.Fatal(err)
	}
	s.mgrProbe = freePort()
	mgrOverrides := map[string]string{
		"--metrics-bind-address":      "0",
		"--health-probe-bind-address": "127.0.0.1:" + strconv.Itoa(s.mgrProbe),
		"--nats-url":                  s.nats.urls(),
		"--status-interval":           "300ms",
		// Outside a pod there is no namespace file to find it from.
		"--leader-election-namespace": releaseNamespace,
		// Not the chart's fixed port: other suites run beside this one.
		"--webhook-port": strconv.Itoa(freePort()),
	}
	if s.edge != nil {
		mgrOverrides["--edge-registry"] = "true"
	}
	s.manager = &proc{name: "manager", bin: s.bin, log: filepath.Join(s.dir, "manager.log"),
		env:  append([]string{"KUBECONFIG=" + mgrKube}, env...),
		args: testenv.LocalArgs(mgrArgs, mgrOverrides)}
	if err := s.manager.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.manager.term(30 * time.Second) })
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpLogs(t)
		}
	})
	for _, r := range s.receivers {
		if !r.waitReady(90 * time.Second) {
			t.Fatalf("%s not ready within 90s", r.name)
		}
	}
	if !waitFor(60*time.Second, 200*time.Millisecond, func() bool {
		return httpStatus("http://127.0.0.1:"+strconv.Itoa(s.mgrProbe)+"/readyz") == 200
	}) {
		t.Fatal("manager not ready within 60s")
	}
	s.lb = newBalancer(bs)
	t.Cleanup(func() { close(s.lb.stop) })
	if s.edge != nil {
		if err := s.edge.startReceiver(s.dir, s.bin); err != nil {
			t.Fatal(err)
		}
	}
}

// dumpLogs prints the end of every process log: the first thing anyone
// debugging a failed run needs. The whole logs stay in s.dir.
func (s *suite) dumpLogs(t *testing.T) {
	ps := []*proc{s.manager}
	for _, r := range s.receivers {
		ps = append(ps, r.proc)
	}
	if s.nats != nil {
		for _, n := range s.nats.nodes {
			ps = append(ps, n.p)
		}
	}
	if s.edge != nil {
		ps = append(ps, s.edge.nats)
		if s.edge.receiver != nil {
			ps = append(ps, s.edge.receiver.proc)
		}
	}
	for _, p := range ps {
		if p != nil {
			t.Logf("===== %s log (tail) =====\n%s", p.name, p.tail(3<<10))
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// saKubeconfig authenticates as a ServiceAccount of the release, so the
// chart's RBAC is what the process gets.
func (s *suite) saKubeconfig(sa string) (string, error) {
	if sa == "" {
		return "", errors.New("the chart names no ServiceAccount")
	}
	u, err := s.env.AddUser(envtest.User{
		Name:   "system:serviceaccount:" + releaseNamespace + ":" + sa,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"},
	}, nil)
	if err != nil {
		return "", err
	}
	b, err := u.KubeConfig()
	if err != nil {
		return "", err
	}
	p := filepath.Join(s.dir, sa+".kubeconfig")
	return p, os.WriteFile(p, b, 0o600)
}

var rbacKinds = map[string]bool{
	"ServiceAccount": true, "ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
}

// renderChart renders the chart for an external 3-node NATS cluster with
// the token in an existing Secret, as a production install would.
func renderChart(root, dir string) ([]*unstructured.Unstructured, error) {
	helm := filepath.Join(root, "bin", "helm")
	if _, err := os.Stat(helm); err != nil {
		return nil, fmt.Errorf("%s missing: run `make test` or `make chaos`, which build it", helm)
	}
	cmd := exec.Command(helm, "template", releaseName, "charts/hookgate", "--namespace", releaseNamespace,
		"--set", "nats.external.url=nats://nats.example:4222",
		"--set", "nats.external.streamReplicas=3",
		"--set", "nats.auth.existingSecret="+tokenSecret,
		"--set", "receiver.replicas="+strconv.Itoa(receiverCount),
		"--set", "receiver.allowExternalNameTargets=true")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template: %w\n%s", err, stderr.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "chart.yaml"), out, 0o644); err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("decoding the rendered chart: %w", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	return objs, nil
}

// podSpecOf returns the ServiceAccount and first container's args of a
// workload in the rendered chart.
func podSpecOf(objs []*unstructured.Unstructured, kind, name string) (string, []string, error) {
	for _, o := range objs {
		if o.GetKind() != kind || o.GetName() != name {
			continue
		}
		sa, _, _ := unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName")
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if len(containers) == 0 {
			return "", nil, fmt.Errorf("%s %s has no containers", kind, name)
		}
		args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
		return sa, args, nil
	}
	return "", nil, fmt.Errorf("the chart renders no %s %s", kind, name)
}
