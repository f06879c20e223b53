package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// ProviderCheck builds the verifier of a provider table entry and returns
// why it cannot. The manager passes one around verify.NewFromInfo: the
// controllers do not import the receiver's packages, so the verifier's own
// constructor is handed in rather than called.
type ProviderCheck func(hookv1.ProviderInfo) error

// checkProvider validates a WebhookProvider as the receiver will: the
// schema's rules (WebhookProviderSpec.Validate), then, when check is set,
// the verifier's constructor. It returns the entry the spec converts to.
func checkProvider(p *hookv1.WebhookProvider, check ProviderCheck) (hookv1.ProviderInfo, error) {
	if err := p.Spec.Validate(); err != nil {
		return hookv1.ProviderInfo{}, err
	}
	info := p.Spec.ProviderInfo(p.Name)
	if check != nil {
		if err := check(info); err != nil {
			return hookv1.ProviderInfo{}, fmt.Errorf("the recipe builds no verifier: %w", err)
		}
	}
	return info, nil
}

// ProviderReconciler reconciles WebhookProviders: Ready says whether the
// recipe builds a verifier, status.endpoints how many endpoints use it.
type ProviderReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// Check is the verifier's constructor (see ProviderCheck); nil: only
	// WebhookProviderSpec.Validate.
	Check ProviderCheck
}

// +kubebuilder:rbac:groups=hookgate.io,resources=webhookproviders,verbs=get;list;watch
// +kubebuilder:rbac:groups=hookgate.io,resources=webhookproviders/status,verbs=get;update;patch

// SetupWithManager registers the controller.
func (r *ProviderReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("webhookprovider").
		For(&hookv1.WebhookProvider{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// The count of endpoints moves when one starts or stops using it;
		// an update maps both the old and the new reference.
		Watches(&hookv1.WebhookEndpoint{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if ref := o.(*hookv1.WebhookEndpoint).Spec.ProviderRef; ref != nil {
				return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: ref.Name}}}
			}
			return nil
		}), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}

// Reconcile follows the endpoint reconciler's skeleton: get, one deferred
// status patch with the transition's Event, then the steps.
func (r *ProviderReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := &hookv1.WebhookProvider{}
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := obj.DeepCopy()
	defer func() {
		if retErr == nil {
			obj.Status.ObservedGeneration = obj.Generation
		}
		r.emitTransition(before, obj)
		if equality.Semantic.DeepEqual(before.Status, obj.Status) {
			return
		}
		if err := r.Client.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, fmt.Errorf("patching status: %w", err))
		}
	}()

	// Count first: it is true whether or not the recipe is valid.
	var list hookv1.WebhookEndpointList
	if err := r.Client.List(ctx, &list); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing WebhookEndpoints: %w", err)
	}
	n := int32(0)
	for i := range list.Items {
		if ref := list.Items[i].Spec.ProviderRef; ref != nil && ref.Name == obj.Name {
			n++
		}
	}
	obj.Status.Endpoints = n

	if _, err := checkProvider(obj, r.Check); err != nil {
		setProviderCondition(obj, metav1.ConditionFalse, hookv1.ReasonProviderInvalid, err.Error())
		return ctrl.Result{}, nil
	}
	setProviderCondition(obj, metav1.ConditionTrue, hookv1.ReasonSucceeded,
		fmt.Sprintf("The %s recipe builds a verifier; %d endpoint(s) use it", obj.Spec.Scheme, n))
	return ctrl.Result{}, nil
}

// emitTransition records an Event when Ready changes status or reason.
func (r *ProviderReconciler) emitTransition(before, after *hookv1.WebhookProvider) {
	if r.Recorder == nil {
		return
	}
	now := readyChanged(before.Status.Conditions, after.Status.Conditions)
	if now == nil {
		return
	}
	typ := corev1.EventTypeNormal
	if now.Status != metav1.ConditionTrue {
		typ = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(after, nil, typ, now.Reason, "Reconcile", "%s", now.Message)
}

func setProviderCondition(obj *hookv1.WebhookProvider, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&obj.Status.Conditions, metav1.Condition{
		Type: hookv1.ConditionReady, Status: status, Reason: reason, Message: msg, ObservedGeneration: obj.Generation,
	})
}
