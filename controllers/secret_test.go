package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/keyring"
)

// readMirror reads the endpoint's key mirror in the receiver's namespace.
func readMirror(ctx context.Context, ep *hookv1.WebhookEndpoint) func(g Gomega) *corev1.Secret {
	return func(g Gomega) *corev1.Secret {
		uid := get(ctx, ep)(g).UID
		s := &corev1.Secret{}
		g.Expect(k8s.Get(ctx, types.NamespacedName{Namespace: receiverNamespace, Name: keyring.MirrorName(string(uid))}, s)).To(Succeed())
		return s
	}
}

func mirrorGone(ctx context.Context, uid types.UID) func() bool {
	return func() bool {
		err := k8s.Get(ctx, types.NamespacedName{Namespace: receiverNamespace, Name: keyring.MirrorName(string(uid))}, &corev1.Secret{})
		return apierrors.IsNotFound(err)
	}
}

// update changes the endpoint's spec, retrying on conflicts with the
// controller's status writes, and returns what the API server stored.
func update(ctx context.Context, ep *hookv1.WebhookEndpoint, mutate func(*hookv1.WebhookEndpoint)) *hookv1.WebhookEndpoint {
	var cur *hookv1.WebhookEndpoint
	Eventually(func(g Gomega) {
		cur = get(ctx, ep)(g)
		mutate(cur)
		g.Expect(k8s.Update(ctx, cur)).To(Succeed())
	}, timeout, interval).Should(Succeed())
	return cur
}

func rotation() *hookv1.RotationSpec {
	return &hookv1.RotationSpec{Interval: &metav1.Duration{Duration: 24 * time.Hour}, GracePeriod: &metav1.Duration{Duration: time.Hour}}
}

// handedOver is a signing Secret someone able to write it has handed over
// to the endpoint "gh" for rotation.
func handedOver(ns string, data map[string][]byte, annotations map[string]string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gh-secret", Labels: map[string]string{hookv1.LabelEndpointName: "gh"}, Annotations: annotations},
		Data:       data,
	}
}

