package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

var _ = Describe("Storage quota", func() {
	var (
		ctx = context.Background()
		ns  string
	)
	BeforeEach(func() { ns = newNamespace(ctx) })

	It("says on Ready why an endpoint's new events get 503 while it is at its quota, and recovers", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		ep := endpoint(ns, "gh")
		ep.Spec.Limits.MaxQueuedEvents = ptr.To[int64](2)
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		uid := string(get(ctx, ep)(Default).UID)
		for _, id := range []string{"q-1", "q-2"} {
			_, err := q.Enqueue(ctx, &queue.Event{EndpointUID: uid, DeliveryID: id, ReceivedAt: time.Now(), Body: []byte("{}")}, time.Hour)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(q.FlushCounters(ctx)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", hookv1.ReasonQuotaExceeded),
			HaveField("Message", ContainSubstring("2 events waiting for delivery (spec.limits.maxQueuedEvents 2)"))))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Warning " + hookv1.ReasonQuotaExceeded))

		By("the target drains the queue")
		Expect(q.Purge(ctx, uid)).To(Succeed())
		Expect(q.IncrSync(ctx, uid, queue.CounterDelivered, 2)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
	})
})
