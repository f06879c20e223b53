package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

// HandshakeSecretReconciler stores the signing secret a receiver captured
// from an armed handshake (Asana's X-Hook-Secret) in the endpoint's Secret,
// then disarms the endpoint. The receiver may not write a team's Secret;
// it publishes the secret to queue.HandshakeSecretBucket, and this
// controller, which may, moves it. Only armed endpoints are reconciled,
// and they are polled until a secret arrives or the arm ends (an hour at
// most).
type HandshakeSecretReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// Secrets opens the bucket of captured secrets.
	Secrets func(ctx context.Context) (*queue.HandshakeSecrets, error)
	// PollInterval is how often an armed endpoint looks for its secret.
	// Defaults to 2s.
	PollInterval time.Duration
	// Now is the clock; tests inject one.
	Now func() time.Time
}

// SetupWithManager watches endpoints that carry the arm annotation.
func (r *HandshakeSecretReconciler) SetupWithManager(mgr ctrl.Manager) error {
	armed := predicate.NewPredicateFuncs(func(o client.Object) bool {
		_, ok := o.GetAnnotations()[hookv1.AnnotationArmHandshake]
		return ok
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("handshake-secret").
		For(&hookv1.WebhookEndpoint{}, builder.WithPredicates(armed)).
		Complete(r)
}

// Reconcile moves one captured secret.
func (r *HandshakeSecretReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ep hookv1.WebhookEndpoint
	if err := r.Client.Get(ctx, req.NamespacedName, &ep); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	arm, ok := ep.Annotations[hookv1.AnnotationArmHandshake]
	if !ok || !ep.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if !ep.Spec.Provider.CapturesHandshakeSecret() {
		r.event(&ep, corev1.EventTypeWarning, hookv1.ReasonHandshakeArmInvalid,
			"Provider %s sends no secret in a handshake; remove %s", ep.Spec.Provider, hookv1.AnnotationArmHandshake)
		return ctrl.Result{}, nil
	}
	hs, err := r.Secrets(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	secret, found, consumed, err := hs.Captured(ctx, string(ep.UID), arm)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !found {
		until, err := hookv1.HandshakeArm(ep.Annotations, r.now())
		if err != nil {
			// Passed or too far ahead: the receiver refuses it, say why.
			r.event(&ep, corev1.EventTypeWarning, hookv1.ReasonHandshakeArmInvalid, "%v; the receiver accepts no handshake", err)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{RequeueAfter: min(r.pollInterval(), until.Sub(r.now())+time.Second)}, nil
	}
	if !consumed {
		if err := r.storeSecret(ctx, &ep, secret); err != nil {
			return ctrl.Result{}, err
		}
		if err := hs.Consume(ctx, string(ep.UID), arm); err != nil {
			return ctrl.Result{}, err
		}
	}
	// Disarm: the arm's key stays in the bucket, so even a receiver that
	// has not seen this yet refuses a second handshake.
	patch := client.MergeFrom(ep.DeepCopy())
	delete(ep.Annotations, hookv1.AnnotationArmHandshake)
	if err := r.Client.Patch(ctx, &ep, patch); err != nil {
		return ctrl.Result{}, fmt.Errorf("disarming endpoint: %w", err)
	}
	if !consumed {
		r.event(&ep, corev1.EventTypeNormal, hookv1.ReasonHandshakeSecretCaptured,
			"Stored the secret of the %s handshake in Secret %s key %s; disarmed", ep.Spec.Provider, ep.Spec.SecretRef.Name, ep.Spec.SecretRef.GetKey())
	}
	return ctrl.Result{}, nil
}

// storeSecret writes the secret into the endpoint's Secret: a new one,
// made for the endpoint, or one the controller manages (managesSecret);
// never a Secret someone else owns.
func (r *HandshakeSecretReconciler) storeSecret(ctx context.Context, ep *hookv1.WebhookEndpoint, secret []byte) error {
	ref := ep.Spec.SecretRef
	if ref == nil {
		return fmt.Errorf("spec.secretRef is required to store the handshake secret")
	}
	key := types.NamespacedName{Namespace: ep.Namespace, Name: ref.Name}
	var s corev1.Secret
	err := r.Client.Get(ctx, key, &s)
	if apierrors.IsNotFound(err) {
		s = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: endpointLabels(ep)},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{ref.GetKey(): secret},
		}
		if err := ctrl.SetControllerReference(ep, &s, r.Client.Scheme()); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, &s); err != nil {
			return fmt.Errorf("creating Secret %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Secret %s: %w", key, err)
	}
	if !managesSecret(ep, &s) {
		r.event(ep, corev1.EventTypeWarning, hookv1.ReasonSecretNotManaged,
			"Secret %s exists and is not managed for this endpoint (label %s=%s): the handshake secret was not stored",
			key.Name, hookv1.LabelEndpointName, ep.Name)
		return reconcile.TerminalError(fmt.Errorf("secret %s is not managed for endpoint %s", key, ep.Name))
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	s.Data[ref.GetKey()] = secret
	if err := r.Client.Update(ctx, &s); err != nil {
		return fmt.Errorf("writing Secret %s: %w", key, err)
	}
	return nil
}

func (r *HandshakeSecretReconciler) event(ep *hookv1.WebhookEndpoint, typ, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(ep, nil, typ, reason, "Handshake", format, args...)
	}
}

func (r *HandshakeSecretReconciler) pollInterval() time.Duration {
	if r.PollInterval > 0 {
		return r.PollInterval
	}
	return 2 * time.Second
}

func (r *HandshakeSecretReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
