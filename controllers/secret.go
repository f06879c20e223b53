package controllers

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/keyring"
)

// AnnotationKeyCreatedAt, on a managed Secret, is when the current key was
// generated. It lives on the Secret, not only in status, so a lost status
// does not reset the rotation schedule.
const AnnotationKeyCreatedAt = "hookgate.io/key-created-at"

// AnnotationLastRotateToken, on a managed Secret, is the last
// hookgate.io/rotate value acted on. It sits on the Secret, which is written
// with an optimistic lock, so a stale cache can never rotate twice for one
// request.
const AnnotationLastRotateToken = "hookgate.io/last-rotate-token"

// reconcileSecret checks the signing Secret, mirrors its keys to the
// receiver and, when spec.rotation asks for it, generates, rotates and tidies
// the key. It returns whether the endpoint can verify, and when it next needs
// attention (0: not scheduled).
func (r *Reconciler) reconcileSecret(ctx context.Context, obj *hookv1.WebhookEndpoint) (bool, time.Duration, error) {
	if obj.Spec.VerifiesWithPublicKeysOnly() {
		// The receiver reads public keys from the spec: no Secret, no mirror.
		if err := r.deleteKeyMirror(ctx, obj); err != nil {
			return false, 0, err
		}
		setCondition(obj, hookv1.ConditionSecretReady, metav1.ConditionTrue, hookv1.ReasonSucceeded, publicKeysMessage(obj))
		obj.Status.Secret = nil
		return true, 0, nil
	}
	ref := obj.Spec.SecretRef
	if ref == nil {
		setCondition(obj, hookv1.ConditionSecretReady, metav1.ConditionFalse, hookv1.ReasonSecretNotFound,
			"spec.secretRef is required for provider "+string(obj.Spec.Provider))
		return false, 0, r.deleteKeyMirror(ctx, obj)
	}
	rot := obj.Spec.Rotation
	key := types.NamespacedName{Namespace: obj.Namespace, Name: ref.Name}
	dataKey := ref.GetKey()
	var s corev1.Secret
	err := r.Client.Get(ctx, key, &s)
	switch {
	case apierrors.IsNotFound(err) && rot != nil && rot.Generate:
		s = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: endpointLabels(obj)}}
		// A Secret we made goes away with the endpoint, and the controller
		// reference is what makes it ours to rotate.
		if err := controllerutil.SetControllerReference(obj, &s, r.Client.Scheme()); err != nil {
			return false, 0, err
		}
		if err := r.setNewKey(obj, &s, dataKey, false); err != nil {
			return false, 0, err
		}
		if err := r.Client.Create(ctx, &s); err != nil {
			return false, 0, fmt.Errorf("creating Secret %s: %w", key, err)
		}
		r.event(obj, corev1.EventTypeNormal, hookv1.ReasonSecretGenerated, "Secret", "Generated a signing secret in Secret %q key %q", key.Name, dataKey)
	case apierrors.IsNotFound(err):
		// A deleted Secret revokes its keys: the mirror goes too.
		setCondition(obj, hookv1.ConditionSecretReady, metav1.ConditionFalse, hookv1.ReasonSecretNotFound,
			fmt.Sprintf("Secret %q not found in namespace %q; create it with the signing secret under key %q, or set spec.rotation.generate",
				key.Name, key.Namespace, dataKey))
		return false, 0, r.deleteKeyMirror(ctx, obj)
	case err != nil:
		return false, 0, fmt.Errorf("reading Secret %s: %w", key, err)
	case rot != nil && !managesSecret(obj, &s):
		// The manager may write every Secret in the cluster; whoever wrote
		// this endpoint may not. Rotation would let them overwrite (and,
		// after the grace period, delete) any Secret in their namespace,
		// so only Secrets we made, or that someone able to write them has
		// handed over with a label, are ever written. Verifying with the
		// Secret stays as without spec.rotation.
		keys := keyring.Parse(s.Data, s.Annotations, dataKey, r.now())
		verifying := fmt.Sprintf("requests are still verified with its key %q", dataKey)
		if len(keys.Current) == 0 {
			verifying = fmt.Sprintf("it has no non-empty key %q", dataKey)
			if err := r.deleteKeyMirror(ctx, obj); err != nil {
				return false, 0, err
			}
		} else if err := r.writeKeyMirror(ctx, obj, keys); err != nil {
			return false, 0, err
		}
		obj.Status.Secret = nil
		setCondition(obj, hookv1.ConditionSecretReady, metav1.ConditionFalse, hookv1.ReasonSecretNotManaged, withProblems(
			fmt.Sprintf("spec.rotation is set but Hookgate does not manage Secret %q, so it never writes it (%s); "+
				"to let Hookgate rotate it, label it %s=%s (this needs write access to the Secret), or remove spec.rotation",
				key.Name, verifying, hookv1.LabelEndpointName, obj.Name), keys))
		return false, 0, nil
	case len(s.Data[dataKey]) == 0 && rot != nil && rot.Generate:
		patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if err := r.setNewKey(obj, &s, dataKey, false); err != nil {
			return false, 0, err
		}
		if err := r.Client.Patch(ctx, &s, patch); err != nil {
			return false, 0, fmt.Errorf("writing Secret %s: %w", key, err)
		}
		r.event(obj, corev1.EventTypeNormal, hookv1.ReasonSecretGenerated, "Secret", "Generated a signing secret in Secret %q key %q", key.Name, dataKey)
	case len(s.Data[dataKey]) == 0:
		setCondition(obj, hookv1.ConditionSecretReady, metav1.ConditionFalse, hookv1.ReasonSecretKeyMissing,
			fmt.Sprintf("Secret %q has no non-empty key %q", key.Name, dataKey))
		return false, 0, r.deleteKeyMirror(ctx, obj)
	}

	var next time.Duration
	if rot != nil {
		var err error
		if next, err = r.rotate(ctx, obj, &s, dataKey); err != nil {
			return false, 0, err
		}
	} else {
		obj.Status.Secret = nil
	}
	keys := keyring.Parse(s.Data, s.Annotations, dataKey, r.now())
	if err := r.writeKeyMirror(ctx, obj, keys); err != nil {
		return false, 0, err
	}
	msg := withProblems(fmt.Sprintf("Signing secret found in Secret %q key %q", key.Name, dataKey), keys)
	if old := meta.FindStatusCondition(obj.Status.Conditions, hookv1.ConditionSecretReady); len(keys.Problems) > 0 && (old == nil || old.Message != msg) {
		r.event(obj, corev1.EventTypeWarning, hookv1.ReasonPreviousKeyIgnored, "Secret", "Secret %q: %s", key.Name, strings.Join(keys.Problems, "; "))
	}
	setCondition(obj, hookv1.ConditionSecretReady, metav1.ConditionTrue, hookv1.ReasonSucceeded, msg)
	return true, next, nil
}

