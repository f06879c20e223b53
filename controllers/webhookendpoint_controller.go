// Package controllers reconciles WebhookEndpoints: it assigns each one a
// stable, unguessable receiver path, checks the signing Secret and target
// Service, cleans up queued data on delete, and writes the delivery counters
// kept in JetStream to status.
package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Field indexes.
const (
	secretRefIndex = ".spec.secretRef.name"
	serviceIndex   = ".spec.target.service.name"
	uidIndex       = ".metadata.uid"
	// PathPrefix is where the receiver serves endpoints.
	PathPrefix = "/hook/"
)

// Reconciler reconciles WebhookEndpoints.
type Reconciler struct {
	Client client.Client
	// APIReader reads past the cache (the manager's GetAPIReader): a
	// replay token is checked against the server before dead letters move,
	// since the cache may not yet show the replay that recorded it. Nil:
	// Client.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Queue     QueueReader
	// PublicBaseURL, e.g. https://hooks.example.com, makes status.url.
	PublicBaseURL string
	// ResyncInterval re-reads counters even when no change was signalled
	// (see CounterWatcher); DefaultResyncInterval when zero.
	ResyncInterval time.Duration
	// PurgeGracePeriod is how long deletion waits for an unreachable queue
	// before it gives up purging and removes the finalizer.
	PurgeGracePeriod time.Duration
	// Changes carries endpoints whose counters moved (see CounterWatcher).
	Changes <-chan event.GenericEvent
	// Routes are the defaults for exposing endpoints.
	Routes RouteDefaults
	// MaxConcurrentReconciles is how many endpoints are reconciled at
	// once. Defaults to 8.
	MaxConcurrentReconciles int
	// Now is the clock; tests inject one.
	Now func() time.Time
	// ProviderCheck builds the verifier of a WebhookProvider's recipe (see
	// ProviderCheck); nil: only WebhookProviderSpec.Validate.
	ProviderCheck ProviderCheck

	failingMu     sync.Mutex
	failingWarned map[types.UID]time.Time
}

// DefaultResyncInterval is how often every endpoint's counters are read
// again without a signal. Each read is a few JetStream API requests, so at
// 10,000 endpoints one minute cost a sixth of a core in the manager and
// the server, idle.
const DefaultResyncInterval = 10 * time.Minute

// failingWarnEvery bounds DeliveryFailing Warnings to one per endpoint per
// period, so a dead target does not flood the namespace's Events.
const failingWarnEvery = 5 * time.Minute

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) event(obj *hookv1.WebhookEndpoint, typ, reason, action, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, action, format, args...)
	}
}

// +kubebuilder:rbac:groups=hookgate.io,resources=webhookendpoints,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=hookgate.io,resources=webhookendpoints/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=hookgate.io,resources=webhookendpoints/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch
// Secrets: signing Secrets in every namespace, and the key mirrors in the
// receiver's namespace, deleted with their endpoint (secret.go).
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// Deleting Secrets (the receiver's key mirrors) is granted only in the
// receiver's namespace, by the Role config/rbac/routes_role.yaml.
// Routes are written only in the receiver's namespace: those verbs are in
// the namespaced Role config/rbac/routes_role.yaml (and the chart's
// routes-rbac.yaml), not in this ClusterRole.
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=hookgate.io,resources=webhookproviders,verbs=get;list;watch

