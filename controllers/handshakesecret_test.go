package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

var _ = Describe("Handshake secret capture", func() {
	var (
		ctx context.Context
		ns  string
		hs  *queue.HandshakeSecrets
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
		var err error
		hs, err = queue.OpenHandshakeSecrets(ctx, q.NC)
		Expect(err).NotTo(HaveOccurred())
	})
	asana := func(name, secretName, arm string) *hookv1.WebhookEndpoint {
		ep := endpoint(ns, name)
		ep.Spec.Provider = "asana"
		ep.Spec.SecretRef = &hookv1.SecretKeyRef{Name: secretName}
		ep.Annotations = map[string]string{hookv1.AnnotationArmHandshake: arm}
		return ep
	}

	It("stores the captured secret in the endpoint's Secret, disarms it and says so", func() {
		arm := time.Now().Add(30 * time.Minute).UTC().Format(time.RFC3339)
		ep := asana("asana", "asana-secret", arm)
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Expect(hs.Capture(ctx, string(ep.UID), arm, []byte("captured-secret"))).To(Succeed())

		Eventually(func(g Gomega) []byte {
			var s corev1.Secret
			g.Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "asana-secret"}, &s)).To(Succeed())
			g.Expect(s.Labels).To(HaveKeyWithValue(hookv1.LabelEndpointName, "asana"))
			return s.Data["secret"]
		}, timeout, interval).Should(Equal([]byte("captured-secret")))
		Eventually(func(g Gomega) map[string]string { return get(ctx, ep)(g).Annotations }, timeout, interval).
			ShouldNot(HaveKey(hookv1.AnnotationArmHandshake))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Normal " + hookv1.ReasonHandshakeSecretCaptured))
		// The secret left the bucket, and the arm cannot capture again.
		_, found, consumed, err := hs.Captured(ctx, string(ep.UID), arm)
		Expect(err).NotTo(HaveOccurred())
		Expect(found && consumed).To(BeTrue())
		Expect(hs.Capture(ctx, string(ep.UID), arm, []byte("second"))).To(MatchError(queue.ErrHandshakeSecretTaken))
		// The endpoint becomes ready with the stored secret.
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionSecretReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
	})

	It("never writes a Secret someone else owns", func() {
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "theirs"},
			Data:       map[string][]byte{"secret": []byte("their value")},
		})).To(Succeed())
		arm := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
		ep := asana("asana-theirs", "theirs", arm)
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Expect(hs.Capture(ctx, string(ep.UID), arm, []byte("captured"))).To(Succeed())

		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Warning " + hookv1.ReasonSecretNotManaged))
		var s corev1.Secret
		Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "theirs"}, &s)).To(Succeed())
		Expect(s.Data["secret"]).To(Equal([]byte("their value")))
		Expect(get(ctx, ep)(Default).Annotations).To(HaveKey(hookv1.AnnotationArmHandshake))
	})

	It("warns about an arm that is too far ahead", func() {
		ep := asana("asana-far", "asana-far", time.Now().Add(3*time.Hour).UTC().Format(time.RFC3339))
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Warning " + hookv1.ReasonHandshakeArmInvalid))
	})
})
