package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// RouteDefaults are the manager-wide route settings (the Helm chart's
// values); an endpoint's spec.route overrides them field by field.
type RouteDefaults struct {
	Kind          hookv1.RouteKind
	Host          string
	IngressClass  string
	TLSSecret     string
	ClusterIssuer string
	Annotations   map[string]string
	// Gateways are HTTPRoute parents as "namespace/name".
	Gateways []string
	// The shared receiver Service the routes point at. Routes live in its
	// namespace, because an Ingress can only reach Services in its own.
	ReceiverNamespace string
	ReceiverService   string
	ReceiverPort      int32
	// Policy bounds what spec.route may change (routepolicy.go).
	Policy RoutePolicy
}

// Annotations Hookgate writes on Ingresses from other fields.
const (
	annotationClusterIssuer        = "cert-manager.io/cluster-issuer"
	annotationAllowlistSourceRange = "nginx.ingress.kubernetes.io/allowlist-source-range"
)

var httpRouteGVK = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}

// effectiveRoute merges the endpoint's overrides into the defaults.
func (r *Reconciler) effectiveRoute(obj *hookv1.WebhookEndpoint) RouteDefaults {
	d := r.Routes
	d.Annotations = maps.Clone(d.Annotations)
	if d.Kind == "" {
		d.Kind = hookv1.RouteNone
	}
	o := obj.Spec.Route
	if o == nil {
		return d
	}
	if o.Kind != "" {
		d.Kind = o.Kind
	}
	if o.Host != "" {
		d.Host = o.Host
	}
	if o.IngressClassName != "" {
		d.IngressClass = o.IngressClassName
	}
	if o.TLSSecretName != "" {
		d.TLSSecret = o.TLSSecretName
	}
	if o.ClusterIssuer != "" {
		d.ClusterIssuer = o.ClusterIssuer
	}
	if len(o.ParentRefs) > 0 {
		d.Gateways = o.ParentRefs
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	maps.Copy(d.Annotations, o.Annotations)
	return d
}

func routeName(obj *hookv1.WebhookEndpoint) string { return "hookgate-" + string(obj.UID) }

// reconcileRoute creates or updates the endpoint's Ingress or HTTPRoute and
// removes a route of the other kind, so switching kinds leaves nothing
// behind. It returns the public base URL the route serves, if known.
func (r *Reconciler) reconcileRoute(ctx context.Context, obj *hookv1.WebhookEndpoint) (string, error) {
	rt := r.effectiveRoute(obj)
	// Remove the route of a kind no longer wanted. status.route says what
	// exists, so a steady endpoint costs no DELETE calls.
	if prev := obj.Status.Route; prev != nil && prev.Kind != string(rt.Kind) {
		var err error
		switch hookv1.RouteKind(prev.Kind) {
		case hookv1.RouteIngress:
			err = r.deleteIngress(ctx, obj)
		case hookv1.RouteHTTPRoute:
			err = r.deleteHTTPRoute(ctx, obj)
		}
		if err != nil {
			return "", err
		}
		obj.Status.Route = nil
	}
	if rt.Kind == hookv1.RouteNone {
		obj.Status.Route = nil
		setCondition(obj, hookv1.ConditionRouteReady, metav1.ConditionTrue, hookv1.ReasonRouteDisabled,
			"No route is managed; the receiver is reached through its own Service or ingress")
		return "", nil
	}
	// The route lands in the platform's namespace: the platform decides
	// what an endpoint may set on it.
	if v := r.Routes.Policy.Check(obj.Spec.Route, r.Routes); len(v) > 0 {
		return "", r.refuseRoute(ctx, obj, v)
	}
	if rt.ReceiverNamespace == "" || rt.ReceiverService == "" {
		setCondition(obj, hookv1.ConditionRouteReady, metav1.ConditionFalse, hookv1.ReasonRouteFailed,
			"The manager has no --receiver-service; it cannot point a route at the receiver")
		return "", nil
	}
	var err error
	switch rt.Kind {
	case hookv1.RouteIngress:
		err = r.applyIngress(ctx, obj, rt)
	case hookv1.RouteHTTPRoute:
		err = r.applyHTTPRoute(ctx, obj, rt)
	}
	switch {
	case meta.IsNoMatchError(err):
		setCondition(obj, hookv1.ConditionRouteReady, metav1.ConditionFalse, hookv1.ReasonRouteNotSupported,
			fmt.Sprintf("The %s API is not installed in this cluster; install it or set spec.route.kind", rt.Kind))
		return "", nil
	case err != nil:
		setCondition(obj, hookv1.ConditionRouteReady, metav1.ConditionFalse, hookv1.ReasonRouteFailed, err.Error())
		return "", err
	}
	obj.Status.Route = &hookv1.RouteStatus{Kind: string(rt.Kind), Namespace: rt.ReceiverNamespace, Name: routeName(obj)}
	setCondition(obj, hookv1.ConditionRouteReady, metav1.ConditionTrue, hookv1.ReasonSucceeded,
		fmt.Sprintf("%s %s/%s routes %s to the receiver", rt.Kind, rt.ReceiverNamespace, routeName(obj), obj.Status.WebhookPath))
	if rt.Host == "" {
		return "", nil
	}
	scheme := "http"
	if rt.TLSSecret != "" || rt.ClusterIssuer != "" || rt.Kind == hookv1.RouteHTTPRoute {
		scheme = "https"
	}
	return scheme + "://" + rt.Host, nil
}

func (r *Reconciler) applyIngress(ctx context.Context, obj *hookv1.WebhookEndpoint, rt RouteDefaults) error {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: rt.ReceiverNamespace, Name: routeName(obj)}}
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, ing, func() error {
		ing.Labels = mergeOwned(ing.Labels, endpointLabels(obj), "")
		ann := maps.Clone(rt.Annotations)
		if ann == nil {
			ann = map[string]string{}
		}
		if rt.ClusterIssuer != "" {
			ann[annotationClusterIssuer] = rt.ClusterIssuer
		}
		// ingress-nginx can refuse disallowed clients before they reach us.
		if len(obj.Spec.SourceRanges) > 0 && strings.Contains(rt.IngressClass, "nginx") {
			ann[annotationAllowlistSourceRange] = strings.Join(obj.Spec.SourceRanges, ",")
		}
		ing.Annotations = mergeOwned(ing.Annotations, ann, annotationOwnedKeys)
		ing.Spec = networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: rt.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     obj.Status.WebhookPath,
						PathType: ptr.To(networkingv1.PathTypeExact),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: rt.ReceiverService,
							Port: networkingv1.ServiceBackendPort{Number: rt.ReceiverPort},
						}},
					}},
				}},
			}},
		}
		if rt.IngressClass != "" {
			ing.Spec.IngressClassName = ptr.To(rt.IngressClass)
		}
		if rt.TLSSecret != "" && rt.Host != "" {
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{rt.Host}, SecretName: rt.TLSSecret}}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("applying Ingress %s/%s: %w", ing.Namespace, ing.Name, err)
	}
	return nil
}

