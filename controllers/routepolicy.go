package controllers

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// RoutePolicy is what the platform lets a tenant set in spec.route. Routes
// are created in the receiver's namespace with the manager's rights, so a
// field a tenant may set freely is a field that reaches the shared ingress
// controller, the shared certificate and the shared Gateways. Every list
// empty (the default) lets a tenant set nothing but the kind and values
// equal to the manager's defaults.
type RoutePolicy struct {
	// AllowedAnnotations are patterns of annotation keys a tenant may set;
	// "*" matches any run of characters ("example.com/*"). Keys containing
	// "snippet", keys Hookgate writes itself and keys of the platform's
	// default annotations are refused even when a pattern matches.
	AllowedAnnotations []string
	// AllowedHosts are host names, or patterns whose "*" matches exactly
	// one DNS label ("*.hooks.example.com"), besides the default host.
	AllowedHosts []string
	// AllowedTLSSecrets, AllowedClusterIssuers and AllowedIngressClasses
	// are exact names a tenant may choose besides the defaults.
	AllowedTLSSecrets     []string
	AllowedClusterIssuers []string
	AllowedIngressClasses []string
	// AllowedGateways are HTTPRoute parents as "namespace/name" (a bare
	// name is in the receiver's namespace) besides the default Gateways.
	AllowedGateways []string
}

// BindFlags registers the --route-allowed-* flags. Each takes a
// comma-separated list and may be repeated.
func (p *RoutePolicy) BindFlags(fs *flag.FlagSet) {
	gateway := func(v string) error {
		if parts := strings.Split(v, "/"); len(parts) > 2 || slices.Contains(parts, "") {
			return fmt.Errorf("%q is not namespace/name", v)
		}
		return nil
	}
	for _, f := range []struct {
		name, usage string
		dst         *[]string
		valid       func(string) error
	}{
		{"route-allowed-annotations", "annotation keys tenants may set in spec.route.annotations; * matches any run of characters, e.g. example.com/*", &p.AllowedAnnotations, nil},
		{"route-allowed-hosts", "hosts tenants may set in spec.route.host besides --route-host; * matches one DNS label, e.g. *.hooks.example.com", &p.AllowedHosts, nil},
		{"route-allowed-tls-secrets", "TLS Secrets tenants may set in spec.route.tlsSecretName besides --ingress-tls-secret", &p.AllowedTLSSecrets, nil},
		{"route-allowed-cluster-issuers", "ClusterIssuers tenants may set in spec.route.clusterIssuer besides --cluster-issuer", &p.AllowedClusterIssuers, nil},
		{"route-allowed-ingress-classes", "IngressClasses tenants may set in spec.route.ingressClassName besides --ingress-class", &p.AllowedIngressClasses, nil},
		{"route-allowed-gateways", "Gateways (namespace/name) tenants may set in spec.route.parentRefs besides --gateway", &p.AllowedGateways, gateway},
	} {
		fs.Func(f.name, f.usage+" (comma-separated; default none)", func(s string) error {
			for _, v := range strings.Split(s, ",") {
				if v = strings.TrimSpace(v); v == "" {
					continue
				}
				if f.valid != nil {
					if err := f.valid(v); err != nil {
						return err
					}
				}
				*f.dst = append(*f.dst, v)
			}
			return nil
		})
	}
}

// hookgateAnnotations are route annotations Hookgate derives from other
// fields, and the field a tenant should use instead.
var hookgateAnnotations = map[string]string{
	annotationClusterIssuer:                              "spec.route.clusterIssuer",
	annotationAllowlistSourceRange:                       "spec.sourceRanges",
	"nginx.ingress.kubernetes.io/whitelist-source-range": "spec.sourceRanges",
	"kubernetes.io/ingress.class":                        "spec.route.ingressClassName",
}

