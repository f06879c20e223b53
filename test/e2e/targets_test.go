package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/testenv"
)

// Fan-out as a user sees it: two targets, one of which fails; kubectl get
// and describe say which circuit is open, and the healthy target gets
// every event meanwhile.
var _ = Describe("An endpoint with two targets, one failing", Ordered, func() {
	var (
		f     *fixture
		audit *target
	)
	BeforeAll(func() {
		audit = newTarget()
		audit.setFail(true)
		f = setup(hookv1.ProviderGitHub, []byte("fan-out-secret"), func(ep *hookv1.WebhookEndpoint) {
			ep.Name = "orders"
			orders := *ep.Spec.Target
			orders.Name = "orders"
			orders.Format = hookv1.FormatCloudEvents
			ep.Spec.Target = nil
			ep.Spec.Targets = []hookv1.TargetSpec{orders, {
				Name:    "audit",
				Service: hookv1.ServiceTarget{Name: "target", Port: audit.port(), Path: "/audit"},
				Filter:  `event.type == "push"`,
				// One at a time, so that exactly the three failures that
				// open the circuit reach it (with more in flight, those
				// under way when it opens still arrive).
				Limits: &hookv1.TargetLimits{MaxConcurrency: ptr.To[int32](1)},
				CircuitBreaker: &hookv1.CircuitBreakerSpec{
					ConsecutiveFailures: ptr.To[int32](3),
					OpenFor:             &metav1.Duration{Duration: 10 * time.Minute},
				},
			}}
		})
	})

	It("delivers every event to the healthy target while the failing one's circuit is open", func() {
		for i := range 5 {
			Expect(f.github(`{"ref":"refs/heads/main","n":`+strconv.Itoa(i)+`}`, "fan-"+strconv.Itoa(i))).To(Equal(http.StatusOK))
		}
		Eventually(func() int { return len(f.target.requests()) }, timeout, poll).Should(Equal(5))
		for _, r := range f.target.requests() {
			Expect(r.header.Get("Ce-Type")).To(Equal("push"))
			Expect(r.header.Get("Ce-Id")).To(Equal(r.header.Get("Idempotency-Key")))
		}
		jp := func(expr string) func() string {
			return func() string { return kc("-n", f.ns, "get", "webhookendpoint", "orders", "-o", "jsonpath="+expr) }
		}
		Eventually(jp(`{.status.targets[?(@.name=="audit")].circuit}`), timeout, poll).Should(Equal("Open"))
		Eventually(jp(`{.status.targets[?(@.name=="orders")].deliveries.delivered}`), timeout, poll).Should(Equal("5"))
		// Three failed attempts opened it; the other events are held
		// without using attempts.
		Expect(len(audit.requests())).To(Equal(3))
		Consistently(func() int { return len(audit.requests()) }, 2*time.Second, poll).Should(Equal(3))

		get := kc("-n", f.ns, "get", "webhookendpoints")
		Expect(get).To(MatchRegexp(`orders\s+github\s+True\s+\S+\s+5\s+5\s+0\s+audit`))
		desc := kc("-n", f.ns, "describe", "webhookendpoint", "orders")
		for _, want := range []string{`Circuit:\s+Open`, `Circuit Reason:\s+HTTP500`, `Warning\s+CircuitOpened`, `Name:\s+orders`, `Name:\s+audit`} {
			Expect(desc).To(MatchRegexp(want))
		}
		if os.Getenv("HOOKGATE_CAPTURE_DOCS") != "" {
			Expect(os.WriteFile(filepath.Join(testenv.RepoRoot(), "docs", "examples", "targets.txt"),
				[]byte("$ kubectl get webhookendpoints\n"+get+"\n$ kubectl describe webhookendpoint orders\n"+desc), 0o644)).To(Succeed())
		}
	})
})