// managesSecret reports whether the controller may write s for obj: it made
// s for this endpoint (controller reference), or the Secret carries the
// endpoint's name label, which only someone who can write it could add.
func managesSecret(obj *hookv1.WebhookEndpoint, s *corev1.Secret) bool {
	return metav1.IsControlledBy(s, obj) || s.Labels[hookv1.LabelEndpointName] == obj.Name
}

// withProblems appends what keyring found wrong with the key set.
func withProblems(msg string, keys keyring.Keys) string {
	if len(keys.Problems) == 0 {
		return msg
	}
	return msg + "; " + strings.Join(keys.Problems, "; ")
}

// writeKeyMirror puts the endpoint's accepted keys into its key mirror in
// the receiver's namespace, the only Secrets the receiver can read.
func (r *Reconciler) writeKeyMirror(ctx context.Context, obj *hookv1.WebhookEndpoint, keys keyring.Keys) error {
	if r.Routes.ReceiverNamespace == "" {
		return errors.New("no receiver namespace is configured (--receiver-namespace): the receiver's key mirror cannot be written")
	}
	m := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.Routes.ReceiverNamespace, Name: keyring.MirrorName(string(obj.UID))}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, m, func() error {
		m.Labels = endpointLabels(obj)
		m.Type = corev1.SecretTypeOpaque
		m.Data = keys.MirrorData()
		return nil
	}); err != nil {
		return fmt.Errorf("writing key mirror %s/%s: %w", m.Namespace, m.Name, err)
	}
	return nil
}