// Check returns what spec breaks of the policy, one sentence per field that
// says what to fix; none when the route may be made. It is the only place
// of the rule. Nothing is checked when no route is made (kind None).
func (p RoutePolicy) Check(spec *hookv1.RouteSpec, d RouteDefaults) []string {
	if spec == nil {
		return nil
	}
	kind := orDefault(spec.Kind, d.Kind)
	if kind == "" || kind == hookv1.RouteNone {
		return nil
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(spec.Annotations)) {
		if v := p.checkAnnotation(k, d); v != "" {
			out = append(out, fmt.Sprintf("spec.route.annotations: %q %s", k, v))
		}
	}
	if h := spec.Host; h != "" && h != d.Host && !slices.ContainsFunc(p.AllowedHosts, func(pat string) bool { return hostMatch(pat, h) }) {
		out = append(out, fmt.Sprintf("spec.route.host: %q is not allowed (allowed: %s); remove it or use an allowed host",
			h, allowed(nonEmpty(d.Host), p.AllowedHosts)))
	}
	out = appendName(out, "spec.route.tlsSecretName", spec.TLSSecretName, d.TLSSecret, p.AllowedTLSSecrets)
	out = appendName(out, "spec.route.clusterIssuer", spec.ClusterIssuer, d.ClusterIssuer, p.AllowedClusterIssuers)
	out = appendName(out, "spec.route.ingressClassName", spec.IngressClassName, d.IngressClass, p.AllowedIngressClasses)
	okGateways := make([]string, 0, len(d.Gateways)+len(p.AllowedGateways))
	for _, g := range slices.Concat(d.Gateways, p.AllowedGateways) {
		okGateways = append(okGateways, qualifyGateway(g, d.ReceiverNamespace))
	}
	for _, g := range spec.ParentRefs {
		if !slices.Contains(okGateways, qualifyGateway(g, d.ReceiverNamespace)) {
			out = append(out, fmt.Sprintf("spec.route.parentRefs: Gateway %q is not allowed (allowed: %s); remove it to use the default Gateways",
				g, allowed(nil, okGateways)))
		}
	}
	// cert-manager's ingress-shim writes the Secret an Ingress names. The
	// platform's Secret holds the certificate of the default host from the
	// default issuer; any other host or issuer would overwrite it for
	// every endpoint.
	host, tls, issuer := orDefault(spec.Host, d.Host), orDefault(spec.TLSSecretName, d.TLSSecret), orDefault(spec.ClusterIssuer, d.ClusterIssuer)
	if kind == hookv1.RouteIngress && issuer != "" && d.TLSSecret != "" && tls == d.TLSSecret && (host != d.Host || issuer != d.ClusterIssuer) {
		out = append(out, fmt.Sprintf("spec.route: cert-manager would rewrite the platform's shared TLS Secret %q for host %q from ClusterIssuer %q; "+
			"set spec.route.tlsSecretName to another allowed Secret, or remove spec.route.host and spec.route.clusterIssuer", tls, host, issuer))
	}
	return out
}

// checkAnnotation says why a tenant may not set key, or "".
func (p RoutePolicy) checkAnnotation(key string, d RouteDefaults) string {
	switch {
	// ingress-nginx runs snippets as its own configuration: one tenant's
	// snippet is every tenant's (and can read the controller's secrets).
	// The platform can still put one in its default annotations.
	case strings.Contains(strings.ToLower(key), "snippet"):
		return "is refused: snippet annotations inject configuration into the shared ingress controller; remove it"
	case hookgateAnnotations[key] != "":
		return fmt.Sprintf("is set by Hookgate; remove it and use %s", hookgateAnnotations[key])
	case strings.HasPrefix(key, hookv1.GroupVersion.Group+"/"):
		return "is reserved for Hookgate; remove it"
	}
	if _, ok := d.Annotations[key]; ok {
		return "is set by the platform on every route and cannot be overridden; remove it"
	}
	if !slices.ContainsFunc(p.AllowedAnnotations, func(pat string) bool { return glob(pat, key) }) {
		return fmt.Sprintf("is not allowed (allowed: %s); remove it or ask the platform team to allow it", allowed(nil, p.AllowedAnnotations))
	}
	return ""
}