// A large body through kubectl-made endpoints: stored by reference, it
// reaches the target byte for byte; an ordered target gets the events one
// at a time in the order they were sent.
var _ = Describe("An ordered target receiving large bodies", Ordered, func() {
	var f *fixture
	BeforeAll(func() {
		f = setup(hookv1.ProviderGitHub, []byte("large-secret"), func(ep *hookv1.WebhookEndpoint) {
			ep.Spec.Limits.MaxBodyBytes = ptr.To[int64](8 << 20)
			ep.Spec.Target.Ordering = &hookv1.OrderingSpec{}
		})
	})

	It("delivers a 3 MiB body unchanged and keeps the order", func() {
		big := `{"blob":"` + strings.Repeat("abcdefgh", 3<<17) + `"}`
		Expect(f.github(big, "big-0")).To(Equal(http.StatusOK))
		for i := 1; i <= 5; i++ {
			Expect(f.github(`{"n":`+strconv.Itoa(i)+`}`, "ord-"+strconv.Itoa(i))).To(Equal(http.StatusOK))
		}
		Eventually(func() int { return len(f.target.requests()) }, timeout, poll).Should(Equal(6))
		got := f.target.requests()
		Expect(got[0].body).To(HaveLen(len(big)))
		Expect(got[0].body == big).To(BeTrue(), "the large body changed on its way")
		for i := 1; i <= 5; i++ {
			Expect(got[i].body).To(Equal(`{"n":` + strconv.Itoa(i) + `}`))
		}
		Eventually(f.counters(), timeout, poll).Should(HaveField("Delivered", int64(6)))
	})
})

// The API refuses, through the chart's admission webhook, an endpoint
// whose filter does not compile, with kubectl's own error.
var _ = Describe("kubectl apply of a filter that does not compile", func() {
	It("is refused with the field and the reason, and a valid one is accepted", func() {
		kc("create", "namespace", "admission")
		manifest := func(filter string) string {
			p := filepath.Join(GinkgoT().TempDir(), "ep.yaml")
			Expect(os.WriteFile(p, []byte(`apiVersion: hookgate.io/v1alpha1
kind: WebhookEndpoint
metadata: {name: filtered, namespace: admission}
spec:
  provider: github
  secretRef: {name: gh}
  target:
    service: {name: api, port: 80}
    filter: '`+filter+`'
`), 0o644)).To(Succeed())
			return p
		}
		out, err := runErr(kubectl(), "--kubeconfig", kubeconfig, "apply", "-f", manifest(`event.tpye == "push"`))
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring(`spec.target.filter: Invalid value`))
		Expect(out).To(ContainSubstring(`undefined field 'tpye'`))
		kc("apply", "-f", manifest(`event.type == "push"`))
	})
})

// Priorities as a user sets them: with more attempts waiting than the
// receiver's delivery slots (2 here), a High endpoint's backlog goes first
// while a Normal one still gets a share.
var _ = Describe("A High-priority endpoint beside a Normal one, both with a backlog", Ordered, func() {
	It("delivers the High backlog first without stopping the Normal one", func() {
		const n = 30
		suspended := func(name string, p hookv1.Priority) func(*hookv1.WebhookEndpoint) {
			return func(ep *hookv1.WebhookEndpoint) { ep.Name, ep.Spec.Suspend, ep.Spec.Priority = name, true, p }
		}
		urgent := setup(hookv1.ProviderGitHub, []byte("prio-secret"), suspended("urgent", hookv1.PriorityHigh))
		bulk := setup(hookv1.ProviderGitHub, []byte("prio-secret"), suspended("bulk", hookv1.PriorityNormal))
		for _, f := range []*fixture{urgent, bulk} {
			f.target.setDelay(100 * time.Millisecond)
			for i := range n {
				Expect(f.github(`{"n":`+strconv.Itoa(i)+`}`, f.ep.Name+"-"+strconv.Itoa(i))).To(Equal(http.StatusOK))
			}
			Eventually(f.counters(), timeout, poll).Should(HaveField("Pending", int64(n)))
		}
		for _, f := range []*fixture{urgent, bulk} {
			kc("-n", f.ns, "patch", "webhookendpoint", f.ep.Name, "--type=merge", "-p", `{"spec":{"suspend":false}}`)
		}
		for _, f := range []*fixture{urgent, bulk} {
			Eventually(func() int { return len(f.target.requests()) }, timeout, poll).Should(Equal(n))
		}
		urgentDone := urgent.target.requests()[n-1].at
		before := 0
		for _, r := range bulk.target.requests() {
			if r.at.Before(urgentDone) {
				before++
			}
		}
		fmt.Fprintf(GinkgoWriter, "bulk had %d of %d delivered before urgent's last\n", before, n)
		// Sharing the slots equally, bulk would have had about 20 by then;
		// with one slot in five it has about 5.
		Expect(before).To(And(BeNumerically(">", 0), BeNumerically("<=", n/3)),
			"bulk had %d of its %d events delivered before urgent's last", before, n)
	})
})
