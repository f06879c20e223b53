package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/queue"
)

const (
	timeout = 30 * time.Second
	poll    = 200 * time.Millisecond
)

// target is a real HTTP server standing in for a team's Service.
type target struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []received
	fail bool
	// delay is how long it takes to answer.
	delay time.Duration
}

type received struct {
	at     time.Time
	header http.Header
	body   string
}

func newTarget() *target {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	return newTargetOn(l)
}

// newTargetOn serves the target on a given listener.
func newTargetOn(l net.Listener) *target {
	t := &target{}
	t.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		t.mu.Lock()
		t.got = append(t.got, received{at: time.Now(), header: r.Header.Clone(), body: string(b)})
		fail, delay := t.fail, t.delay
		t.mu.Unlock()
		time.Sleep(delay)
		if fail {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.srv.Listener.Close()
	t.srv.Listener = l
	t.srv.Start()
	DeferCleanup(t.srv.Close)
	return t
}

func (t *target) setDelay(d time.Duration) {
	t.mu.Lock()
	t.delay = d
	t.mu.Unlock()
}

func (t *target) setFail(fail bool) {
	t.mu.Lock()
	t.fail = fail
	t.mu.Unlock()
}

func decodeB64(b []byte) []byte {
	out, err := base64.StdEncoding.DecodeString(string(b))
	Expect(err).NotTo(HaveOccurred())
	return out
}

func (t *target) port() int32 {
	u, _ := url.Parse(t.srv.URL)
	p, _ := strconv.Atoi(u.Port())
	return int32(p)
}

func (t *target) requests() []received {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]received(nil), t.got...)
}

type fixture struct {
	ns     string
	ep     *hookv1.WebhookEndpoint
	secret []byte
	target *target
}

// setup creates a namespace, a Secret, an ExternalName Service pointing at
// the target on this host (the API server refuses loopback Endpoints), and
// the WebhookEndpoint, and waits until it is Ready.
func setup(provider hookv1.Provider, secret []byte, mutate func(*hookv1.WebhookEndpoint)) *fixture {
	ctx := ctxT()
	f := &fixture{secret: secret, target: newTarget()}
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}
	Expect(k8s.Create(ctx, n)).To(Succeed())
	f.ns = n.Name
	Expect(k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "signing"},
		Data:       map[string][]byte{"secret": secret},
	})).To(Succeed())
	Expect(k8s.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "target"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"},
	})).To(Succeed())
	f.ep = &hookv1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "hook"},
		Spec: hookv1.WebhookEndpointSpec{
			Provider:  provider,
			SecretRef: &hookv1.SecretKeyRef{Name: "signing"},
			Target:    &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "target", Port: f.target.port(), Path: "/events"}},
			Delivery: hookv1.DeliverySpec{Backoff: hookv1.BackoffSpec{
				Initial: &metav1.Duration{Duration: 50 * time.Millisecond},
				Max:     &metav1.Duration{Duration: 200 * time.Millisecond},
			}},
		},
	}
	if mutate != nil {
		mutate(f.ep)
	}
	Expect(k8s.Create(ctx, f.ep)).To(Succeed())
	wantReady := metav1.ConditionTrue
	if f.ep.Spec.Suspend {
		wantReady = metav1.ConditionFalse
	}
	Eventually(func(g Gomega) {
		c := meta.FindStatusCondition(f.get(g).Status.Conditions, hookv1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(wantReady))
	}, timeout, poll).Should(Succeed())
	// The receiver learns the path from the API; wait until it routes it.
	// A GET is answered 405 by a routed path and is not counted.
	Eventually(func() int {
		resp, err := http.Get(receiverURL() + f.get(Default).Status.WebhookPath)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}, timeout, poll).Should(Equal(http.StatusMethodNotAllowed))
	return f
}

func (f *fixture) get(g Gomega) *hookv1.WebhookEndpoint {
	out := &hookv1.WebhookEndpoint{}
	g.Expect(k8s.Get(ctxT(), client.ObjectKeyFromObject(f.ep), out)).To(Succeed())
	return out
}

func (f *fixture) counters() func(g Gomega) hookv1.DeliveryCounters {
	return func(g Gomega) hookv1.DeliveryCounters { return f.get(g).Status.GetDeliveries() }
}