// appendName adds a violation when a tenant sets a name other than the
// default that the policy does not list.
func appendName(out []string, field, v, def string, ok []string) []string {
	if v == "" || v == def || slices.Contains(ok, v) {
		return out
	}
	fix := "remove it"
	if def != "" {
		fix += fmt.Sprintf(" to use the default %q", def)
	}
	return append(out, fmt.Sprintf("%s: %q is not allowed (allowed: %s); %s", field, v, allowed(nonEmpty(def), ok), fix))
}

func allowed(def, ok []string) string {
	all := slices.Concat(def, ok)
	if len(all) == 0 {
		return "none"
	}
	q := make([]string, len(all))
	for i, s := range all {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func orDefault[T ~string](v, def T) T {
	if v != "" {
		return v
	}
	return def
}

// qualifyGateway gives a bare Gateway name its namespace, as applyHTTPRoute does.
func qualifyGateway(g, ns string) string {
	if strings.Contains(g, "/") {
		return g
	}
	return ns + "/" + g
}

// hostMatch matches a host against a name or a pattern whose "*" stays
// within one DNS label, as a wildcard certificate does.
func hostMatch(pattern, host string) bool {
	pl, hl := strings.Split(strings.ToLower(pattern), "."), strings.Split(strings.ToLower(host), ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if !glob(pl[i], hl[i]) {
			return false
		}
	}
	return true
}

// glob matches s against a pattern where "*" is any run of characters,
// in time linear in len(pattern)*len(s) however many stars there are.
func glob(pattern, s string) bool {
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// maxViolations bounds the condition message (the API refuses more than
// 32768 characters); the rest are counted.
const maxViolations = 10

// refuseRoute reports the violations and removes the endpoint's route,
// which may predate a stricter policy. It asks for no retry: only a change
// of the spec (a new generation) or of the policy (a manager restart) can
// help, and both reconcile the endpoint again.
func (r *Reconciler) refuseRoute(ctx context.Context, obj *hookv1.WebhookEndpoint, violations []string) error {
	prev := meta.FindStatusCondition(obj.Status.Conditions, hookv1.ConditionRouteReady)
	firstRefusal := prev == nil || prev.Reason != hookv1.ReasonRoutePolicyViolation
	shown := violations
	if len(shown) > maxViolations {
		shown = append(slices.Clone(shown[:maxViolations]), fmt.Sprintf("and %d more", len(violations)-maxViolations))
	}
	setCondition(obj, hookv1.ConditionRouteReady, metav1.ConditionFalse, hookv1.ReasonRoutePolicyViolation,
		"The platform's route policy refuses spec.route, so the endpoint has no route: "+strings.Join(shown, "; "))
	// status.route says what exists; on the first refusal both kinds are
	// deleted anyway, in case a status write was lost.
	if obj.Status.Route == nil && !firstRefusal {
		return nil
	}
	if err := r.deleteIngress(ctx, obj); err != nil {
		return err
	}
	if err := r.deleteHTTPRoute(ctx, obj); err != nil {
		return err
	}
	obj.Status.Route = nil
	return nil
}

// emitRouteRefused warns when the route policy refusal is new or its
// violations changed, unless the Ready transition already said the same.
// Ready reports an earlier failing step first (a missing Secret), and keeps
// its reason when only the violations change, so it cannot carry this alone.
func (r *Reconciler) emitRouteRefused(before, after *hookv1.WebhookEndpoint, readyEmitted *metav1.Condition) {
	now := meta.FindStatusCondition(after.Status.Conditions, hookv1.ConditionRouteReady)
	if now == nil || now.Reason != hookv1.ReasonRoutePolicyViolation {
		return
	}
	if was := meta.FindStatusCondition(before.Status.Conditions, hookv1.ConditionRouteReady); was != nil && was.Reason == now.Reason && was.Message == now.Message {
		return
	}
	if readyEmitted != nil && readyEmitted.Reason == now.Reason && readyEmitted.Message == now.Message {
		return
	}
	r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, now.Reason, "Reconcile", "%s", now.Message)
}
