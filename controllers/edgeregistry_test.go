package controllers

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/keyring"
	"github.com/hookgate/hookgate/internal/queue"
)

var _ = Describe("Edge registry", func() {
	var (
		ctx    context.Context
		ns     string
		bucket *queue.EdgeRegistry
		p      *EdgeRegistryPublisher
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		var err error
		bucket, err = queue.OpenEdgeRegistry(ctx, q.NC)
		Expect(err).NotTo(HaveOccurred())
		// Reconciled by hand with the direct client: what it publishes is
		// what the API server holds.
		p = &EdgeRegistryPublisher{Client: k8s, ReceiverNamespace: receiverNamespace,
			Open: func(context.Context) (EdgeRegistryWriter, error) { return bucket, nil }}
	})

	entry := func(uid types.UID) func(g Gomega) queue.RegistryEntry {
		return func(g Gomega) queue.RegistryEntry {
			e, err := bucket.KV.Get(ctx, string(uid))
			g.Expect(err).NotTo(HaveOccurred())
			out, err := queue.DecodeRegistryEntry(e.Value())
			g.Expect(err).NotTo(HaveOccurred())
			return out
		}
	}
	reconcile := func(ep *hookv1.WebhookEndpoint) {
		_, err := p.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ep)})
		Expect(err).NotTo(HaveOccurred())
	}
	absent := func(uid types.UID) bool {
		_, err := bucket.KV.Get(ctx, string(uid))
		return errors.Is(err, jetstream.ErrKeyNotFound)
	}

	It("publishes a routable endpoint with its mirrored keys, follows a rotation of the mirror and removes the entry on delete", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		ep := endpoint(ns, "gh")
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		// The manager has assigned a path and mirrored the keys.
		// (The mirror is written during the reconcile, the path with its
		// status patch at the end: wait for both.)
		Eventually(readMirror(ctx, ep), timeout, interval).ShouldNot(BeNil())
		Eventually(func(g Gomega) string { return get(ctx, ep)(g).Status.WebhookPath }, timeout, interval).ShouldNot(BeEmpty())
		cur := get(ctx, ep)(Default)

		reconcile(cur)
		e := entry(cur.UID)(Default)
		Expect(e.Endpoint.Name).To(Equal("gh"))
		Expect(e.Endpoint.Namespace).To(Equal(ns))
		Expect(e.Endpoint.Status.WebhookPath).To(Equal(cur.Status.WebhookPath))
		Expect(e.Endpoint.Spec).To(Equal(cur.Spec))
		Expect(e.Endpoint.Status.Conditions).To(BeEmpty(), "status beyond the path must not reach the edge")
		Expect(e.Keys).To(HaveKeyWithValue(keyring.MirrorCurrent, []byte("s3cr3t")))

		// A new key in the team's Secret reaches the mirror, then the entry.
		s := readSecret(ctx, ns, "gh-secret")(Default)
		s.Data["secret"] = []byte("n3w")
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(func(g Gomega) []byte {
			_, err := p.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ep)})
			g.Expect(err).NotTo(HaveOccurred())
			return entry(cur.UID)(g).Keys[keyring.MirrorCurrent]
		}, timeout, interval).Should(Equal([]byte("n3w")))

		Expect(k8s.Delete(ctx, cur)).To(Succeed())
		Eventually(func() bool {
			_, err := p.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ep)})
			return err == nil && absent(cur.UID)
		}, timeout, interval).Should(BeTrue())
	})

	It("publishes an endpoint whose keys are not mirrored yet without keys, so the edge answers 503 SecretUnavailable", func() {
		ep := endpoint(ns, "nokeys") // its Secret does not exist
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(func(g Gomega) string { return get(ctx, ep)(g).Status.WebhookPath }, timeout, interval).ShouldNot(BeEmpty())
		cur := get(ctx, ep)(Default)
		reconcile(cur)
		Expect(entry(cur.UID)(Default).Keys).To(BeNil())
	})

	It("carries the WebhookProvider of spec.providerRef, so the edge needs no API access", func() {
		name := "edge-acme-" + ns
		DeferCleanup(deleteProvider, ctx, name)
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		ep := endpoint(ns, "acme")
		ep.Spec.Provider, ep.Spec.ProviderRef = "", &hookv1.ProviderReference{Name: name}
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(func(g Gomega) string { return get(ctx, ep)(g).Status.WebhookPath }, timeout, interval).ShouldNot(BeEmpty())
		cur := get(ctx, ep)(Default)
		reconcile(cur)
		Expect(entry(cur.UID)(Default).Provider).To(BeNil(), "no provider yet: the edge answers 503")

		wp := acmeProvider(name)
		Expect(k8s.Create(ctx, wp)).To(Succeed())
		reconcile(cur)
		Expect(entry(cur.UID)(Default).Provider).To(HaveValue(Equal(wp.Spec)))
		Expect(p.endpointsOfProvider(ctx, wp)).To(ConsistOf(ctrl.Request{NamespacedName: client.ObjectKeyFromObject(cur)}))
	})

	It("sweeps entries whose endpoint is gone (deleted while the manager was down)", func() {
		orphan := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gone", UID: "uid-of-a-deleted-endpoint"}}
		orphan.Status.WebhookPath = "/hook/ffffffffffffffffffffffffffffffff"
		_, err := bucket.Put(ctx, queue.NewRegistryEntry(orphan, nil))
		Expect(err).NotTo(HaveOccurred())

		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		ep := endpoint(ns, "kept")
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(func(g Gomega) string { return get(ctx, ep)(g).Status.WebhookPath }, timeout, interval).ShouldNot(BeEmpty())
		cur := get(ctx, ep)(Default)
		reconcile(cur)

		Expect(p.Sweep(ctx)).To(Succeed())
		Expect(absent(orphan.UID)).To(BeTrue())
		Expect(absent(cur.UID)).To(BeFalse())
	})
})