// SetupWithManager registers the controller and its indexes.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	for name, fn := range map[string]client.IndexerFunc{
		secretRefIndex: func(o client.Object) []string {
			if ref := o.(*hookv1.WebhookEndpoint).Spec.SecretRef; ref != nil {
				return []string{ref.Name}
			}
			return nil
		},
		serviceIndex:     func(o client.Object) []string { return []string{o.(*hookv1.WebhookEndpoint).Spec.Target.Service.Name} },
		uidIndex:         func(o client.Object) []string { return []string{string(o.GetUID())} },
		providerRefIndex: indexProviderRef,
	} {
		if err := idx.IndexField(ctx, &hookv1.WebhookEndpoint{}, name, fn); err != nil {
			return fmt.Errorf("indexing WebhookEndpoints by %s: %w", name, err)
		}
	}
	if r.ResyncInterval <= 0 {
		r.ResyncInterval = DefaultResyncInterval
	}
	if r.PurgeGracePeriod <= 0 {
		r.PurgeGracePeriod = 10 * time.Minute
	}
	if r.MaxConcurrentReconciles <= 0 {
		r.MaxConcurrentReconciles = 8
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("webhookendpoint").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		For(&hookv1.WebhookEndpoint{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.endpointsForSecret), builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.mapBy(serviceIndex)), builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		// Routes live in the receiver's namespace, so no owner reference
		// can tie them to the endpoint: labels do, and a route edited or
		// deleted by hand is put back.
		Watches(&networkingv1.Ingress{}, handler.EnqueueRequestsFromMapFunc(endpointFromLabels)).
		// An endpoint with spec.providerRef follows its WebhookProvider.
		Watches(&hookv1.WebhookProvider{}, handler.EnqueueRequestsFromMapFunc(r.endpointsForProvider),
			builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	if r.Changes != nil {
		b = b.WatchesRawSource(source.Channel(r.Changes, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

func endpointFromLabels(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[hookv1.LabelEndpointName] == "" || l[hookv1.LabelEndpointNamespace] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: l[hookv1.LabelEndpointNamespace], Name: l[hookv1.LabelEndpointName]}}}
}

func (r *Reconciler) mapBy(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list hookv1.WebhookEndpointList
		if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetName()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing endpoints failed", "index", index, "object", client.ObjectKeyFromObject(o))
			return nil
		}
		out := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return out
	}
}

// Reconcile follows one skeleton: get, one deferred status patch, delete,
// finalizer, then reconcile() which stops at the first failing step.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	log := ctrl.LoggerFrom(ctx)
	obj := &hookv1.WebhookEndpoint{}
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := obj.DeepCopy()

	if !obj.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, obj)
	}
	if !controllerutil.ContainsFinalizer(obj, hookv1.Finalizer) {
		patch := client.MergeFrom(obj.DeepCopy())
		controllerutil.AddFinalizer(obj, hookv1.Finalizer)
		if err := r.Client.Patch(ctx, obj, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
		before = obj.DeepCopy()
	}

	defer func() {
		obj.Status.ObservedGeneration = obj.Generation
		r.emitTransitions(before, obj)
		if equality.Semantic.DeepEqual(before.Status, obj.Status) {
			return
		}
		// A path, once assigned, never changes: providers are configured
		// with it. The patch that assigns one is guarded by the
		// resourceVersion: the cache may not yet hold an earlier patch
		// that assigned one (the Ingress this reconcile creates brings
		// the endpoint straight back), and a second path written over the
		// first would turn every delivery to the advertised URL into a 404.
		opts := []client.MergeFromOption{}
		if before.Status.WebhookPath == "" {
			opts = append(opts, client.MergeFromWithOptimisticLock{})
		}
		err := r.Client.Status().Patch(ctx, obj, client.MergeFromWithOptions(before, opts...))
		switch {
		case apierrors.IsConflict(err) && before.Status.WebhookPath == "":
			log.V(1).Info("Endpoint changed since it was read; its path is assigned by the next reconcile")
			result, retErr = ctrl.Result{Requeue: true}, nil //nolint:staticcheck // a plain requeue, not an error
			return
		case err != nil && !apierrors.IsNotFound(err):
			retErr = errors.Join(retErr, fmt.Errorf("patching status: %w", err))
		}
		if retErr != nil {
			result = ctrl.Result{}
		}
	}()

	result, err := r.reconcile(ctx, obj)
	if err != nil {
		log.V(1).Info("Reconcile step failed", "error", err.Error())
	}
	return result, err
}

