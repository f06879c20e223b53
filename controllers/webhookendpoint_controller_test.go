package controllers

import (
	"context"
	"regexp"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

const (
	timeout  = 20 * time.Second
	interval = 100 * time.Millisecond
)

func endpoint(ns, name string) *hookv1.WebhookEndpoint {
	return &hookv1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: hookv1.WebhookEndpointSpec{
			Provider:  hookv1.ProviderGitHub,
			SecretRef: &hookv1.SecretKeyRef{Name: "gh-secret"},
			Target:    &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "target", Port: 8080}},
		},
	}
}

func secret(ns string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gh-secret"},
		Data:       map[string][]byte{"secret": []byte("s3cr3t")},
	}
}

func service(ns string, port int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "target"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: port}}},
	}
}

func get(ctx context.Context, ep *hookv1.WebhookEndpoint) func(g Gomega) *hookv1.WebhookEndpoint {
	return func(g Gomega) *hookv1.WebhookEndpoint {
		out := &hookv1.WebhookEndpoint{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ep), out)).To(Succeed())
		return out
	}
}

func condition(ctx context.Context, ep *hookv1.WebhookEndpoint, typ string) func(g Gomega) *metav1.Condition {
	return func(g Gomega) *metav1.Condition {
		c := meta.FindStatusCondition(get(ctx, ep)(g).Status.Conditions, typ)
		g.Expect(c).NotTo(BeNil(), "condition %s not set", typ)
		return c
	}
}

func eventsFor(ctx context.Context, ep *hookv1.WebhookEndpoint) func(g Gomega) []string {
	return func(g Gomega) []string {
		var list eventsv1.EventList
		g.Expect(k8s.List(ctx, &list, client.InNamespace(ep.Namespace))).To(Succeed())
		var out []string
		for _, e := range list.Items {
			if e.Regarding.Name == ep.Name {
				out = append(out, e.Type+" "+e.Reason)
			}
		}
		return out
	}
}

var pathRE = regexp.MustCompile(`^/hook/[0-9a-f]{32}$`)

