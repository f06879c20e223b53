package controllers

import (
	"context"
	"flag"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

func policyDefaults() RouteDefaults {
	return RouteDefaults{
		Kind:         hookv1.RouteIngress,
		Host:         "hooks.example.com",
		IngressClass: "nginx",
		TLSSecret:    "hooks-tls",
		Annotations: map[string]string{
			"nginx.ingress.kubernetes.io/limit-rps": "50",
			// The platform may use a snippet; tenants may not.
			"nginx.ingress.kubernetes.io/server-snippet": "more_set_headers \"X-Hookgate: 1\";",
		},
		Gateways:          []string{"hookgate-system/public"},
		ReceiverNamespace: "hookgate-system",
		ReceiverService:   "hookgate-receiver",
		ReceiverPort:      80,
	}
}

func TestRoutePolicyCheck(t *testing.T) {
	ann := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		policy   RoutePolicy
		defaults func(*RouteDefaults)
		spec     *hookv1.RouteSpec
		// want holds one substring per expected violation, in order.
		want []string
	}{
		{name: "an endpoint without spec.route is allowed", spec: nil},
		{name: "kind None is not checked, since nothing is exposed",
			spec: &hookv1.RouteSpec{Kind: hookv1.RouteNone, Host: "login.example.com", Annotations: ann("nginx.ingress.kubernetes.io/server-snippet", "x")}},
		{name: "a route is checked when the tenant asks for one although the platform's default is None",
			defaults: func(d *RouteDefaults) { d.Kind = hookv1.RouteNone },
			spec:     &hookv1.RouteSpec{Kind: hookv1.RouteIngress, Host: "login.example.com"},
			want:     []string{`spec.route.host: "login.example.com" is not allowed`}},
		{name: "values equal to the defaults are allowed without any policy",
			spec: &hookv1.RouteSpec{Kind: hookv1.RouteHTTPRoute, Host: "hooks.example.com", IngressClassName: "nginx", TLSSecretName: "hooks-tls", ParentRefs: []string{"hookgate-system/public"}}},
		{name: "a default Gateway given by its bare name is the default Gateway",
			spec: &hookv1.RouteSpec{Kind: hookv1.RouteHTTPRoute, ParentRefs: []string{"public"}}},
		{name: "an empty policy refuses every annotation",
			spec: &hookv1.RouteSpec{Annotations: ann("team", "ci")},
			want: []string{`spec.route.annotations: "team" is not allowed (allowed: none)`}},
		{name: "a server-snippet annotation is refused even when a pattern allows every key",
			policy: RoutePolicy{AllowedAnnotations: []string{"*"}},
			spec:   &hookv1.RouteSpec{Annotations: ann("nginx.ingress.kubernetes.io/server-snippet", "location /x { proxy_pass http://evil; }")},
			want:   []string{`"nginx.ingress.kubernetes.io/server-snippet" is refused: snippet annotations`}},
		{name: "a snippet annotation is refused whatever its case and prefix",
			policy: RoutePolicy{AllowedAnnotations: []string{"nginx.ingress.kubernetes.io/*", "example.com/*"}},
			spec:   &hookv1.RouteSpec{Annotations: ann("nginx.ingress.kubernetes.io/Configuration-Snippet", "x", "example.com/auth-snippet", "y")},
			want:   []string{`"example.com/auth-snippet" is refused: snippet`, `"nginx.ingress.kubernetes.io/Configuration-Snippet" is refused: snippet`}},
		{name: "annotations matching an exact key or a prefix pattern are allowed",
			policy: RoutePolicy{AllowedAnnotations: []string{"nginx.ingress.kubernetes.io/proxy-body-size", "example.com/*"}},
			spec:   &hookv1.RouteSpec{Annotations: ann("nginx.ingress.kubernetes.io/proxy-body-size", "2m", "example.com/team", "ci")}},
		{name: "a pattern must match the whole key",
			policy: RoutePolicy{AllowedAnnotations: []string{"example.com/*", "nginx.ingress.kubernetes.io/proxy-body-size"}},
			spec:   &hookv1.RouteSpec{Annotations: ann("notexample.com/team", "x", "nginx.ingress.kubernetes.io/proxy-body-size-max", "y")},
			want:   []string{`"nginx.ingress.kubernetes.io/proxy-body-size-max" is not allowed`, `"notexample.com/team" is not allowed`}},
		{name: "a platform default annotation cannot be overridden even when a pattern allows it",
			policy: RoutePolicy{AllowedAnnotations: []string{"nginx.ingress.kubernetes.io/*"}},
			spec:   &hookv1.RouteSpec{Annotations: ann("nginx.ingress.kubernetes.io/limit-rps", "100000")},
			want:   []string{`"nginx.ingress.kubernetes.io/limit-rps" is set by the platform on every route and cannot be overridden`}},
		{name: "annotations Hookgate writes itself cannot be set even when a pattern allows every key",
			policy: RoutePolicy{AllowedAnnotations: []string{"*"}},
			spec: &hookv1.RouteSpec{Annotations: ann(
				"cert-manager.io/cluster-issuer", "evil",
				"nginx.ingress.kubernetes.io/allowlist-source-range", "0.0.0.0/0",
				"hookgate.io/owned-annotations", "",
				"kubernetes.io/ingress.class", "internal")},
			want: []string{
				`"cert-manager.io/cluster-issuer" is set by Hookgate; remove it and use spec.route.clusterIssuer`,
				`"hookgate.io/owned-annotations" is reserved for Hookgate`,
				`"kubernetes.io/ingress.class" is set by Hookgate; remove it and use spec.route.ingressClassName`,
				`"nginx.ingress.kubernetes.io/allowlist-source-range" is set by Hookgate; remove it and use spec.sourceRanges`,
			}},
		{name: "a foreign host is refused",
			policy: RoutePolicy{AllowedHosts: []string{"*.hooks.example.com"}},
			spec:   &hookv1.RouteSpec{Host: "login.example.com"},
			want:   []string{`spec.route.host: "login.example.com" is not allowed (allowed: "hooks.example.com", "*.hooks.example.com")`}},
		{name: "a host matching an allowed pattern or name is allowed",
			policy: RoutePolicy{AllowedHosts: []string{"*.hooks.example.com", "in.example.org"}},
			spec:   &hookv1.RouteSpec{Host: "team-a.hooks.example.com"}},
		{name: "an exactly allowed host is allowed",
			policy: RoutePolicy{AllowedHosts: []string{"*.hooks.example.com", "in.example.org"}},
			spec:   &hookv1.RouteSpec{Host: "in.example.org"}},
		{name: "a host pattern's star matches one DNS label, not several and not none",
			policy: RoutePolicy{AllowedHosts: []string{"*.in.example.org", "team-*.example.net"}},
			spec:   &hookv1.RouteSpec{Host: "a.b.in.example.org"},
			want:   []string{`spec.route.host: "a.b.in.example.org" is not allowed`}},
		{name: "a host pattern does not allow its parent domain",
			policy: RoutePolicy{AllowedHosts: []string{"*.in.example.org"}},
			spec:   &hookv1.RouteSpec{Host: "in.example.org"},
			want:   []string{`spec.route.host: "in.example.org" is not allowed`}},
		{name: "a star inside a label matches within that label",
			policy: RoutePolicy{AllowedHosts: []string{"team-*.example.net"}},
			spec:   &hookv1.RouteSpec{Host: "team-ci.example.net"}},
		{name: "the platform's shared TLS Secret of another host is refused",
			spec: &hookv1.RouteSpec{TLSSecretName: "wildcard-example-com-tls"},
			want: []string{`spec.route.tlsSecretName: "wildcard-example-com-tls" is not allowed (allowed: "hooks-tls"); remove it to use the default "hooks-tls"`}},
		{name: "an allowed TLS Secret is allowed",
			policy: RoutePolicy{AllowedTLSSecrets: []string{"team-tls"}},
			spec:   &hookv1.RouteSpec{TLSSecretName: "team-tls"}},
		{name: "a ClusterIssuer is refused without a policy",
			defaults: func(d *RouteDefaults) { d.TLSSecret = "" },
			spec:     &hookv1.RouteSpec{ClusterIssuer: "letsencrypt-prod"},
			want:     []string{`spec.route.clusterIssuer: "letsencrypt-prod" is not allowed (allowed: none); remove it`}},
		{name: "an allowed ClusterIssuer may not rewrite the platform's shared TLS Secret",
			policy: RoutePolicy{AllowedClusterIssuers: []string{"letsencrypt-prod"}},
			spec:   &hookv1.RouteSpec{ClusterIssuer: "letsencrypt-prod"},
			want:   []string{`spec.route: cert-manager would rewrite the platform's shared TLS Secret "hooks-tls" for host "hooks.example.com" from ClusterIssuer "letsencrypt-prod"`}},
		{name: "an allowed ClusterIssuer with an allowed TLS Secret of its own is allowed",
			policy: RoutePolicy{AllowedClusterIssuers: []string{"letsencrypt-prod"}, AllowedTLSSecrets: []string{"team-tls"}, AllowedHosts: []string{"*.hooks.example.com"}},
			spec:   &hookv1.RouteSpec{ClusterIssuer: "letsencrypt-prod", TLSSecretName: "team-tls", Host: "team.hooks.example.com"}},
		{name: "an allowed host may not have the default issuer rewrite the shared TLS Secret for it",
			policy:   RoutePolicy{AllowedHosts: []string{"*.hooks.example.com"}},
			defaults: func(d *RouteDefaults) { d.ClusterIssuer = "letsencrypt-prod" },
			spec:     &hookv1.RouteSpec{Host: "team.hooks.example.com"},
			want:     []string{`spec.route: cert-manager would rewrite the platform's shared TLS Secret "hooks-tls" for host "team.hooks.example.com"`}},
		{name: "the shared TLS Secret rule applies to Ingresses only",
			policy: RoutePolicy{AllowedClusterIssuers: []string{"letsencrypt-prod"}},
			spec:   &hookv1.RouteSpec{Kind: hookv1.RouteHTTPRoute, ClusterIssuer: "letsencrypt-prod"}},
		{name: "another IngressClass is refused",
			spec: &hookv1.RouteSpec{IngressClassName: "internal-nginx"},
			want: []string{`spec.route.ingressClassName: "internal-nginx" is not allowed (allowed: "nginx"); remove it to use the default "nginx"`}},
		{name: "an allowed IngressClass is allowed",
			policy: RoutePolicy{AllowedIngressClasses: []string{"public-nginx"}},
			spec:   &hookv1.RouteSpec{IngressClassName: "public-nginx"}},
		{name: "a foreign Gateway is refused, naming each refused parent",
			policy: RoutePolicy{AllowedGateways: []string{"infra/public"}},
			spec:   &hookv1.RouteSpec{Kind: hookv1.RouteHTTPRoute, ParentRefs: []string{"infra/public", "kube-system/internal", "internal"}},
			want: []string{
				`spec.route.parentRefs: Gateway "kube-system/internal" is not allowed (allowed: "hookgate-system/public", "infra/public")`,
				`spec.route.parentRefs: Gateway "internal" is not allowed`,
			}},
		{name: "an allowed Gateway given by its bare name is in the receiver's namespace",
			policy: RoutePolicy{AllowedGateways: []string{"hookgate-system/tenants"}},
			spec:   &hookv1.RouteSpec{Kind: hookv1.RouteHTTPRoute, ParentRefs: []string{"tenants"}}},
		{name: "every violation is reported, each naming its field",
			spec: &hookv1.RouteSpec{
				Host: "login.example.com", TLSSecretName: "wildcard", ClusterIssuer: "le", IngressClassName: "internal",
				ParentRefs: []string{"kube-system/internal"}, Annotations: ann("b", "1", "a", "2"),
			},
			want: []string{
				`spec.route.annotations: "a"`, `spec.route.annotations: "b"`, "spec.route.host:", "spec.route.tlsSecretName:",
				"spec.route.clusterIssuer:", "spec.route.ingressClassName:", "spec.route.parentRefs:",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := policyDefaults()
			if tc.defaults != nil {
				tc.defaults(&d)
			}
			got := tc.policy.Check(tc.spec, d)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d violations, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("violation %d = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything/at.all", true},
		{"example.com/*", "example.com/", true},
		{"example.com/*", "example.com/a.b", true},
		{"example.com/*", "example.com", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"**a", "a", true},
		// Linear however many stars: this would take ages with naive backtracking.
		{strings.Repeat("*a", 40) + "b", strings.Repeat("a", 300), false},
	} {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestRoutePolicyFlagsTakeCommaSeparatedRepeatableLists(t *testing.T) {
	var p RoutePolicy
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	p.BindFlags(fs)
	err := fs.Parse([]string{
		"--route-allowed-annotations=example.com/*, nginx.ingress.kubernetes.io/proxy-body-size",
		"--route-allowed-annotations=team",
		"--route-allowed-hosts=*.hooks.example.com,,in.example.org",
		"--route-allowed-tls-secrets=team-tls",
		"--route-allowed-cluster-issuers=letsencrypt-prod",
		"--route-allowed-ingress-classes=public-nginx",
		"--route-allowed-gateways=infra/public,tenants",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := RoutePolicy{
		AllowedAnnotations:    []string{"example.com/*", "nginx.ingress.kubernetes.io/proxy-body-size", "team"},
		AllowedHosts:          []string{"*.hooks.example.com", "in.example.org"},
		AllowedTLSSecrets:     []string{"team-tls"},
		AllowedClusterIssuers: []string{"letsencrypt-prod"},
		AllowedIngressClasses: []string{"public-nginx"},
		AllowedGateways:       []string{"infra/public", "tenants"},
	}
	if !equalPolicy(p, want) {
		t.Errorf("parsed %+v, want %+v", p, want)
	}
	for _, bad := range []string{"a/b/c", "/gw", "ns/"} {
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		fs.SetOutput(new(strings.Builder))
		new(RoutePolicy).BindFlags(fs)
		if err := fs.Parse([]string{"--route-allowed-gateways=" + bad}); err == nil {
			t.Errorf("--route-allowed-gateways=%s was accepted", bad)
		}
	}
}

func equalPolicy(a, b RoutePolicy) bool {
	eq := func(x, y []string) bool { return strings.Join(x, "\x00") == strings.Join(y, "\x00") }
	return eq(a.AllowedAnnotations, b.AllowedAnnotations) && eq(a.AllowedHosts, b.AllowedHosts) &&
		eq(a.AllowedTLSSecrets, b.AllowedTLSSecrets) && eq(a.AllowedClusterIssuers, b.AllowedClusterIssuers) &&
		eq(a.AllowedIngressClasses, b.AllowedIngressClasses) && eq(a.AllowedGateways, b.AllowedGateways)
}

func TestRouteRefusalWarnsOncePerChange(t *testing.T) {
	rec := events.NewFakeRecorder(16)
	r := &Reconciler{Recorder: rec}
	state := func(ready, readyReason, routeReason, routeMsg string) *hookv1.WebhookEndpoint {
		ep := &hookv1.WebhookEndpoint{}
		setCondition(ep, hookv1.ConditionRouteReady, metav1.ConditionFalse, routeReason, routeMsg)
		msg := routeMsg
		if readyReason != routeReason {
			msg = "other"
		}
		setCondition(ep, hookv1.ConditionReady, metav1.ConditionStatus(ready), readyReason, msg)
		return ep
	}
	v := hookv1.ReasonRoutePolicyViolation
	ready := state("True", hookv1.ReasonSucceeded, hookv1.ReasonSucceeded, "ok")
	refused := state("False", v, v, "host")
	refusedMore := state("False", v, v, "host; tlsSecretName")
	noSecret := state("False", hookv1.ReasonSecretNotFound, hookv1.ReasonSucceeded, "ok")
	noSecretRefused := state("False", hookv1.ReasonSecretNotFound, v, "host")
	drain := func() []string {
		var out []string
		for len(rec.Events) > 0 {
			out = append(out, <-rec.Events)
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		before, after *hookv1.WebhookEndpoint
		want          []string
	}{
		{"a new refusal warns once, through Ready", ready, refused, []string{"Warning RoutePolicyViolation host"}},
		{"a resync of the same refusal is silent", refused, refused.DeepCopy(), nil},
		{"changed violations warn again although Ready keeps its reason", refused, refusedMore, []string{"Warning RoutePolicyViolation host; tlsSecretName"}},
		{"a refusal warns while Ready reports a missing Secret", noSecret, noSecretRefused, []string{"Warning RoutePolicyViolation host"}},
		{"a resync with the Secret still missing is silent", noSecretRefused, noSecretRefused.DeepCopy(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.emitTransitions(tc.before, tc.after)
			got := drain()
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("events %q, want %q", got, tc.want)
			}
		})
	}
}

// The attacks a tenant with create rights on WebhookEndpoints in their own
// namespace can make on the platform's namespace through spec.route, with
// the suite's policy (suite_test.go).
var _ = Describe("Route policy", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
	})
	routeKey := func(g Gomega, ep *hookv1.WebhookEndpoint) types.NamespacedName {
		return types.NamespacedName{Namespace: receiverNamespace, Name: "hookgate-" + string(get(ctx, ep)(g).UID)}
	}
	// noRoute: neither an Ingress nor an HTTPRoute (the Gateway API may
	// not be installed yet: the specs run in random order).
	noRoute := func(g Gomega, ep *hookv1.WebhookEndpoint) {
		key := routeKey(g, ep)
		g.Expect(apierrors.IsNotFound(k8s.Get(ctx, key, &networkingv1.Ingress{}))).To(BeTrue(), "Ingress %s exists", key)
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(httpRouteGVK)
		err := k8s.Get(ctx, key, u)
		g.Expect(apierrors.IsNotFound(err) || meta.IsNoMatchError(err)).To(BeTrue(), "HTTPRoute %s: %v", key, err)
	}
	refused := func(ep *hookv1.WebhookEndpoint, field string) {
		GinkgoHelper()
		Eventually(condition(ctx, ep, hookv1.ConditionRouteReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", hookv1.ReasonRoutePolicyViolation),
			HaveField("Message", ContainSubstring(field)),
		))
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", hookv1.ReasonRoutePolicyViolation),
			HaveField("Message", ContainSubstring(field)),
		))
		noRoute(Default, ep)
		Expect(get(ctx, ep)(Default).Status.Route).To(BeNil())
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Warning " + hookv1.ReasonRoutePolicyViolation))
	}

	DescribeTable("refuses a route that reaches beyond the tenant's share, and makes none",
		func(route hookv1.RouteSpec, field string) {
			ep := endpoint(ns, "attack")
			ep.Spec.Route = &route
			Expect(k8s.Create(ctx, ep)).To(Succeed())
			refused(ep, field)
		},
		Entry("an ingress-nginx server-snippet annotation, which runs as the shared controller's configuration",
			hookv1.RouteSpec{Kind: hookv1.RouteIngress, Annotations: map[string]string{
				"nginx.ingress.kubernetes.io/server-snippet": "location /admin { proxy_pass http://kube-apiserver; }",
			}},
			`spec.route.annotations: "nginx.ingress.kubernetes.io/server-snippet" is refused`),
		Entry("a foreign host, which would take over login.example.com",
			hookv1.RouteSpec{Kind: hookv1.RouteIngress, Host: "login.example.com"},
			`spec.route.host: "login.example.com" is not allowed`),
		Entry("the platform's shared wildcard TLS Secret",
			hookv1.RouteSpec{Kind: hookv1.RouteIngress, Host: "team.hooks.example.com", TLSSecretName: "wildcard-example-com-tls"},
			`spec.route.tlsSecretName: "wildcard-example-com-tls" is not allowed`),
		Entry("a ClusterIssuer, which would have cert-manager rewrite a shared certificate",
			hookv1.RouteSpec{Kind: hookv1.RouteIngress, ClusterIssuer: "letsencrypt-prod", TLSSecretName: "hooks-tls"},
			`spec.route.clusterIssuer: "letsencrypt-prod" is not allowed`),
		Entry("an override of the platform's limit-rps annotation",
			hookv1.RouteSpec{Kind: hookv1.RouteIngress, Annotations: map[string]string{"nginx.ingress.kubernetes.io/limit-rps": "100000"}},
			`"nginx.ingress.kubernetes.io/limit-rps" is set by the platform`),
		Entry("another IngressClass, which would expose the endpoint through an internal controller",
			hookv1.RouteSpec{Kind: hookv1.RouteIngress, IngressClassName: "internal-nginx"},
			`spec.route.ingressClassName: "internal-nginx" is not allowed`),
		Entry("foreign Gateway parentRefs",
			hookv1.RouteSpec{Kind: hookv1.RouteHTTPRoute, ParentRefs: []string{"kube-system/internal"}},
			`spec.route.parentRefs: Gateway "kube-system/internal" is not allowed`),
	)

	It("creates the Ingress for a host matching an allowed pattern with an allowed annotation", func() {
		ep := endpoint(ns, "allowed")
		ep.Spec.Route = &hookv1.RouteSpec{Kind: hookv1.RouteIngress, Host: "team-a.hooks.example.com", Annotations: map[string]string{"example.com/team": "a"}}
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionRouteReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		ing := &networkingv1.Ingress{}
		Expect(k8s.Get(ctx, routeKey(Default, ep), ing)).To(Succeed())
		Expect(ing.Spec.Rules[0].Host).To(Equal("team-a.hooks.example.com"))
		Expect(ing.Annotations).To(HaveKeyWithValue("example.com/team", "a"))
		Expect(ing.Annotations).To(HaveKeyWithValue("nginx.ingress.kubernetes.io/limit-rps", "50"))
		Expect(eventsFor(ctx, ep)(Default)).NotTo(ContainElement("Warning " + hookv1.ReasonRoutePolicyViolation))
	})

	It("removes the route an endpoint had once it is refused, warns once, and restores it when fixed", func() {
		ep := endpoint(ns, "later")
		ep.Spec.Route = &hookv1.RouteSpec{Kind: hookv1.RouteIngress, Annotations: map[string]string{"example.com/team": "a"}}
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		key := routeKey(Default, ep)
		Expect(k8s.Get(ctx, key, &networkingv1.Ingress{})).To(Succeed())

		By("adding a snippet annotation")
		cur := get(ctx, ep)(Default)
		cur.Spec.Route.Annotations["nginx.ingress.kubernetes.io/configuration-snippet"] = "more_set_headers \"Set-Cookie: session=stolen\";"
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		refused(ep, `"nginx.ingress.kubernetes.io/configuration-snippet" is refused`)

		By("reconciling the same refusal again")
		cur = get(ctx, ep)(Default)
		cur.Spec.Limits.MaxBodyBytes = ptr.To[int64](2048)
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(func(g Gomega) int64 { return get(ctx, ep)(g).Status.ObservedGeneration }, timeout, interval).Should(Equal(cur.Generation))
		// Repeats of one Event are one object with a series; a new message
		// would be a new object.
		var list eventsv1.EventList
		Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		n := 0
		for _, e := range list.Items {
			if e.Regarding.Name == ep.Name && e.Reason == hookv1.ReasonRoutePolicyViolation {
				n++
			}
		}
		Expect(n).To(Equal(1))
		noRoute(Default, ep)

		By("removing the snippet")
		cur = get(ctx, ep)(Default)
		delete(cur.Spec.Route.Annotations, "nginx.ingress.kubernetes.io/configuration-snippet")
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, key, &networkingv1.Ingress{}) }, timeout, interval).Should(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionRouteReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
	})

	It("warns about a refused route while Ready reports a missing Secret", func() {
		ep := endpoint(ns, "nosecret")
		ep.Spec.SecretRef.Name = "absent"
		ep.Spec.Route = &hookv1.RouteSpec{Kind: hookv1.RouteIngress, Host: "login.example.com"}
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionRouteReady), timeout, interval).Should(HaveField("Reason", hookv1.ReasonRoutePolicyViolation))
		Expect(condition(ctx, ep, hookv1.ConditionReady)(Default)).To(HaveField("Reason", hookv1.ReasonSecretNotFound))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Warning " + hookv1.ReasonRoutePolicyViolation))
		noRoute(Default, ep)
	})
})