func (r *Reconciler) reconcile(ctx context.Context, obj *hookv1.WebhookEndpoint) (ctrl.Result, error) {
	// A path, once assigned, never changes (see the status patch).
	if obj.Status.WebhookPath == "" {
		p, err := newPath()
		if err != nil {
			return ctrl.Result{}, err
		}
		obj.Status.WebhookPath = p
	}
	// Which provider verifies: a missing or invalid WebhookProvider stops
	// here with Ready=False; its watch brings the endpoint back.
	info, ok, err := r.resolveProvider(ctx, obj)
	if err != nil || !ok {
		return ctrl.Result{}, err
	}
	secretOK, secretNext, err := r.reconcileProviderSecret(ctx, obj, info)
	if err != nil {
		setCondition(obj, hookv1.ConditionSecretReady, metav1.ConditionFalse, hookv1.ReasonProgressing, err.Error())
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonProgressing, err.Error())
		return ctrl.Result{}, err
	}
	targetOK, err := r.checkTarget(ctx, obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	base, err := r.reconcileRoute(ctx, obj)
	if err != nil {
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonRouteFailed, err.Error())
		return ctrl.Result{}, err
	}
	if base == "" {
		base = strings.TrimRight(r.PublicBaseURL, "/")
	}
	obj.Status.URL = ""
	if base != "" {
		obj.Status.URL = base + obj.Status.WebhookPath
	}
	if err := r.reconcileReplay(ctx, obj); err != nil {
		return ctrl.Result{}, err
	}
	queueErr := r.readCounters(ctx, obj)

	routeCond := meta.FindStatusCondition(obj.Status.Conditions, hookv1.ConditionRouteReady)
	switch {
	case !secretOK:
		c := meta.FindStatusCondition(obj.Status.Conditions, hookv1.ConditionSecretReady)
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionFalse, c.Reason, c.Message)
	case !targetOK:
		c := meta.FindStatusCondition(obj.Status.Conditions, hookv1.ConditionTargetReady)
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionFalse, c.Reason, c.Message)
	case routeCond.Status != metav1.ConditionTrue:
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionFalse, routeCond.Reason, routeCond.Message)
	case queueErr != nil:
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonQueueUnavailable,
			fmt.Sprintf("Cannot read the JetStream queue (%v); the receivers are probably down or unreachable", queueErr))
		return ctrl.Result{RequeueAfter: 15 * time.Second}, nil
	case overQuota(obj) != "":
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonQuotaExceeded,
			overQuota(obj)+"; new events are answered 503 with Retry-After until the target drains the queue (spec.suspend, a failing target?) or spec.limits is raised")
	case obj.Spec.Suspend:
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionFalse, hookv1.ReasonSuspended,
			"Receiving and queueing events; delivery is suspended until spec.suspend is false")
	default:
		setCondition(obj, hookv1.ConditionReady, metav1.ConditionTrue, hookv1.ReasonSucceeded,
			fmt.Sprintf("Receiving at %s and delivering to Service %s port %d",
				obj.Status.WebhookPath, obj.Spec.Target.Service.Name, obj.Spec.Target.Service.Port))
	}
	requeue := r.ResyncInterval
	if secretNext > 0 && secretNext < requeue {
		requeue = secretNext
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// reconcileReplay handles a new hookgate.io/replay token: the endpoint's
// dead letters go back into its queue.
func (r *Reconciler) reconcileReplay(ctx context.Context, obj *hookv1.WebhookEndpoint) error {
	token := obj.Annotations[hookv1.AnnotationReplay]
	if token == "" || (obj.Status.Replay != nil && obj.Status.Replay.Token == token) || r.Queue == nil {
		return nil
	}
	// Reconciles of one endpoint never overlap, so the server's copy holds
	// every earlier replay's record.
	done, err := r.replayRecorded(ctx, obj, token)
	if err != nil || done {
		return err
	}
	n, err := r.Queue.Replay(ctx, string(obj.UID))
	if err != nil {
		r.event(obj, corev1.EventTypeWarning, "ReplayFailed", "Replay", "Replaying dead letters failed after %d: %v", n, err)
		return fmt.Errorf("replaying dead letters: %w", err)
	}
	obj.Status.Replay = &hookv1.ReplayStatus{Token: token, Replayed: n, Time: metav1.NewTime(r.now().Truncate(time.Second))}
	r.event(obj, corev1.EventTypeNormal, hookv1.ReasonReplayed, "Replay", "Replayed %d dead-lettered event(s) (%s=%s)", n, hookv1.AnnotationReplay, token)
	return nil
}

// replayRecorded reports whether the server's copy of obj has already
// recorded the replay of token, and copies that record into obj.
func (r *Reconciler) replayRecorded(ctx context.Context, obj *hookv1.WebhookEndpoint, token string) (bool, error) {
	reader := r.APIReader
	if reader == nil {
		reader = r.Client
	}
	var live hookv1.WebhookEndpoint
	if err := reader.Get(ctx, client.ObjectKeyFromObject(obj), &live); err != nil {
		return false, fmt.Errorf("reading the endpoint before replaying: %w", err)
	}
	if live.UID != obj.UID || live.Status.Replay == nil || live.Status.Replay.Token != token {
		return false, nil
	}
	obj.Status.Replay = live.Status.Replay.DeepCopy()
	return true, nil
}

func (r *Reconciler) checkTarget(ctx context.Context, obj *hookv1.WebhookEndpoint) (bool, error) {
	t := obj.Spec.Target.Service
	var svc corev1.Service
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: t.Name}, &svc); err != nil {
		if !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("reading Service %s/%s: %w", obj.Namespace, t.Name, err)
		}
		setCondition(obj, hookv1.ConditionTargetReady, metav1.ConditionFalse, hookv1.ReasonServiceNotFound,
			fmt.Sprintf("Service %q not found in namespace %q; events are queued until it exists", t.Name, obj.Namespace))
		return false, nil
	}
	// An ExternalName Service has no ports of its own: any port is fine.
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		found := false
		for _, p := range svc.Spec.Ports {
			if p.Port == t.Port {
				found = true
				break
			}
		}
		if !found {
			setCondition(obj, hookv1.ConditionTargetReady, metav1.ConditionFalse, hookv1.ReasonServicePortMissing,
				fmt.Sprintf("Service %q exposes no port %d", t.Name, t.Port))
			return false, nil
		}
	}
	setCondition(obj, hookv1.ConditionTargetReady, metav1.ConditionTrue, hookv1.ReasonSucceeded,
		fmt.Sprintf("Service %q port %d", t.Name, t.Port))
	return true, nil
}