func (r *Reconciler) applyHTTPRoute(ctx context.Context, obj *hookv1.WebhookEndpoint, rt RouteDefaults) error {
	if len(rt.Gateways) == 0 {
		return fmt.Errorf("an HTTPRoute needs a parent Gateway: set spec.route.parentRefs or the manager's --gateway")
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(httpRouteGVK)
	u.SetNamespace(rt.ReceiverNamespace)
	u.SetName(routeName(obj))
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, u, func() error {
		u.SetLabels(mergeOwned(u.GetLabels(), endpointLabels(obj), ""))
		u.SetAnnotations(mergeOwned(u.GetAnnotations(), rt.Annotations, annotationOwnedKeys))
		var parents []any
		for _, g := range rt.Gateways {
			ns, name, ok := strings.Cut(g, "/")
			if !ok {
				ns, name = rt.ReceiverNamespace, g
			}
			parents = append(parents, map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": ns, "name": name})
		}
		spec := map[string]any{
			"parentRefs": parents,
			"rules": []any{map[string]any{
				"matches":     []any{map[string]any{"path": map[string]any{"type": "Exact", "value": obj.Status.WebhookPath}}},
				"backendRefs": []any{map[string]any{"name": rt.ReceiverService, "port": int64(rt.ReceiverPort)}},
			}},
		}
		if rt.Host != "" {
			spec["hostnames"] = []any{rt.Host}
		}
		u.Object["spec"] = spec
		return nil
	})
	if err != nil {
		return fmt.Errorf("applying HTTPRoute %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// annotationOwnedKeys records which annotations Hookgate set on a route, so
// it can remove the ones dropped from the spec while leaving those other
// controllers add (GKE, cert-manager) alone.
const annotationOwnedKeys = "hookgate.io/owned-annotations"

// mergeOwned sets want on cur without touching other keys; with ownedKey,
// keys Hookgate set before but no longer wants are removed.
func mergeOwned(cur, want map[string]string, ownedKey string) map[string]string {
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]string{}
	}
	if ownedKey != "" {
		for _, k := range strings.Split(out[ownedKey], ",") {
			if _, keep := want[k]; k != "" && !keep {
				delete(out, k)
			}
		}
		delete(out, ownedKey)
	}
	maps.Copy(out, want)
	if ownedKey != "" && len(want) > 0 {
		keys := slices.Sorted(maps.Keys(want))
		out[ownedKey] = strings.Join(keys, ",")
	}
	return out
}

func (r *Reconciler) deleteIngress(ctx context.Context, obj *hookv1.WebhookEndpoint) error {
	if r.Routes.ReceiverNamespace == "" {
		return nil
	}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: r.Routes.ReceiverNamespace, Name: routeName(obj)}}
	if err := r.Client.Delete(ctx, ing); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Ingress %s: %w", client.ObjectKeyFromObject(ing), err)
	}
	return nil
}

func (r *Reconciler) deleteHTTPRoute(ctx context.Context, obj *hookv1.WebhookEndpoint) error {
	if r.Routes.ReceiverNamespace == "" {
		return nil
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(httpRouteGVK)
	u.SetNamespace(r.Routes.ReceiverNamespace)
	u.SetName(routeName(obj))
	// Without the Gateway API installed there is nothing to delete.
	if err := r.Client.Delete(ctx, u); err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
		return fmt.Errorf("deleting HTTPRoute %s: %w", client.ObjectKeyFromObject(u), err)
	}
	return nil
}
