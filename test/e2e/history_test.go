package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/testenv"
	"github.com/hookgate/hookgate/internal/webhookcert"
)

// A user of the plugin: a ServiceAccount token in a kubeconfig of its own,
// as a person's would be, and kubectl finding kubectl-hookgate on PATH.
type pluginUser struct {
	name, kubeconfig string
}

// Two teams, each with an endpoint in its own namespace; alice may do
// everything with hers (the chart's edit rules), bob may only list his
// (view). Everything is checked through `kubectl hookgate`.
var _ = Describe("Event history through kubectl hookgate, as two teams", Ordered, func() {
	var (
		a, b       *fixture
		alice, bob pluginUser
		pathDir    string
		caFile     string
	)
	hookgate := func(u pluginUser, args ...string) (string, error) {
		cmd := exec.Command(kubectl(), append([]string{"hookgate"}, args...)...)
		cmd.Dir = testenv.RepoRoot()
		cmd.Env = append(os.Environ(), "KUBECONFIG="+u.kubeconfig, "PATH="+pathDir+string(os.PathListSeparator)+os.Getenv("PATH"),
			// The manager's HTTPS port on loopback: no pod network here for
			// the API server's service proxy to reach it through.
			"HOOKGATE_EVENTS_URL=https://127.0.0.1:"+strconv.Itoa(ports.webhook))
		cmd.Args = append(cmd.Args, "--certificate-authority", caFile)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	mustHookgate := func(u pluginUser, args ...string) string {
		out, err := hookgate(u, args...)
		ExpectWithOffset(1, err).NotTo(HaveOccurred(), "kubectl hookgate %s as %s:\n%s", strings.Join(args, " "), u.name, out)
		return out
	}
	list := func(u pluginUser, f *fixture, args ...string) []eventsv1.Event {
		out := mustHookgate(u, append([]string{"events", "-n", f.ns, f.ep.Name, "-o", "json"}, args...)...)
		var l eventsv1.EventList
		ExpectWithOffset(1, json.Unmarshal([]byte(out), &l)).To(Succeed(), out)
		return l.Items
	}
	outcomes := func(items []eventsv1.Event) map[string]int {
		m := map[string]int{}
		for _, e := range items {
			k := string(e.Outcome)
			if e.Status != "" {
				k += "/" + string(e.Status)
			}
			if e.Reason != "" {
				k += "/" + e.Reason
			}
			m[k]++
		}
		return m
	}
	byDelivery := func(items []eventsv1.Event, id string) eventsv1.Event {
		for _, e := range items {
			// GitHub's delivery id is prefixed with the hook's id when it sends one.
			if (e.DeliveryID == id || strings.HasSuffix(e.DeliveryID, ":"+id)) && e.Outcome == eventsv1.OutcomeAccepted {
				return e
			}
		}
		Fail("no accepted event with delivery id " + id)
		return eventsv1.Event{}
	}
	newUser := func(name, ns, clusterRole string) pluginUser {
		kc("-n", ns, "create", "serviceaccount", name)
		kc("-n", ns, "create", "rolebinding", name+"-"+clusterRole, "--clusterrole="+clusterRole, "--serviceaccount="+ns+":"+name)
		token := strings.TrimSpace(kc("-n", ns, "create", "token", name, "--duration=2h"))
		kcfg, err := testenv.TokenKubeconfig(testEnv.Config, name, token, ns)
		Expect(err).NotTo(HaveOccurred())
		p := filepath.Join(workDir, name+"-token.kubeconfig")
		Expect(os.WriteFile(p, kcfg, 0o600)).To(Succeed())
		return pluginUser{name: name, kubeconfig: p}
	}

	BeforeAll(func() {
		By("building kubectl-hookgate and putting it on PATH, where kubectl finds plugins")
		pathDir = filepath.Join(workDir, "plugins")
		build := exec.Command("go", "build", "-o", filepath.Join(pathDir, "kubectl-hookgate"), "./cmd/kubectl-hookgate")
		build.Dir = testenv.RepoRoot()
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))

		By("trusting the manager's serving CA, as a user trusts their cluster's")
		var certSecret corev1.Secret
		Eventually(func() error {
			return k8s.Get(ctxT(), client.ObjectKey{Namespace: releaseNamespace, Name: releaseName + "-webhook-cert"}, &certSecret)
		}, timeout, poll).Should(Succeed())
		caFile = filepath.Join(workDir, "events-ca.crt")
		Expect(os.WriteFile(caFile, certSecret.Data[webhookcert.CAKey], 0o644)).To(Succeed())

		By("two teams' endpoints: alice's redacts the sender's email and gives up after two attempts")
		a = setup(hookv1.ProviderGitHub, []byte("team-a-secret"), func(ep *hookv1.WebhookEndpoint) {
			ep.Spec.Delivery.MaxAttempts = ptr.To[int32](2)
			ep.Spec.History.RedactFields = []string{"sender.email"}
		})
		b = setup(hookv1.ProviderGitHub, []byte("team-b-secret"), nil)

		By("alice gets the chart's edit rules in her namespace, bob only view in his")
		alice = newUser("alice", a.ns, releaseName+"-edit")
		kc("-n", a.ns, "create", "rolebinding", "alice-view", "--clusterrole="+releaseName+"-view", "--serviceaccount="+a.ns+":alice")
		// What the default edit role gives besides: reading the signing
		// Secret, for `kubectl hookgate send`.
		kc("-n", a.ns, "create", "role", "secrets-reader", "--verb=get", "--resource=secrets")
		kc("-n", a.ns, "create", "rolebinding", "alice-secrets", "--role=secrets-reader", "--serviceaccount="+a.ns+":alice")
		bob = newUser("bob", b.ns, releaseName+"-view")
	})

	It("records good, forged, duplicate and failing webhooks, and shows each team only its own", func() {
		By("alice sends a good webhook, a forged one and a redelivery with kubectl hookgate send")
		body := `{"action":"opened","sender":{"login":"octo","email":"octo@example.com"}}`
		mustHookgate(alice, "send", a.ep.Name, "--body", body, "--id", "good-1")
		out, err := hookgate(alice, "send", a.ep.Name, "--body", body, "--id", "forged-1", "--tamper")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("401"))
		mustHookgate(alice, "send", a.ep.Name, "--body", body, "--id", "good-1")
		Eventually(func() int { return len(a.target.requests()) }, timeout, poll).Should(Equal(1))

		By("three events the target refuses until their attempts run out")
		a.target.setFail(true)
		for i := 1; i <= 3; i++ {
			Expect(a.github(fmt.Sprintf(`{"fail":%d}`, i), "fail-"+strconv.Itoa(i))).To(Equal(http.StatusOK))
		}
		Eventually(func(g Gomega) int64 { return a.counters()(g).DeadLettered }, timeout, poll).Should(BeEquivalentTo(3))
		Expect(b.github(`{"team":"b"}`, "b-1")).To(Equal(http.StatusOK))
		Eventually(func() int { return len(b.target.requests()) }, timeout, poll).Should(Equal(1))

		By("alice lists her endpoint's history: every request, the rejection with its reason")
		Eventually(func() map[string]int {
			m := outcomes(list(alice, a))
			// The GETs setup sent until the receiver routed the path.
			Expect(m["rejected/MethodNotAllowed"]).To(BeNumerically(">=", 1))
			delete(m, "rejected/MethodNotAllowed")
			return m
		}, timeout, poll).Should(Equal(map[string]int{
			"accepted/Delivered":         1,
			"rejected/SignatureMismatch": 1,
			"duplicate":                  1,
			"accepted/DeadLettered":      3,
		}))
		dead := list(alice, a, "--status", "DeadLettered")
		Expect(dead).To(HaveLen(3))
		var forged []eventsv1.Event
		for _, e := range list(alice, a, "--outcome", "rejected") {
			if e.Reason == "SignatureMismatch" {
				forged = append(forged, e)
			}
		}
		Expect(forged).To(HaveLen(1))
		Expect(forged[0].Code).To(Equal(http.StatusUnauthorized))
		Expect(forged[0].Source).To(Equal("127.0.0.1"))
		Expect(forged[0].Body).To(BeEmpty(), "a refused request's body is not kept")
		Expect(list(alice, a, "--delivery", "42:fail-2")).To(HaveLen(1))

		By("show: headers, the redacted body, and what the target answered to each attempt")
		failed := byDelivery(dead, "fail-2")
		shown := mustHookgate(alice, "show", "-n", a.ns, a.ep.Name, failed.ID, "-o", "json")
		var ev eventsv1.Event
		ev = eventsv1.Event{}
		Expect(json.Unmarshal([]byte(shown), &ev)).To(Succeed(), shown)
		Expect(string(ev.Body)).To(Equal(`{"fail":2}`))
		Expect(ev.Headers).To(HaveKeyWithValue("X-Github-Delivery", []string{"fail-2"}))
		Expect(ev.Attempts).To(HaveLen(2))
		Expect(ev.Attempts[0].Outcome).To(Equal(eventsv1.AttemptFailed))
		Expect(ev.Attempts[1].Outcome).To(Equal(eventsv1.AttemptDeadLettered))
		Expect(ev.Attempts[1].Code).To(Equal(http.StatusInternalServerError))
		Expect(string(ev.Attempts[1].Response)).To(Equal("boom\n"))
		good := byDelivery(list(alice, a), "good-1")
		shown = mustHookgate(alice, "show", "-n", a.ns, a.ep.Name, good.ID, "-o", "json")
		ev = eventsv1.Event{}
		Expect(json.Unmarshal([]byte(shown), &ev)).To(Succeed(), shown)
		Expect(string(ev.Body)).NotTo(ContainSubstring("octo@example.com"))
		Expect(string(ev.Body)).To(ContainSubstring(`"login":"octo"`))
		Expect(ev.Redacted).To(ConsistOf("sender.email"))

		By("the describe output points at the failed event")
		desc := kc("-n", a.ns, "describe", "webhookendpoint", a.ep.Name)
		Expect(desc).To(ContainSubstring("kubectl hookgate show -n " + a.ns + " " + a.ep.Name + " "))
		Expect(a.get(Default).Status.LastFailure.EventID).NotTo(BeEmpty())

		By("neither user sees the other team's history")
		out, err = hookgate(alice, "events", "-n", b.ns, b.ep.Name)
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring(`Error from server (Forbidden)`))
		Expect(out).To(ContainSubstring(`User "system:serviceaccount:` + a.ns + `:alice" cannot list resource "webhookendpoints/events"`))
		out, err = hookgate(bob, "events", "-n", a.ns, a.ep.Name)
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring(`Error from server (Forbidden)`))

		By("bob lists his own, but without get on events he sees no headers or body")
		bobs := list(bob, b, "--outcome", "accepted")
		Expect(outcomes(bobs)).To(Equal(map[string]int{"accepted/Delivered": 1}))
		shown = mustHookgate(bob, "show", "-n", b.ns, b.ep.Name, bobs[0].ID, "-o", "json")
		ev = eventsv1.Event{}
		Expect(json.Unmarshal([]byte(shown), &ev)).To(Succeed(), shown)
		Expect(ev.Hidden).To(BeTrue())
		Expect(ev.Body).To(BeEmpty())
		Expect(ev.Headers).To(BeEmpty())
		text := mustHookgate(bob, "show", "-n", b.ns, b.ep.Name, bobs[0].ID)
		Expect(text).NotTo(ContainSubstring(`"team"`))
		out, err = hookgate(bob, "events", "-n", b.ns, b.ep.Name, "-q", "team")
		Expect(err).To(HaveOccurred(), "a text search would reveal bodies: %s", out)
		Expect(out).To(ContainSubstring("Forbidden"))
		out, err = hookgate(bob, "retry", "-n", b.ns, b.ep.Name, bobs[0].ID)
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring(`cannot create resource "webhookendpoints/replay"`))

		if os.Getenv("HOOKGATE_CAPTURE_DOCS") != "" {
			captureDoc("plugin-events.txt", "kubectl hookgate events "+a.ep.Name, mustHookgate(alice, "events", "-n", a.ns, a.ep.Name))
			captureDoc("plugin-show.txt", "kubectl hookgate show "+a.ep.Name+" "+failed.ID, mustHookgate(alice, "show", "-n", a.ns, a.ep.Name, failed.ID))
			forbidden, _ := hookgate(bob, "events", "-n", a.ns, a.ep.Name)
			captureDoc("plugin-forbidden.txt", "kubectl hookgate events -n "+a.ns+" "+a.ep.Name+"   # as bob, from another team", forbidden)
		}
	})

	It("retries exactly the failed events a user selects", func() {
		dead := list(alice, a, "--status", "DeadLettered")
		Expect(dead).To(HaveLen(3))
		pick := []string{byDelivery(dead, "fail-1").ID, byDelivery(dead, "fail-3").ID}
		a.target.setFail(false)
		before := len(a.target.requests())
		out := mustHookgate(alice, "retry", "-n", a.ns, a.ep.Name, pick[0], pick[1])
		Expect(out).To(ContainSubstring("event " + pick[0] + " retried"))
		Expect(out).To(ContainSubstring("event " + pick[1] + " retried"))

		Eventually(func() int { return len(a.target.requests()) - before }, timeout, poll).Should(Equal(2))
		Consistently(func() int { return len(a.target.requests()) - before }, 2*time.Second, poll).Should(Equal(2))
		var bodies []string
		for _, r := range a.target.requests()[before:] {
			bodies = append(bodies, r.body)
		}
		Expect(bodies).To(ConsistOf(`{"fail":1}`, `{"fail":3}`))

		Eventually(func() []string {
			var ids []string
			for _, e := range list(alice, a, "--status", "DeadLettered") {
				ids = append(ids, strings.TrimPrefix(e.DeliveryID, "42:"))
			}
			return ids
		}, timeout, poll).Should(Equal([]string{"fail-2"}))

		By("the retried event's history says who retried it and that it was then delivered")
		shown := mustHookgate(alice, "show", "-n", a.ns, a.ep.Name, pick[0], "-o", "json")
		var ev eventsv1.Event
		ev = eventsv1.Event{}
		Expect(json.Unmarshal([]byte(shown), &ev)).To(Succeed(), shown)
		Expect(ev.Status).To(Equal(eventsv1.StatusDelivered))
		var trail []string
		for _, at := range ev.Attempts {
			trail = append(trail, string(at.Outcome))
		}
		Expect(trail).To(Equal([]string{"Failed", "DeadLettered", "Retried", "Delivered"}))
		Expect(ev.Attempts[2].By).To(Equal("system:serviceaccount:" + a.ns + ":alice"))

		By("retrying an id that is not a dead letter says so and fails")
		out, err := hookgate(alice, "retry", "-n", a.ns, a.ep.Name, pick[0])
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("not retried"))
	})

	It("listens: forwards new events to a local process and leaves deliveries alone", func() {
		var mu sync.Mutex
		var forwarded []string
		dev := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			forwarded = append(forwarded, r.URL.Path+" "+r.Header.Get("X-GitHub-Delivery")+" "+string(b))
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
		}))
		DeferCleanup(dev.Close)
		got := func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), forwarded...)
		}

		cmd := exec.Command(kubectl(), "hookgate", "listen", "-n", a.ns, a.ep.Name, "--forward-to", dev.URL+"/webhooks", "--certificate-authority", caFile)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+alice.kubeconfig, "PATH="+pathDir+string(os.PathListSeparator)+os.Getenv("PATH"),
			"HOOKGATE_EVENTS_URL=https://127.0.0.1:"+strconv.Itoa(ports.webhook))
		pr, pw := io.Pipe()
		cmd.Stdout, cmd.Stderr = pw, pw
		Expect(cmd.Start()).To(Succeed())
		DeferCleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait(); pw.Close() })
		var lmu sync.Mutex
		var lines []string
		ready := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			sc := bufio.NewScanner(pr)
			once := sync.Once{}
			for sc.Scan() {
				lmu.Lock()
				lines = append(lines, sc.Text())
				lmu.Unlock()
				if strings.HasPrefix(sc.Text(), "Ready!") {
					once.Do(func() { close(ready) })
				}
			}
		}()
		Eventually(ready, timeout).Should(BeClosed())

		before := len(a.target.requests())
		Expect(a.github(`{"listen":1}`, "listen-1")).To(Equal(http.StatusOK))
		Expect(a.github(`{"listen":2}`, "listen-2")).To(Equal(http.StatusOK))
		Eventually(got, timeout, poll).Should(Equal([]string{
			`/webhooks listen-1 {"listen":1}`,
			`/webhooks listen-2 {"listen":2}`,
		}))
		Eventually(func() int { return len(a.target.requests()) - before }, timeout, poll).Should(Equal(2),
			"the endpoint's own target still gets every event")
		var printed []string
		Eventually(func() []string {
			lmu.Lock()
			defer lmu.Unlock()
			printed = append([]string(nil), lines...)
			return printed
		}, timeout, poll).Should(ContainElement(ContainSubstring("<-- [200] POST " + dev.URL + "/webhooks")))
		if os.Getenv("HOOKGATE_CAPTURE_DOCS") != "" {
			captureDoc("plugin-listen.txt", "kubectl hookgate listen "+a.ep.Name+" --forward-to http://localhost:3000/webhooks",
				strings.ReplaceAll(strings.Join(printed, "\n")+"\n", dev.URL, "http://localhost:3000"))
		}
	})

	It("keeps no history for an endpoint that turns it off", func() {
		c := setup(hookv1.ProviderGitHub, []byte("quiet"), func(ep *hookv1.WebhookEndpoint) { ep.Spec.History.Disabled = true })
		Expect(c.github(`{"quiet":true}`, "q-1")).To(Equal(http.StatusOK))
		Eventually(func() int { return len(c.target.requests()) }, timeout, poll).Should(Equal(1))
		admin := newUser("carol", c.ns, releaseName+"-edit")
		kc("-n", c.ns, "create", "rolebinding", "carol-view", "--clusterrole="+releaseName+"-view", "--serviceaccount="+c.ns+":carol")
		Consistently(func() int { return len(list(admin, c)) }, 2*time.Second, poll).Should(Equal(0))
		out, err := hookgate(admin, "show", "-n", c.ns, c.ep.Name, "0123456789")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("spec.history.disabled"))
	})
})

// captureDoc writes a command and its output to docs/examples.
func captureDoc(name, command, out string) {
	Expect(os.WriteFile(filepath.Join(testenv.RepoRoot(), "docs", "examples", name), []byte("$ "+command+"\n"+out), 0o644)).To(Succeed())
}