// readCounters copies JetStream's counters to status. A queue outage leaves
// the last known values in place (counters only ever come from the queue)
// and is returned, so Ready says the queue is unreachable.
func (r *Reconciler) readCounters(ctx context.Context, obj *hookv1.WebhookEndpoint) error {
	if r.Queue == nil {
		return nil
	}
	uid := string(obj.UID)
	c, err := r.Queue.ReadCounters(ctx, uid)
	if err != nil {
		return err
	}
	obj.Status.Deliveries = &hookv1.DeliveryCounters{
		Received:     c.Received,
		Rejected:     c.Rejected,
		Duplicates:   c.Duplicates,
		Delivered:    c.Delivered,
		Retries:      c.Retries,
		Pending:      c.Pending,
		DeadLettered: c.DeadLettered,
		QueuedBytes:  c.QueuedBytes,
	}
	st, err := r.Queue.ReadState(ctx, uid)
	if err != nil {
		return err
	}
	if st.LastDelivery != nil {
		t := metav1.NewTime(st.LastDelivery.Truncate(time.Second))
		obj.Status.LastDeliveryTime = &t
	}
	if f := st.LastFailure; f != nil {
		lf := &hookv1.DeliveryFailure{Time: metav1.NewTime(f.Time.Truncate(time.Second)), Reason: f.Reason, Message: f.Message,
			DeliveryID: f.DeliveryID, Attempt: int32(f.Attempt)}
		if f.NextAttempt != nil {
			// Rounded up: "next attempt at" should not read as already past.
			t := metav1.NewTime(f.NextAttempt.Add(time.Second - 1).Truncate(time.Second))
			lf.NextAttemptTime = &t
		}
		obj.Status.LastFailure = lf
	}
	return nil
}

// finalize purges the endpoint's queued data, then lets it go.
func (r *Reconciler) finalize(ctx context.Context, obj *hookv1.WebhookEndpoint) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, hookv1.Finalizer) {
		return ctrl.Result{}, nil
	}
	if r.Queue != nil {
		if err := r.Queue.Purge(ctx, string(obj.UID)); err != nil {
			if time.Since(obj.DeletionTimestamp.Time) < r.PurgeGracePeriod {
				return ctrl.Result{}, fmt.Errorf("purging queued data: %w", err)
			}
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, "PurgeFailed", "Delete",
				"Gave up purging queued events after %s: %v", r.PurgeGracePeriod, err)
		}
	}
	if err := r.deleteIngress(ctx, obj); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.deleteKeyMirror(ctx, obj); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.deleteHTTPRoute(ctx, obj); err != nil {
		return ctrl.Result{}, err
	}
	patch := client.MergeFrom(obj.DeepCopy())
	controllerutil.RemoveFinalizer(obj, hookv1.Finalizer)
	if err := r.Client.Patch(ctx, obj, patch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, nil
}

