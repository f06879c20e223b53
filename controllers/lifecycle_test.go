package controllers

import (
	"context"
	"regexp"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/testenv"
)

// annotate sets an annotation, which also triggers a reconcile.
func annotate(ctx context.Context, ep *hookv1.WebhookEndpoint, k, v string) {
	Eventually(func(g Gomega) {
		cur := get(ctx, ep)(g)
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[k] = v
		g.Expect(k8s.Update(ctx, cur)).To(Succeed())
	}, timeout, interval).Should(Succeed())
}

func readSecret(ctx context.Context, ns, name string) func(g Gomega) *corev1.Secret {
	return func(g Gomega) *corev1.Secret {
		s := &corev1.Secret{}
		g.Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, s)).To(Succeed())
		return s
	}
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

var _ = Describe("Routes, rotation and replay", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
	})

	It("exposes an endpoint with an Ingress in the receiver's namespace, follows changes and leaves nothing behind", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		ep := endpoint(ns, "gh")
		ep.Spec.SourceRanges = []string{"192.30.252.0/22", "2606:50c0::/32"}
		ep.Spec.Route = &hookv1.RouteSpec{Kind: hookv1.RouteIngress, Annotations: map[string]string{"team": "ci"}}
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		cur := get(ctx, ep)(Default)
		Expect(cur.Status.URL).To(Equal("http://hooks.example.com" + cur.Status.WebhookPath))
		Expect(condition(ctx, ep, hookv1.ConditionRouteReady)(Default)).To(HaveField("Status", metav1.ConditionTrue))

		ingKey := types.NamespacedName{Namespace: receiverNamespace, Name: "hookgate-" + string(cur.UID)}
		ing := &networkingv1.Ingress{}
		Expect(k8s.Get(ctx, ingKey, ing)).To(Succeed())
		Expect(*ing.Spec.IngressClassName).To(Equal("nginx"))
		Expect(ing.Annotations).To(HaveKeyWithValue("team", "ci"))
		Expect(ing.Annotations).To(HaveKeyWithValue("nginx.ingress.kubernetes.io/allowlist-source-range", "192.30.252.0/22,2606:50c0::/32"))
		rule := ing.Spec.Rules[0]
		Expect(rule.Host).To(Equal("hooks.example.com"))
		Expect(rule.HTTP.Paths[0].Path).To(Equal(cur.Status.WebhookPath))
		Expect(*rule.HTTP.Paths[0].PathType).To(Equal(networkingv1.PathTypeExact))
		Expect(rule.HTTP.Paths[0].Backend.Service.Name).To(Equal("hookgate-receiver"))

		By("putting back a route deleted by hand")
		Expect(k8s.Delete(ctx, ing)).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, ingKey, &networkingv1.Ingress{}) }, timeout, interval).Should(Succeed())

		By("following a change of host and TLS")
		cur.Spec.Route.Host = "in.example.org"
		cur.Spec.Route.TLSSecretName = "hooks-tls"
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(func(g Gomega) {
			i := &networkingv1.Ingress{}
			g.Expect(k8s.Get(ctx, ingKey, i)).To(Succeed())
			g.Expect(i.Spec.Rules[0].Host).To(Equal("in.example.org"))
			g.Expect(i.Spec.TLS).To(HaveLen(1))
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) string { return get(ctx, ep)(g).Status.URL }, timeout, interval).
			Should(Equal("https://in.example.org" + cur.Status.WebhookPath))

		By("removing the route when the endpoint asks for none")
		cur = get(ctx, ep)(Default)
		cur.Spec.Route.Kind = hookv1.RouteNone
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, ingKey, &networkingv1.Ingress{})) }, timeout, interval).Should(BeTrue())
		Eventually(condition(ctx, ep, hookv1.ConditionRouteReady), timeout, interval).Should(HaveField("Reason", hookv1.ReasonRouteDisabled))

		By("removing the route on delete")
		cur = get(ctx, ep)(Default)
		cur.Spec.Route.Kind = hookv1.RouteIngress
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, ingKey, &networkingv1.Ingress{}) }, timeout, interval).Should(Succeed())
		Expect(k8s.Delete(ctx, cur)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, ingKey, &networkingv1.Ingress{})) }, timeout, interval).Should(BeTrue())
	})

	It("generates a secret, rotates it on request and on its interval, and keeps the previous key only for the grace period", func() {
		ep := endpoint(ns, "gh")
		ep.Spec.Rotation = &hookv1.RotationSpec{
			Generate:    true,
			Interval:    &metav1.Duration{Duration: 24 * time.Hour},
			GracePeriod: &metav1.Duration{Duration: time.Hour},
		}
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		s := readSecret(ctx, ns, "gh-secret")(Default)
		first := string(s.Data["secret"])
		Expect(first).To(MatchRegexp(hex64.String()))
		Expect(s.OwnerReferences).To(HaveLen(1), "a generated Secret goes away with its endpoint")
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Normal SecretGenerated"))
		st := get(ctx, ep)(Default).Status.Secret
		Expect(st).NotTo(BeNil())
		Expect(st.NextRotationAt.Sub(st.CreatedAt.Time)).To(Equal(24 * time.Hour))
		path := get(ctx, ep)(Default).Status.WebhookPath

		By("rotating on request")
		annotate(ctx, ep, hookv1.AnnotationRotate, "now-1")
		Eventually(func(g Gomega) string { return string(readSecret(ctx, ns, "gh-secret")(g).Data["secret"]) }, timeout, interval).ShouldNot(Equal(first))
		s = readSecret(ctx, ns, "gh-secret")(Default)
		second := string(s.Data["secret"])
		Expect(string(s.Data["secret.previous"])).To(Equal(first))
		Expect(s.Annotations).To(HaveKey(hookv1.AnnotationPreviousKeyExpiresAt))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Normal SecretRotated"))
		Eventually(func(g Gomega) *metav1.Time { return get(ctx, ep)(g).Status.Secret.PreviousExpiresAt }, timeout, interval).ShouldNot(BeNil())
		Expect(get(ctx, ep)(Default).Status.WebhookPath).To(Equal(path), "the URL never changes on rotation")

		By("deferring a second rotation while the previous key is still accepted")
		annotate(ctx, ep, hookv1.AnnotationRotate, "now-2")
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Normal RotationDeferred"))
		s = readSecret(ctx, ns, "gh-secret")(Default)
		Expect(string(s.Data["secret"])).To(Equal(second))
		Expect(string(s.Data["secret.previous"])).To(Equal(first), "the first key must survive its grace period")

		By("carrying out the deferred rotation once the grace period is over, dropping the first key")
		advanceClock(61 * time.Minute)
		annotate(ctx, ep, "test/nudge", "1")
		Eventually(func(g Gomega) string { return string(readSecret(ctx, ns, "gh-secret")(g).Data["secret.previous"]) }, timeout, interval).Should(Equal(second))
		third := string(readSecret(ctx, ns, "gh-secret")(Default).Data["secret"])
		Expect(third).NotTo(BeElementOf(first, second))

		By("dropping the previous key once its grace period is over")
		advanceClock(61 * time.Minute)
		annotate(ctx, ep, "test/nudge", "2")
		Eventually(func(g Gomega) map[string][]byte { return readSecret(ctx, ns, "gh-secret")(g).Data }, timeout, interval).ShouldNot(HaveKey("secret.previous"))
		Expect(string(readSecret(ctx, ns, "gh-secret")(Default).Data["secret"])).To(Equal(third))

		By("rotating when the interval has elapsed")
		advanceClock(24 * time.Hour)
		annotate(ctx, ep, "test/nudge", "3")
		Eventually(func(g Gomega) string { return string(readSecret(ctx, ns, "gh-secret")(g).Data["secret"]) }, timeout, interval).ShouldNot(Equal(third))
		Expect(string(readSecret(ctx, ns, "gh-secret")(Default).Data["secret.previous"])).To(Equal(third))
	})

	It("replays dead letters on request and reports how many", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		ep := endpoint(ns, "gh")
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		uid := string(get(ctx, ep)(Default).UID)
		for _, b := range []string{"one", "two"} {
			Expect(q.DeadLetter(ctx, uid, []byte(b), nats.Header{}, 8, "HTTP500: boom")).To(Succeed())
		}
		annotate(ctx, ep, hookv1.AnnotationReplay, "r1")
		Eventually(func(g Gomega) *hookv1.ReplayStatus { return get(ctx, ep)(g).Status.Replay }, timeout, interval).Should(And(
			Not(BeNil()), HaveField("Token", "r1"), HaveField("Replayed", int64(2)),
		))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Normal Replayed"))
		es, err := q.JS.Stream(ctx, queue.EventsStream)
		Expect(err).NotTo(HaveOccurred())
		info, err := es.Info(ctx, jetstream.WithSubjectFilter(queue.EventsSubject(uid)))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.State.Subjects[queue.EventsSubject(uid)]).To(Equal(uint64(2)))
	})

	It("warns when deliveries keep failing, without flooding", func() {
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		ep := endpoint(ns, "gh")
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		uid := string(get(ctx, ep)(Default).UID)
		for i := 0; i < 3; i++ {
			Expect(q.RecordFailure(ctx, uid, queue.Failure{Time: time.Now(), Reason: "HTTP503", Message: "target answered 503"})).To(Succeed())
			Expect(q.IncrSync(ctx, uid, queue.CounterRetries, 1)).To(Succeed())
			time.Sleep(400 * time.Millisecond) // let each increment reach status on its own
		}
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Warning DeliveryFailing"))
		Consistently(func(g Gomega) int {
			n := 0
			for _, e := range eventsFor(ctx, ep)(g) {
				if e == "Warning DeliveryFailing" {
					n++
				}
			}
			return n
		}, time.Second, interval).Should(Equal(1))
	})
})