var _ = Describe("Signing Secrets", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
	})

	It("never writes a Secret it does not manage, even when an endpoint asks to rotate it (the db-credentials attack)", func() {
		db := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-credentials", Annotations: map[string]string{"owner": "dba"}},
			Data:       map[string][]byte{"password": []byte("hunter2"), "user": []byte("app")},
		}
		Expect(k8s.Create(ctx, db)).To(Succeed())
		before := readSecret(ctx, ns, "db-credentials")(Default)

		ep := endpoint(ns, "gh")
		ep.Spec.SecretRef = &hookv1.SecretKeyRef{Name: "db-credentials", Key: "password"}
		ep.Spec.Rotation = rotation()
		ep.Spec.Rotation.Generate = true
		ep.Annotations = map[string]string{hookv1.AnnotationRotate: "now"}
		Expect(k8s.Create(ctx, ep)).To(Succeed())

		Eventually(condition(ctx, ep, hookv1.ConditionSecretReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", hookv1.ReasonSecretNotManaged),
			HaveField("Message", ContainSubstring(hookv1.LabelEndpointName+"=gh")),
			HaveField("Message", ContainSubstring("remove spec.rotation")),
		))
		Expect(condition(ctx, ep, hookv1.ConditionReady)(Default)).To(HaveField("Reason", hookv1.ReasonSecretNotManaged))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Warning " + hookv1.ReasonSecretNotManaged))

		By("waiting out the grace period and the interval: still nothing is written or deleted")
		advanceClock(25 * time.Hour)
		annotate(ctx, ep, "test/nudge", "1")
		By("asking to generate a missing key in it")
		cur := update(ctx, ep, func(e *hookv1.WebhookEndpoint) { e.Spec.SecretRef.Key = "api-key" })
		Eventually(func(g Gomega) int64 { return get(ctx, ep)(g).Status.ObservedGeneration }, timeout, interval).Should(Equal(cur.Generation))
		Consistently(func(g Gomega) *corev1.Secret { return readSecret(ctx, ns, "db-credentials")(g) }, 2*time.Second, interval).Should(And(
			HaveField("ResourceVersion", before.ResourceVersion),
			HaveField("Data", Equal(before.Data)),
			HaveField("Annotations", Equal(before.Annotations)),
			HaveField("Labels", BeEmpty()),
		))
		Expect(condition(ctx, ep, hookv1.ConditionSecretReady)(Default)).To(HaveField("Reason", hookv1.ReasonSecretNotManaged))
		Expect(get(ctx, ep)(Default).Status.Secret).To(BeNil(), "no rotation schedule for a Secret that is never rotated")
	})

	It("rotates a Secret handed over with the endpoint-name label, and the receiver's mirror follows", func() {
		Expect(k8s.Create(ctx, handedOver(ns, map[string][]byte{"secret": []byte("team-chosen")}, nil))).To(Succeed())
		ep := endpoint(ns, "gh")
		ep.Spec.Rotation = rotation()
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		Eventually(func(g Gomega) string { return string(readMirror(ctx, ep)(g).Data[keyring.MirrorCurrent]) }, timeout, interval).Should(Equal("team-chosen"))

		annotate(ctx, ep, hookv1.AnnotationRotate, "r1")
		Eventually(func(g Gomega) string { return string(readSecret(ctx, ns, "gh-secret")(g).Data["secret"]) }, timeout, interval).ShouldNot(Equal("team-chosen"))
		s := readSecret(ctx, ns, "gh-secret")(Default)
		Expect(string(s.Data["secret.previous"])).To(Equal("team-chosen"))
		Expect(s.Labels).To(HaveKeyWithValue(hookv1.LabelEndpointName, "gh"))
		Eventually(func(g Gomega) map[string][]byte { return readMirror(ctx, ep)(g).Data }, timeout, interval).Should(And(
			HaveKeyWithValue(keyring.MirrorCurrent, s.Data["secret"]),
			HaveKeyWithValue(keyring.MirrorPrevious, []byte("team-chosen")),
			HaveKeyWithValue(keyring.MirrorPreviousExpiresAt, []byte(s.Annotations[hookv1.AnnotationPreviousKeyExpiresAt])),
		))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Normal SecretRotated"))
	})

	DescribeTable("does not accept a previous key without a readable expiry, says so, and lets a rotation replace it",
		func(annotations map[string]string, problem string) {
			Expect(k8s.Create(ctx, handedOver(ns, map[string][]byte{"secret": []byte("cur"), "secret.previous": []byte("old")}, annotations))).To(Succeed())
			ep := endpoint(ns, "gh")
			ep.Spec.Rotation = rotation()
			Expect(k8s.Create(ctx, ep)).To(Succeed())

			Eventually(condition(ctx, ep, hookv1.ConditionSecretReady), timeout, interval).Should(And(
				HaveField("Status", metav1.ConditionTrue),
				HaveField("Message", ContainSubstring(`key "secret.previous" is ignored`)),
				HaveField("Message", ContainSubstring(problem)),
			))
			Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Warning " + hookv1.ReasonPreviousKeyIgnored))
			m := readMirror(ctx, ep)(Default)
			Expect(m.Data).To(Equal(map[string][]byte{keyring.MirrorCurrent: []byte("cur")}), "the receiver must not get the old key")
			Expect(get(ctx, ep)(Default).Status.Secret.PreviousExpiresAt).To(BeNil())

			By("rotating at once instead of deferring for ever")
			annotate(ctx, ep, hookv1.AnnotationRotate, "r1")
			Eventually(func(g Gomega) string { return string(readSecret(ctx, ns, "gh-secret")(g).Data["secret.previous"]) }, timeout, interval).Should(Equal("cur"))
			s := readSecret(ctx, ns, "gh-secret")(Default)
			Expect(string(s.Data["secret"])).To(MatchRegexp(hex64.String()))
			_, err := time.Parse(time.RFC3339, s.Annotations[hookv1.AnnotationPreviousKeyExpiresAt])
			Expect(err).NotTo(HaveOccurred())
			Expect(eventsFor(ctx, ep)(Default)).NotTo(ContainElement("Normal RotationDeferred"))
			Eventually(func(g Gomega) map[string][]byte { return readMirror(ctx, ep)(g).Data }, timeout, interval).Should(And(
				HaveKeyWithValue(keyring.MirrorCurrent, s.Data["secret"]),
				HaveKeyWithValue(keyring.MirrorPrevious, []byte("cur")),
			))
			Eventually(condition(ctx, ep, hookv1.ConditionSecretReady), timeout, interval).Should(HaveField("Message", Not(ContainSubstring("ignored"))))
		},
		Entry("a missing expiry", nil, "has no annotation "+hookv1.AnnotationPreviousKeyExpiresAt),
		Entry("an unparsable expiry", map[string]string{hookv1.AnnotationPreviousKeyExpiresAt: "next tuesday"}, `"next tuesday" is not an RFC 3339 time`),
	)

	It("does not accept a previous key without an expiry in a Secret it only verifies with", func() {
		s := secret(ns)
		s.Data["secret.previous"] = []byte("old")
		Expect(k8s.Create(ctx, s)).To(Succeed())
		ep := endpoint(ns, "gh")
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		Expect(condition(ctx, ep, hookv1.ConditionSecretReady)(Default)).To(HaveField("Message", ContainSubstring("is ignored")))
		Eventually(func(g Gomega) map[string][]byte { return readMirror(ctx, ep)(g).Data }, timeout, interval).
			Should(Equal(map[string][]byte{keyring.MirrorCurrent: []byte("s3cr3t")}))
	})

	It("mirrors the keys into the receiver's namespace, puts back a mirror deleted by hand, and removes it on delete", func() {
		ep := endpoint(ns, "gh")
		ep.Spec.Rotation = rotation()
		ep.Spec.Rotation.Generate = true
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		cur := get(ctx, ep)(Default)
		src := readSecret(ctx, ns, "gh-secret")(Default)

		var m *corev1.Secret
		Eventually(func(g Gomega) { m = readMirror(ctx, ep)(g) }, timeout, interval).Should(Succeed())
		Expect(m.Name).To(Equal("hookgate-keys-" + string(cur.UID)))
		Expect(m.Labels).To(Equal(map[string]string{
			"app.kubernetes.io/managed-by": "hookgate",
			hookv1.LabelEndpointName:       "gh",
			hookv1.LabelEndpointNamespace:  ns,
			hookv1.LabelEndpointUID:        string(cur.UID),
		}))
		Expect(m.Data).To(Equal(map[string][]byte{keyring.MirrorCurrent: src.Data["secret"]}))

		By("following a rotation")
		annotate(ctx, ep, hookv1.AnnotationRotate, "r1")
		Eventually(func(g Gomega) []byte { return readMirror(ctx, ep)(g).Data[keyring.MirrorPrevious] }, timeout, interval).Should(Equal(src.Data["secret"]))
		rotated := readSecret(ctx, ns, "gh-secret")(Default)
		m = readMirror(ctx, ep)(Default)
		Expect(m.Data[keyring.MirrorCurrent]).To(Equal(rotated.Data["secret"]))
		Expect(string(m.Data[keyring.MirrorPreviousExpiresAt])).To(Equal(rotated.Annotations[hookv1.AnnotationPreviousKeyExpiresAt]))

		By("dropping the previous key from the mirror once it has expired")
		advanceClock(61 * time.Minute)
		annotate(ctx, ep, "test/nudge", "1")
		Eventually(func(g Gomega) map[string][]byte { return readMirror(ctx, ep)(g).Data }, timeout, interval).
			Should(Equal(map[string][]byte{keyring.MirrorCurrent: rotated.Data["secret"]}))

		By("putting back a mirror deleted by hand")
		Expect(k8s.Delete(ctx, m)).To(Succeed())
		Eventually(func(g Gomega) types.UID { return readMirror(ctx, ep)(g).UID }, timeout, interval).ShouldNot(Equal(m.UID))

		By("removing it with the endpoint")
		Expect(k8s.Delete(ctx, cur)).To(Succeed())
		Eventually(mirrorGone(ctx, cur.UID), timeout, interval).Should(BeTrue())
	})

	It("removes the mirror when the Secret is deleted, and when the endpoint switches to public keys", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		ep := endpoint(ns, "gh")
		ep.Spec.Provider = hookv1.ProviderStandardWebhooks
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(func(g Gomega) []byte { return readMirror(ctx, ep)(g).Data[keyring.MirrorCurrent] }, timeout, interval).Should(Equal([]byte("s3cr3t")))
		uid := get(ctx, ep)(Default).UID

		By("revoking the keys when the Secret goes")
		Expect(k8s.Delete(ctx, secret(ns))).To(Succeed())
		Eventually(mirrorGone(ctx, uid), timeout, interval).Should(BeTrue())
		Eventually(condition(ctx, ep, hookv1.ConditionSecretReady), timeout, interval).Should(HaveField("Reason", hookv1.ReasonSecretNotFound))

		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		Eventually(func(g Gomega) []byte { return readMirror(ctx, ep)(g).Data[keyring.MirrorCurrent] }, timeout, interval).Should(Equal([]byte("s3cr3t")))

		By("removing it when public keys replace the Secret")
		update(ctx, ep, func(e *hookv1.WebhookEndpoint) {
			e.Spec.SecretRef = nil
			e.Spec.PublicKeys = []string{"whpk_MCowBQYDK2VwAyEA"}
		})
		Eventually(mirrorGone(ctx, uid), timeout, interval).Should(BeTrue())
		Eventually(condition(ctx, ep, hookv1.ConditionSecretReady), timeout, interval).Should(HaveField("Message", ContainSubstring("spec.publicKeys")))
	})
})
