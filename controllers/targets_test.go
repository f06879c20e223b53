package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

var _ = Describe("Several targets", func() {
	var (
		ctx = context.Background()
		ns  string
	)
	BeforeEach(func() { ns = newNamespace(ctx) })

	It("shows each target's deliveries and circuit, totals them, and says when a circuit opens and closes", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		audit := service(ns, 9090)
		audit.Name = "audit"
		Expect(k8s.Create(ctx, audit)).To(Succeed())
		ep := endpoint(ns, "fan")
		ep.Spec.Target = nil
		ep.Spec.Targets = []hookv1.TargetSpec{
			{Name: "orders", Service: hookv1.ServiceTarget{Name: "target", Port: 8080}},
			{Service: hookv1.ServiceTarget{Name: "audit", Port: 9090}},
		}
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionTrue),
			HaveField("Message", ContainSubstring(`2 targets: orders (Service "target" port 8080), audit (Service "audit" port 9090)`))))
		uid := string(get(ctx, ep)(Default).UID)
		orders, auditKey := queue.TargetKey(uid, "orders"), queue.TargetKey(uid, "audit")

		By("each target counts its own deliveries")
		Expect(q.IncrSync(ctx, orders, queue.CounterDelivered, 3)).To(Succeed())
		Expect(q.IncrSync(ctx, auditKey, queue.CounterDelivered, 1)).To(Succeed())
		Expect(q.IncrSync(ctx, auditKey, queue.CounterRetries, 5)).To(Succeed())
		Eventually(func(g Gomega) {
			st := get(ctx, ep)(g).Status
			g.Expect(st.Targets).To(HaveLen(2))
			g.Expect(st.Targets[0].Name).To(Equal("orders"))
			g.Expect(st.Targets[0].Deliveries.Delivered).To(Equal(int64(3)))
			g.Expect(st.Targets[1].Name).To(Equal("audit"))
			g.Expect(st.Targets[1].Service).To(Equal("audit"))
			g.Expect(st.Targets[1].Deliveries.Retries).To(Equal(int64(5)))
			g.Expect(st.Targets[1].Circuit).To(Equal(hookv1.CircuitClosed))
			g.Expect(st.Deliveries.Delivered).To(Equal(int64(4)))
			g.Expect(st.Deliveries.Retries).To(Equal(int64(5)))
		}, timeout, interval).Should(Succeed())

		By("a receiver opens the audit target's circuit")
		probe := time.Now().Add(time.Minute)
		rev, err := q.SetTargetState(ctx, auditKey, queue.TargetState{Circuit: queue.CircuitOpen, Since: time.Now(), ProbeAt: probe, Reason: "HTTP503", Message: "target answered 503"}, 0)
		Expect(err).NotTo(HaveOccurred())
		// The state write alone refreshes status: no counter moves.
		Eventually(func(g Gomega) {
			ts := get(ctx, ep)(g).Status.Targets[1]
			g.Expect(ts.Circuit).To(Equal(hookv1.CircuitOpen))
			g.Expect(ts.CircuitReason).To(Equal("HTTP503"))
			g.Expect(ts.NextProbeTime).NotTo(BeNil())
		}, timeout, interval).Should(Succeed())
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement(corev1.EventTypeWarning + " " + hookv1.ReasonCircuitOpened))

		By("a probe succeeds")
		_, err = q.SetTargetState(ctx, auditKey, queue.TargetState{Since: time.Now()}, rev)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) hookv1.CircuitState {
			return get(ctx, ep)(g).Status.Targets[1].Circuit
		}, timeout, interval).Should(Equal(hookv1.CircuitClosed))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement(corev1.EventTypeNormal + " " + hookv1.ReasonCircuitClosed))

		By("removing a target discards what it had queued")
		_, err = q.Enqueue(ctx, &queue.Event{EndpointUID: auditKey, DeliveryID: "left", ReceivedAt: time.Now(), Body: []byte("{}")}, time.Hour)
		Expect(err).NotTo(HaveOccurred())
		cur := get(ctx, ep)(Default)
		cur.Spec.Targets = cur.Spec.Targets[:1]
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(func(g Gomega) []hookv1.TargetStatus { return get(ctx, ep)(g).Status.Targets }, timeout, interval).Should(HaveLen(1))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement(corev1.EventTypeWarning + " " + hookv1.ReasonTargetRemoved))
		c, err := q.ReadCounters(ctx, auditKey)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Pending).To(BeZero())
	})

	It("refuses an endpoint with both spec.target and spec.targets, or two targets of one name", func() {
		ep := endpoint(ns, "both")
		ep.Spec.Targets = []hookv1.TargetSpec{{Service: hookv1.ServiceTarget{Name: "x", Port: 80}}}
		Expect(k8s.Create(ctx, ep)).To(MatchError(ContainSubstring("set exactly one of spec.target and spec.targets")))
		ep = endpoint(ns, "same")
		ep.Spec.Target = nil
		ep.Spec.Targets = []hookv1.TargetSpec{
			{Service: hookv1.ServiceTarget{Name: "x", Port: 80}},
			{Name: "x", Service: hookv1.ServiceTarget{Name: "y", Port: 80}},
		}
		Expect(k8s.Create(ctx, ep)).To(MatchError(ContainSubstring("spec.targets must have distinct names")))
	})
})