// Ordered: the Gateway API is absent at first and installed midway, as it
// would be in a cluster that adopts it after Hookgate.
var _ = Describe("HTTPRoutes", Ordered, func() {
	var (
		ctx context.Context
		ns  string
		ep  *hookv1.WebhookEndpoint
	)
	routeKey := func() types.NamespacedName {
		return types.NamespacedName{Namespace: receiverNamespace, Name: "hookgate-" + string(get(ctx, ep)(Default).UID)}
	}
	getRoute := func(g Gomega) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"})
		g.Expect(k8s.Get(ctx, routeKey(), u)).To(Succeed())
		return u
	}
	BeforeAll(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		ep = endpoint(ns, "gw")
		ep.Spec.Route = &hookv1.RouteSpec{Kind: hookv1.RouteHTTPRoute, ParentRefs: []string{"infra/public"}}
		Expect(k8s.Create(ctx, ep)).To(Succeed())
	})

	It("says the Gateway API is missing instead of crash-looping", func() {
		Eventually(condition(ctx, ep, hookv1.ConditionRouteReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", hookv1.ReasonRouteNotSupported),
			HaveField("Message", ContainSubstring("HTTPRoute API is not installed")),
		))
		Expect(condition(ctx, ep, hookv1.ConditionReady)(Default)).To(HaveField("Reason", hookv1.ReasonRouteNotSupported))
	})

	It("creates the HTTPRoute once the Gateway API is installed", func() {
		dir, err := testenv.GatewayAPICRDs()
		Expect(err).NotTo(HaveOccurred())
		_, err = envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{dir}, ErrorIfPathMissing: true})
		Expect(err).NotTo(HaveOccurred())
		annotate(ctx, ep, "test/nudge", "gateway-installed")

		Eventually(condition(ctx, ep, hookv1.ConditionRouteReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		route := getRoute(Default)
		parents, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs")
		Expect(parents).To(ConsistOf(HaveKeyWithValue("name", "public")))
		Expect(parents[0]).To(HaveKeyWithValue("namespace", "infra"))
		hosts, _, _ := unstructured.NestedStringSlice(route.Object, "spec", "hostnames")
		Expect(hosts).To(Equal([]string{"hooks.example.com"}))
		rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
		Expect(rules).To(HaveLen(1))
		match := rules[0].(map[string]any)["matches"].([]any)[0].(map[string]any)["path"].(map[string]any)
		Expect(match).To(HaveKeyWithValue("type", "Exact"))
		Expect(match).To(HaveKeyWithValue("value", get(ctx, ep)(Default).Status.WebhookPath))
		backend := rules[0].(map[string]any)["backendRefs"].([]any)[0].(map[string]any)
		Expect(backend).To(HaveKeyWithValue("name", "hookgate-receiver"))
		Expect(get(ctx, ep)(Default).Status.URL).To(HavePrefix("https://hooks.example.com/hook/"))
	})

	It("replaces the HTTPRoute with an Ingress when the kind changes, and removes it on delete", func() {
		cur := get(ctx, ep)(Default)
		cur.Spec.Route.Kind = hookv1.RouteIngress
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(func() bool {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"})
			return apierrors.IsNotFound(k8s.Get(ctx, routeKey(), u))
		}, timeout, interval).Should(BeTrue())
		Eventually(func() error { return k8s.Get(ctx, routeKey(), &networkingv1.Ingress{}) }, timeout, interval).Should(Succeed())

		key := routeKey()
		Expect(k8s.Delete(ctx, cur)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, key, &networkingv1.Ingress{})) }, timeout, interval).Should(BeTrue())
	})
})