func (f *fixture) postRaw(body []byte, h http.Header) int {
	ep := f.get(Default)
	req, err := http.NewRequest(http.MethodPost, receiverURL()+ep.Status.WebhookPath, bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	req.Header = h
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (f *fixture) github(body, delivery string) int {
	h := http.Header{}
	h.Set("X-GitHub-Event", "push")
	h.Set("X-GitHub-Delivery", delivery)
	h.Set("X-GitHub-Hook-ID", "42")
	h.Set("X-Hub-Signature-256", verify.SignGitHub([]byte(body), f.secret))
	return f.postRaw([]byte(body), h)
}

func (f *fixture) events() func(g Gomega) []string {
	return func(g Gomega) []string {
		var list eventsv1.EventList
		g.Expect(k8s.List(ctxT(), &list, client.InNamespace(f.ns))).To(Succeed())
		var out []string
		for _, e := range list.Items {
			out = append(out, e.Type+" "+e.Reason)
		}
		return out
	}
}

func jetStream() jetstream.JetStream {
	nc, err := nats.Connect("nats://127.0.0.1:"+strconv.Itoa(ports.nats), nats.Token(natsToken))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(nc.Close)
	js, err := jetstream.New(nc)
	Expect(err).NotTo(HaveOccurred())
	return js
}

func subjectCount(js jetstream.JetStream, stream, subject string) uint64 {
	s, err := js.Stream(context.Background(), stream)
	Expect(err).NotTo(HaveOccurred())
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	Expect(err).NotTo(HaveOccurred())
	return info.State.Subjects[subject]
}

var _ = Describe("A webhook through the whole system", func() {
	It("delivers a signed GitHub webhook to the target once, however often it is redelivered, and counts it on status", func() {
		f := setup(hookv1.ProviderGitHub, []byte("It's a Secret to Everybody"), nil)
		body := `{"ref":"refs/heads/main","commits":[]}`

		Expect(f.github(body, "d-1")).To(Equal(http.StatusOK))
		Expect(f.github(body, "d-1")).To(Equal(http.StatusOK), "a provider redelivery is acknowledged")

		Eventually(f.counters(), timeout, poll).Should(And(
			HaveField("Received", int64(1)),
			HaveField("Duplicates", int64(1)),
			HaveField("Delivered", int64(1)),
			HaveField("Pending", int64(0)),
		))
		Consistently(func() int { return len(f.target.requests()) }, 2*time.Second, poll).Should(Equal(1))
		got := f.target.requests()[0]
		Expect(got.body).To(Equal(body))
		Expect(got.header.Get("X-GitHub-Event")).To(Equal("push"))
		Expect(got.header.Get("X-Hub-Signature-256")).To(Equal(verify.SignGitHub([]byte(body), f.secret)), "the target can re-verify")
		Expect(got.header.Get("Hookgate-Delivery-Id")).To(Equal("42:d-1"))
		Expect(got.header.Get("Hookgate-Attempt")).To(Equal("1"))
		Expect(got.header.Get("Hookgate-Endpoint")).To(Equal(f.ns + "/hook"))
		Expect(f.get(Default).Status.LastDeliveryTime).NotTo(BeNil())
	})

	It("delivers a Standard Webhooks event and refuses a stale one", func() {
		secret := verify.StandardWebhooksSecret([]byte("0123456789abcdef0123456789abcdef"))
		f := setup(hookv1.ProviderStandardWebhooks, secret, nil)
		body := []byte(`{"type":"invoice.paid"}`)
		Expect(f.postRaw(body, verify.StandardWebhooksHeaders("msg_1", time.Now(), body, secret))).To(Equal(http.StatusOK))
		Expect(f.postRaw(body, verify.StandardWebhooksHeaders("msg_2", time.Now().Add(-time.Hour), body, secret))).To(Equal(http.StatusUnauthorized))
		Eventually(f.counters(), timeout, poll).Should(And(
			HaveField("Received", int64(1)), HaveField("Rejected", int64(1)), HaveField("Delivered", int64(1)),
		))
		Expect(f.target.requests()[0].header.Get("Hookgate-Delivery-Id")).To(Equal("msg_1"))
	})

	It("answers a forged signature with 401 and never stores or forwards it", func() {
		f := setup(hookv1.ProviderGitHub, []byte("right"), nil)
		body := `{"forged":true}`
		h := http.Header{}
		h.Set("X-GitHub-Delivery", "forged-1")
		h.Set("X-Hub-Signature-256", verify.SignGitHub([]byte(body), []byte("wrong")))
		Expect(f.postRaw([]byte(body), h)).To(Equal(http.StatusUnauthorized))
		h.Del("X-Hub-Signature-256")
		Expect(f.postRaw([]byte(body), h)).To(Equal(http.StatusUnauthorized))

		Eventually(f.counters(), timeout, poll).Should(HaveField("Rejected", int64(2)))
		Expect(f.get(Default).Status.GetDeliveries().Received).To(BeZero())
		uid := string(f.get(Default).UID)
		Expect(subjectCount(jetStream(), queue.EventsStream, queue.EventsSubject(uid))).To(BeZero())
		Consistently(func() int { return len(f.target.requests()) }, time.Second, poll).Should(BeZero())
	})

	It("moves an event the target always refuses to the dead-letter stream, counts it and warns", func() {
		f := setup(hookv1.ProviderGitHub, []byte("s"), func(ep *hookv1.WebhookEndpoint) {
			ep.Spec.Delivery.MaxAttempts = ptr.To[int32](3)
		})
		f.target.setFail(true)
		Expect(f.github(`{"n":1}`, "doomed")).To(Equal(http.StatusOK))

		Eventually(f.counters(), timeout, poll).Should(And(
			HaveField("Received", int64(1)),
			HaveField("Retries", int64(2)),
			HaveField("DeadLettered", int64(1)),
			HaveField("Delivered", int64(0)),
			HaveField("Pending", int64(0)),
		))
		Expect(f.target.requests()).To(HaveLen(3))
		ep := f.get(Default)
		Expect(ep.Status.LastFailure).NotTo(BeNil())
		Expect(ep.Status.LastFailure.Reason).To(Equal("HTTP500"))
		Eventually(f.events(), timeout, poll).Should(ContainElement("Warning DeadLettered"))

		js := jetStream()
		uid := string(ep.UID)
		Expect(subjectCount(js, queue.DLQStream, queue.DLQSubject(uid))).To(Equal(uint64(1)))
		s, err := js.Stream(context.Background(), queue.DLQStream)
		Expect(err).NotTo(HaveOccurred())
		m, err := s.GetLastMsgForSubject(context.Background(), queue.DLQSubject(uid))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(m.Data)).To(Equal(`{"n":1}`))
		Expect(m.Header.Get(queue.HeaderLastError)).To(ContainSubstring("HTTP500"))
		Expect(m.Header.Get(queue.HeaderAttempts)).To(Equal("3"))
	})

	It("still delivers an acknowledged event after the receiver is killed with SIGKILL and restarted", func() {
		f := setup(hookv1.ProviderGitHub, []byte("durable"), func(ep *hookv1.WebhookEndpoint) { ep.Spec.Suspend = true })
		// Suspended: the event is acknowledged and stored but not delivered,
		// so it is certainly only in JetStream when the process dies.
		Expect(f.github(`{"survive":"sigkill"}`, "kill-1")).To(Equal(http.StatusOK))
		Eventually(f.counters(), timeout, poll).Should(And(HaveField("Received", int64(1)), HaveField("Pending", int64(1))))
		Expect(f.target.requests()).To(BeEmpty())

		receiver.kill()
		startReceiver()

		cur := f.get(Default)
		cur.Spec.Suspend = false
		Expect(k8s.Update(ctxT(), cur)).To(Succeed())
		Eventually(func() []received { return f.target.requests() }, timeout, poll).Should(HaveLen(1))
		Expect(f.target.requests()[0].body).To(Equal(`{"survive":"sigkill"}`))
		Eventually(f.counters(), timeout, poll).Should(And(
			HaveField("Received", int64(1)), HaveField("Delivered", int64(1)), HaveField("Pending", int64(0)),
		))
		// The dedupe marker survived too. Checked in the bucket itself: within
		// two minutes JetStream's own Nats-Msg-Id window would also catch a
		// redelivery, so a duplicate answer alone proves nothing.
		events, err := jetStream().Stream(context.Background(), queue.EventsStream)
		Expect(err).NotTo(HaveOccurred())
		_, err = events.GetLastMsgForSubject(context.Background(), queue.SeenSubject(string(cur.UID), "42:kill-1"))
		Expect(err).NotTo(HaveOccurred(), "dedupe marker lost across SIGKILL")
		Expect(f.github(`{"survive":"sigkill"}`, "kill-1")).To(Equal(http.StatusOK))
		Eventually(f.counters(), timeout, poll).Should(HaveField("Duplicates", int64(1)))
		Consistently(func() int { return len(f.target.requests()) }, time.Second, poll).Should(Equal(1))
	})

	It("answers 404 for a path no endpoint has", func() {
		resp, err := http.Post(receiverURL()+"/hook/"+strings.Repeat("0", 32), "application/json", strings.NewReader("{}"))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusNotFound))
	})
})