// deleteKeyMirror removes the endpoint's key mirror: without keys the
// receiver answers 503 SecretUnavailable.
func (r *Reconciler) deleteKeyMirror(ctx context.Context, obj *hookv1.WebhookEndpoint) error {
	if r.Routes.ReceiverNamespace == "" {
		return nil
	}
	m := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.Routes.ReceiverNamespace, Name: keyring.MirrorName(string(obj.UID))}}
	if err := r.Client.Delete(ctx, m); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting key mirror %s/%s: %w", m.Namespace, m.Name, err)
	}
	return nil
}

// rotate rotates the key when due or requested, drops an expired previous
// key, and mirrors the schedule to status. s is a Secret the controller
// manages.
func (r *Reconciler) rotate(ctx context.Context, obj *hookv1.WebhookEndpoint, s *corev1.Secret, dataKey string) (time.Duration, error) {
	now := r.now()
	rot := obj.Spec.Rotation
	created := keyCreatedAt(s)
	token := obj.Annotations[hookv1.AnnotationRotate]
	requested := token != "" && token != s.Annotations[AnnotationLastRotateToken]
	due := rot.Interval != nil && rot.Interval.Duration > 0 && !created.IsZero() && !now.Before(created.Add(rot.Interval.Duration))
	// A Secret the user filled in has no creation time: start its clock now.
	adopt := created.IsZero()

	// A previous key without a readable expiry is not accepted (keyring),
	// so it neither blocks a rotation nor survives one.
	keys := keyring.Parse(s.Data, s.Annotations, dataKey, now)
	expired := keys.PreviousExpired

	// Rotating again while the previous key is still accepted would drop
	// it at once, though the provider may still sign with it: wait.
	if (requested || due) && keys.Previous != nil {
		r.event(obj, corev1.EventTypeNormal, "RotationDeferred", "Rotate",
			"Rotation deferred until the previous key expires at %s", keys.PreviousExpires.Format(time.RFC3339))
		requested, due = false, false
	}
	if requested || due || adopt || expired {
		patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
		switch {
		case requested || due:
			if err := r.setNewKey(obj, s, dataKey, true); err != nil {
				return 0, err
			}
			if requested {
				setAnnotation(s, AnnotationLastRotateToken, token)
			}
		case adopt:
			setAnnotation(s, AnnotationKeyCreatedAt, now.UTC().Format(time.RFC3339))
		}
		if expired && !(requested || due) {
			delete(s.Data, dataKey+hookv1.PreviousKeySuffix)
			delete(s.Annotations, hookv1.AnnotationPreviousKeyExpiresAt)
		}
		if err := r.Client.Patch(ctx, s, patch); err != nil {
			return 0, fmt.Errorf("rotating Secret %s: %w", client.ObjectKeyFromObject(s), err)
		}
		if requested || due {
			why := "interval elapsed"
			if requested {
				why = fmt.Sprintf("requested by %s=%s", hookv1.AnnotationRotate, token)
			}
			r.event(obj, corev1.EventTypeNormal, hookv1.ReasonSecretRotated, "Rotate",
				"Rotated the signing secret in Secret %q (%s); the previous key is accepted until %s",
				s.Name, why, keyring.Parse(s.Data, s.Annotations, dataKey, now).PreviousExpires.Format(time.RFC3339))
		}
	}

	st := &hookv1.SecretStatus{LastRotateToken: s.Annotations[AnnotationLastRotateToken]}
	var next time.Duration
	if c := keyCreatedAt(s); !c.IsZero() {
		st.CreatedAt = &metav1.Time{Time: c}
		if rot.Interval != nil && rot.Interval.Duration > 0 {
			at := c.Add(rot.Interval.Duration)
			st.NextRotationAt = &metav1.Time{Time: at}
			next = at.Sub(now)
		}
	}
	if after := keyring.Parse(s.Data, s.Annotations, dataKey, now); after.Previous != nil {
		pe := after.PreviousExpires
		st.PreviousExpiresAt = &metav1.Time{Time: pe}
		if d := pe.Sub(now); next == 0 || d < next {
			next = d
		}
	}
	obj.Status.Secret = st
	if next > 0 {
		// Never spin: a schedule in the past is handled on the next pass.
		next = max(next, time.Second)
	}
	return next, nil
}

