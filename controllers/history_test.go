package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/history"
)

var _ = Describe("Event history", func() {
	ctx := context.Background()

	It("is cut to spec.history.maxEvents once a minute and removed with the endpoint", func() {
		ns := newNamespace(ctx)
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		ep := endpoint(ns, "kept")
		ep.Spec.History.MaxEvents = ptr.To[int32](100)
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		uid := string(get(ctx, ep)(Default).UID)
		requests := func() uint64 {
			cons, err := q.JS.OrderedConsumer(ctx, history.Stream, jetstream.OrderedConsumerConfig{
				FilterSubjects: []string{history.RequestSubject(uid, "*")}})
			Expect(err).NotTo(HaveOccurred())
			info, err := cons.Info(ctx)
			Expect(err).NotTo(HaveOccurred())
			return info.NumPending
		}
		// Records as a receiver writes them, after the first reconcile
		// has trimmed (nothing).
		Eventually(func(g Gomega) { g.Expect(get(ctx, ep)(g).Status.ObservedGeneration).To(Equal(int64(1))) }, timeout, interval).Should(Succeed())
		rec := history.NewRecorder(q.JS, history.RecorderOptions{})
		p := history.PolicyFor(hookv1.HistorySpec{})
		for i := range 150 {
			rec.Request(uid, p, &eventsv1.Event{ID: fmt.Sprintf("r%03d", i), Time: time.Now(), Outcome: eventsv1.OutcomeAccepted, Code: 200})
		}
		Expect(rec.Close(ctx)).To(Succeed())
		Expect(requests()).To(Equal(uint64(150)))

		By("within the minute nothing is cut, even when the endpoint is reconciled")
		touch := func(v string) {
			cur := get(ctx, ep)(Default)
			cur.Annotations = map[string]string{"test/touch": v}
			Expect(k8s.Update(ctx, cur)).To(Succeed())
		}
		touch("1")
		Consistently(requests, 2*time.Second, interval).Should(Equal(uint64(150)))

		By("a minute later the oldest 50 go")
		advanceClock(2 * time.Minute)
		touch("2")
		Eventually(requests, timeout, interval).Should(Equal(uint64(100)))
		l, err := history.NewReader(q.JS).List(ctx, uid, nil, eventsv1.Query{Limit: 1}, false)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Items).To(HaveLen(1))
		Expect(l.Items[0].ID).To(Equal("r050"), "the newest are kept")

		By("deleting the endpoint removes its history")
		Expect(k8s.Delete(ctx, get(ctx, ep)(Default))).To(Succeed())
		Eventually(requests, timeout, interval).Should(BeZero())
	})
})