var _ = Describe("WebhookEndpoint controller", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})

	It("reports a missing Secret, then becomes Ready once the Secret appears, keeping its path", func() {
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		ep := endpoint(ns, "gh")
		Expect(k8s.Create(ctx, ep)).To(Succeed())

		Eventually(condition(ctx, ep, hookv1.ConditionSecretReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", hookv1.ReasonSecretNotFound),
			HaveField("Message", ContainSubstring(`"gh-secret" not found`)),
		))
		Expect(condition(ctx, ep, hookv1.ConditionReady)(Default)).To(HaveField("Status", metav1.ConditionFalse))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Warning SecretNotFound"))

		first := get(ctx, ep)(Default)
		Expect(first.Status.WebhookPath).To(MatchRegexp(pathRE.String()))
		Expect(first.Status.URL).To(Equal("https://hooks.example.com" + first.Status.WebhookPath))
		Expect(first.Finalizers).To(ContainElement(hookv1.Finalizer))

		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionTrue),
			HaveField("ObservedGeneration", first.Generation),
		))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Normal Succeeded"))
		Expect(get(ctx, ep)(Default).Status.WebhookPath).To(Equal(first.Status.WebhookPath))
	})

	It("reports a Secret without the referenced key", func() {
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		s := secret(ns)
		s.Data = map[string][]byte{"other": []byte("x")}
		Expect(k8s.Create(ctx, s)).To(Succeed())
		ep := endpoint(ns, "gh")
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionSecretReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", hookv1.ReasonSecretKeyMissing),
		))
	})

	It("reports a missing target Service and a missing port, and recovers when fixed", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		ep := endpoint(ns, "gh")
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionTargetReady), timeout, interval).Should(HaveField("Reason", hookv1.ReasonServiceNotFound))

		svc := service(ns, 9999)
		Expect(k8s.Create(ctx, svc)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionTargetReady), timeout, interval).Should(HaveField("Reason", hookv1.ReasonServicePortMissing))

		svc.Spec.Ports[0].Port = 8080
		Expect(k8s.Update(ctx, svc)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
	})

	It("accepts any port on an ExternalName Service", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "target"},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"},
		})).To(Succeed())
		ep := endpoint(ns, "gh")
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
	})

	It("is not Ready while suspended, and says so", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		ep := endpoint(ns, "gh")
		ep.Spec.Suspend = true
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", hookv1.ReasonSuspended),
		))
		cur := get(ctx, ep)(Default)
		cur.Spec.Suspend = false
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
	})

	It("copies the counters kept in JetStream to status and warns about dead letters", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		ep := endpoint(ns, "gh")
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		uid := string(get(ctx, ep)(Default).UID)

		for c, n := range map[string]int64{
			queue.CounterDelivered: 3, queue.CounterDuplicates: 2,
			queue.CounterRejected: 4, queue.CounterRetries: 6, queue.CounterDeadLettered: 1,
		} {
			Expect(q.IncrSync(ctx, uid, c, n)).To(Succeed())
		}
		Expect(q.RecordFailure(ctx, uid, queue.Failure{Time: time.Now(), Reason: "HTTP503", Message: "target answered 503"})).To(Succeed())
		_, err := q.Enqueue(ctx, &queue.Event{EndpointUID: uid, DeliveryID: "still-queued", ReceivedAt: time.Now(), Body: []byte("{}")}, time.Hour)
		Expect(err).NotTo(HaveOccurred())
		// The enqueue moves only the queued bytes; received is derived
		// (delivered 3 + dead-lettered 1 + pending 1).
		Expect(q.FlushCounters(ctx)).To(Succeed())

		Eventually(func(g Gomega) hookv1.DeliveryCounters {
			return get(ctx, ep)(g).Status.GetDeliveries()
		}, timeout, interval).Should(Equal(hookv1.DeliveryCounters{
			Received: 5, Delivered: 3, Duplicates: 2, Rejected: 4, Retries: 6, DeadLettered: 1, Pending: 1,
			QueuedBytes: 2, // the queued "{}"
		}))
		Expect(get(ctx, ep)(Default).Status.LastFailure).To(HaveField("Reason", "HTTP503"))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Warning DeadLettered"))
	})

	It("purges the endpoint's queued data on delete and lets the object go", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		ep := endpoint(ns, "gh")
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		uid := string(get(ctx, ep)(Default).UID)
		_, err := q.Enqueue(ctx, &queue.Event{EndpointUID: uid, DeliveryID: "d", ReceivedAt: time.Now(), Body: []byte("{}")}, time.Hour)
		Expect(err).NotTo(HaveOccurred())
		// Increments are summed for 100ms before they are published.
		Expect(q.FlushCounters(ctx)).To(Succeed())

		Expect(k8s.Delete(ctx, ep)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(ep), &hookv1.WebhookEndpoint{}))
		}, timeout, interval).Should(BeTrue())
		c, err := q.ReadCounters(ctx, uid)
		Expect(err).NotTo(HaveOccurred())
		Expect(c).To(Equal(queue.Counters{}))
	})

	DescribeTable("the API refuses invalid endpoints with a message that says what to fix",
		func(mutate func(*hookv1.WebhookEndpoint), msg string) {
			ep := endpoint(ns, "bad")
			mutate(ep)
			err := k8s.Create(ctx, ep)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(msg))
		},
		Entry("generic-hmac without its settings", func(e *hookv1.WebhookEndpoint) { e.Spec.Provider = hookv1.ProviderGenericHMAC },
			"spec.genericHMAC is required when provider is generic-hmac"),
		Entry("genericHMAC settings on another provider", func(e *hookv1.WebhookEndpoint) { e.Spec.GenericHMAC = &hookv1.GenericHMACSpec{} },
			"spec.genericHMAC may only be set when provider is generic-hmac"),
		Entry("a source range that is not a CIDR", func(e *hookv1.WebhookEndpoint) { e.Spec.SourceRanges = []string{"10.0.0.1"} },
			"every sourceRanges entry must be a CIDR"),
		Entry("an unknown provider", func(e *hookv1.WebhookEndpoint) { e.Spec.Provider = "nope" },
			"Unsupported value"),
		Entry("a backoff whose initial delay exceeds its maximum", func(e *hookv1.WebhookEndpoint) {
			e.Spec.Delivery.Backoff = hookv1.BackoffSpec{Initial: &metav1.Duration{Duration: time.Minute}, Max: &metav1.Duration{Duration: time.Second}}
		}, "backoff.initial must not exceed backoff.max"),
		Entry("zero delivery attempts", func(e *hookv1.WebhookEndpoint) { e.Spec.Delivery.MaxAttempts = ptr.To[int32](0) },
			"spec.delivery.maxAttempts"),
		Entry("a target path without a leading slash", func(e *hookv1.WebhookEndpoint) { e.Spec.Target.Service.Path = "events" },
			"spec.target.service.path"),
		Entry("a timestamp header that is not part of the signed content", func(e *hookv1.WebhookEndpoint) {
			e.Spec.Provider = hookv1.ProviderGenericHMAC
			e.Spec.GenericHMAC = &hookv1.GenericHMACSpec{TimestampHeader: "X-Timestamp"}
		}, "signedContent must include {timestamp}"),
	)
})