// setNewKey writes a fresh key; with keepPrevious the current one becomes
// the previous key for the grace period.
func (r *Reconciler) setNewKey(obj *hookv1.WebhookEndpoint, s *corev1.Secret, dataKey string, keepPrevious bool) error {
	v, err := newSecretValue(obj.Spec.Provider)
	if err != nil {
		return err
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	now := r.now().UTC()
	if keepPrevious && len(s.Data[dataKey]) > 0 {
		s.Data[dataKey+hookv1.PreviousKeySuffix] = s.Data[dataKey]
		setAnnotation(s, hookv1.AnnotationPreviousKeyExpiresAt, now.Add(obj.Spec.Rotation.GetGracePeriod()).Format(time.RFC3339))
	}
	s.Data[dataKey] = v
	setAnnotation(s, AnnotationKeyCreatedAt, now.Format(time.RFC3339))
	return nil
}

// newSecretValue returns 256 random bits in the form the provider's
// verifier expects: whsec_<base64> for Standard Webhooks, hex otherwise.
func newSecretValue(p hookv1.Provider) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generating secret: %w", err)
	}
	// The provider table says how the provider expects the secret written.
	info, _ := hookv1.LookupProvider(p)
	return info.Key.Format.Encode(b), nil
}

func keyCreatedAt(s *corev1.Secret) time.Time {
	t, _ := time.Parse(time.RFC3339, s.Annotations[AnnotationKeyCreatedAt])
	return t
}

func setAnnotation(o metav1.Object, k, v string) {
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[k] = v
	o.SetAnnotations(a)
}

func endpointLabels(obj *hookv1.WebhookEndpoint) map[string]string {
	return map[string]string{
		"app.kubernetes.io/managed-by": "hookgate",
		hookv1.LabelEndpointName:       obj.Name,
		hookv1.LabelEndpointNamespace:  obj.Namespace,
		hookv1.LabelEndpointUID:        string(obj.UID),
	}
}

// endpointsForSecret maps a Secret to the endpoints to reconcile: those
// that reference it, or, for a key mirror in the receiver's namespace, the
// endpoint it mirrors, so a mirror edited or deleted by hand is put back.
func (r *Reconciler) endpointsForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	reqs := r.mapBy(secretRefIndex)(ctx, o)
	if o.GetNamespace() == r.Routes.ReceiverNamespace && strings.HasPrefix(o.GetName(), keyring.MirrorPrefix) {
		reqs = append(reqs, endpointFromLabels(ctx, o)...)
	}
	return reqs
}

// publicKeysMessage says where an endpoint that needs no Secret gets its
// verification keys: the issuer's (a JWKS, a certificate URL) or
// spec.publicKeys.
func publicKeysMessage(obj *hookv1.WebhookEndpoint) string {
	p := obj.Spec.Provider
	if !p.KeysFromIssuer() {
		return fmt.Sprintf("Provider %s verifies with spec.publicKeys (%d key(s)); no Secret needed", p, len(obj.Spec.PublicKeys))
	}
	switch {
	case obj.Spec.JWT != nil && len(obj.Spec.JWT.Keys) > 0:
		return fmt.Sprintf("Provider %s verifies with the issuer's keys in spec.jwt.keys (%d key(s)); no Secret needed", p, len(obj.Spec.JWT.Keys))
	case obj.Spec.JWT != nil && obj.Spec.JWT.JWKSURL != "":
		return fmt.Sprintf("Provider %s verifies with the issuer's keys, which the receiver fetches from spec.jwt.jwksURL; no Secret needed", p)
	}
	if info, ok := hookv1.LookupProvider(p); ok && info.JWT != nil && info.JWT.JWKSURL != "" {
		return fmt.Sprintf("Provider %s verifies with the issuer's keys, which the receiver fetches from %s; no Secret needed", p, info.JWT.JWKSURL)
	}
	if info, ok := hookv1.LookupProvider(p); ok && info.Key.Format == hookv1.KeyFormatX509URL {
		return fmt.Sprintf("Provider %s verifies with the signing certificate the receiver fetches from the provider's own https host; no Secret needed", p)
	}
	return fmt.Sprintf("Provider %s verifies with its issuer's published keys; no Secret needed", p)
}
