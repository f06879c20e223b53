package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// providerRefIndex indexes WebhookEndpoints by spec.providerRef.name.
const providerRefIndex = ".spec.providerRef.name"

func indexProviderRef(o client.Object) []string {
	if ref := o.(*hookv1.WebhookEndpoint).Spec.ProviderRef; ref != nil {
		return []string{ref.Name}
	}
	return nil
}

// endpointsForProvider maps a WebhookProvider to the endpoints that
// reference it, in every namespace.
func (r *Reconciler) endpointsForProvider(ctx context.Context, o client.Object) []reconcile.Request {
	var list hookv1.WebhookEndpointList
	if err := r.Client.List(ctx, &list, client.MatchingFields{providerRefIndex: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing endpoints failed", "index", providerRefIndex, "provider", o.GetName())
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// resolveProvider returns the provider table entry the endpoint verifies
// with: the built-in entry of spec.provider, or its WebhookProvider's.
// When the WebhookProvider is missing, invalid, or does not fit the
// endpoint, Ready says so and ok is false: reconciling stops there, and the
// WebhookProvider watch brings the endpoint back when it changes.
func (r *Reconciler) resolveProvider(ctx context.Context, obj *hookv1.WebhookEndpoint) (info hookv1.ProviderInfo, ok bool, err error) {
	ref := obj.Spec.ProviderRef
	if ref == nil {
		info, _ = hookv1.LookupProvider(obj.Spec.Provider)
		return info, true, nil
	}
	var p hookv1.WebhookProvider
	if err := r.Client.Get(ctx, types.NamespacedName{Name: ref.Name}, &p); err != nil {
		if !apierrors.IsNotFound(err) {
			return info, false, fmt.Errorf("reading WebhookProvider %s: %w", ref.Name, err)
		}
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonProviderNotFound,
			fmt.Sprintf("WebhookProvider %q (spec.providerRef) not found; requests are answered 503 until it exists", ref.Name))
		return info, false, nil
	}
	info, err = checkProvider(&p, r.ProviderCheck)
	if err != nil {
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonProviderNotReady,
			fmt.Sprintf("WebhookProvider %q is invalid (%v); requests are answered 503 until it is fixed", ref.Name, err))
		return info, false, nil
	}
	if err := info.CheckEndpoint(&obj.Spec); err != nil {
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonProviderMismatch, err.Error())
		return info, false, nil
	}
	return info, true, nil
}

// reconcileProviderSecret is reconcileSecret for an endpoint whose
// WebhookProvider verifies with its issuer's keys: no Secret, no mirror.
// Built-in providers say the same through the table (reconcileSecret).
func (r *Reconciler) reconcileProviderSecret(ctx context.Context, obj *hookv1.WebhookEndpoint, info hookv1.ProviderInfo) (bool, time.Duration, error) {
	if obj.Spec.ProviderRef == nil || !info.VerifiesWithPublicKeysOnly(&obj.Spec) {
		return r.reconcileSecret(ctx, obj)
	}
	if err := r.deleteKeyMirror(ctx, obj); err != nil {
		return false, 0, err
	}
	where := "spec.jwt.keys"
	if info.JWT != nil && info.JWT.JWKSURL != "" {
		where = info.JWT.JWKSURL
	}
	setCondition(obj, hookv1.ConditionSecretReady, metav1.ConditionTrue, hookv1.ReasonSucceeded,
		fmt.Sprintf("WebhookProvider %s verifies with the issuer's keys (%s); no Secret needed", info.Name, where))
	obj.Status.Secret = nil
	return true, 0, nil
}