// readyChanged returns the Ready condition of after when its status or
// reason differs from before's (or before had none): what deserves an
// Event; nil otherwise.
func readyChanged(before, after []metav1.Condition) *metav1.Condition {
	was := meta.FindStatusCondition(before, hookv1.ConditionReady)
	now := meta.FindStatusCondition(after, hookv1.ConditionReady)
	if now == nil || (was != nil && was.Status == now.Status && was.Reason == now.Reason) {
		return nil
	}
	return now
}

// emitTransitions records Events for changes a person should see in
// `kubectl describe`: readiness changes and new dead letters.
func (r *Reconciler) emitTransitions(before, after *hookv1.WebhookEndpoint) {
	if r.Recorder == nil {
		return
	}
	var readyEmitted *metav1.Condition
	if now := readyChanged(before.Status.Conditions, after.Status.Conditions); now != nil {
		typ := corev1.EventTypeNormal
		if now.Status != metav1.ConditionTrue && now.Reason != hookv1.ReasonSuspended {
			typ = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(after, nil, typ, now.Reason, "Reconcile", "%s", now.Message)
		readyEmitted = now
	}
	r.emitRouteRefused(before, after, readyEmitted)
	if after.Status.GetDeliveries().Retries > before.Status.GetDeliveries().Retries && failingSinceLastDelivery(after) {
		r.failingMu.Lock()
		if r.failingWarned == nil {
			r.failingWarned = map[types.UID]time.Time{}
		}
		last, warned := r.failingWarned[after.UID]
		if !warned || r.now().Sub(last) >= failingWarnEvery {
			r.failingWarned[after.UID] = r.now()
			f := after.Status.LastFailure
			next := ""
			if f.NextAttemptTime != nil {
				next = fmt.Sprintf(" (attempt %d; next attempt at %s)", f.Attempt, f.NextAttemptTime.UTC().Format(time.RFC3339))
			}
			r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, hookv1.ReasonDeliveryFailing, "Deliver",
				"Deliveries to Service %s keep failing (%d retries so far); last failure %s: %s%s",
				after.Spec.Target.Service.Name, after.Status.GetDeliveries().Retries, f.Reason, f.Message, next)
		}
		r.failingMu.Unlock()
	}
	if d := after.Status.GetDeliveries().DeadLettered - before.Status.GetDeliveries().DeadLettered; d > 0 {
		msg := fmt.Sprintf("%d event(s) dead-lettered", d)
		if f := after.Status.LastFailure; f != nil {
			msg += fmt.Sprintf("; last failure %s: %s", f.Reason, f.Message)
		}
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, hookv1.ReasonDeadLettered, "Deliver", "%s", msg)
	}
}

// overQuota says how the endpoint is at its storage quota, or "". The
// receiver enforces it; this mirrors it on status so `kubectl describe`
// says why events get 503.
func overQuota(obj *hookv1.WebhookEndpoint) string {
	d := obj.Status.GetDeliveries()
	l := obj.Spec.Limits
	switch {
	case d.Pending >= l.GetMaxQueuedEvents():
		return fmt.Sprintf("At its storage quota: %d events waiting for delivery (spec.limits.maxQueuedEvents %d)", d.Pending, l.GetMaxQueuedEvents())
	case d.QueuedBytes >= l.GetMaxQueuedBytes():
		return fmt.Sprintf("At its storage quota: %d bytes waiting for delivery (spec.limits.maxQueuedBytes %d)", d.QueuedBytes, l.GetMaxQueuedBytes())
	}
	return ""
}

func failingSinceLastDelivery(obj *hookv1.WebhookEndpoint) bool {
	f := obj.Status.LastFailure
	if f == nil {
		return false
	}
	return obj.Status.LastDeliveryTime == nil || f.Time.After(obj.Status.LastDeliveryTime.Time)
}

func setCondition(obj *hookv1.WebhookEndpoint, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&obj.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: obj.Generation,
	})
}

// newPath returns 128 random bits: unguessable, so the path itself does not
// invite traffic, while signatures remain the real check.
func newPath() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating path: %w", err)
	}
	return PathPrefix + hex.EncodeToString(b), nil
}
