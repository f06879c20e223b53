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
	"github.com/hookgate/hookgate/internal/queue"
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
	// History keeps each endpoint's history within spec.history.maxEvents
	// and removes it with the endpoint; nil: no history.
	History HistoryKeeper

	// failingWarned: when each endpoint's last DeliveryFailing Warning
	// went out; trimmed: when its history was last trimmed.
	failingWarned, trimmed everyEndpoint
}

// everyEndpoint tells, per endpoint, whether something done at most once
// per interval is due again; safe for concurrent use.
type everyEndpoint struct {
	mu   sync.Mutex
	last map[types.UID]time.Time
}

// due reports whether every has passed since the endpoint's last time
// (or it has none), and if so makes now its last time.
func (e *everyEndpoint) due(uid types.UID, now time.Time, every time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if last, ok := e.last[uid]; ok && now.Sub(last) < every {
		return false
	}
	if e.last == nil {
		e.last = map[types.UID]time.Time{}
	}
	e.last[uid] = now
	return true
}

// forget drops a deleted endpoint.
func (e *everyEndpoint) forget(uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.last, uid)
}

// HistoryKeeper trims and purges endpoints' histories (internal/history).
type HistoryKeeper interface {
	// Trim keeps the newest keep requests of the endpoint.
	Trim(ctx context.Context, uid string, keep int64) error
	// Purge removes the endpoint's history.
	Purge(ctx context.Context, uid string) error
}

// trimEvery is how often an endpoint's history is cut to maxEvents.
const trimEvery = time.Minute

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
		serviceIndex: func(o client.Object) []string {
			var names []string
			for _, t := range o.(*hookv1.WebhookEndpoint).Spec.DeliveryTargets() {
				names = append(names, t.Service.Name)
			}
			return names
		},
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
	if errs := ValidateExpressions(&obj.Spec); len(errs) > 0 && targetOK {
		// The receiver will not load the endpoint: say why where the
		// tenant looks.
		setCondition(obj, hookv1.ConditionTargetReady, metav1.ConditionFalse, hookv1.ReasonInvalidExpression,
			errs.ToAggregate().Error()+"; the receiver answers 503 until it is fixed")
		targetOK = false
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
	queueErr := r.purgeRemovedTargets(ctx, obj)
	if queueErr == nil {
		queueErr = r.readCounters(ctx, obj)
	}
	r.trimHistory(ctx, obj)

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
			fmt.Sprintf("Receiving at %s and delivering to %s", obj.Status.WebhookPath, describeTargets(obj)))
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
	// The endpoint's own dead letters (its only target's, or from before
	// it had several), then each of several targets'.
	keys := []string{string(obj.UID)}
	for _, tq := range targetQueues(obj) {
		if tq.key != keys[0] {
			keys = append(keys, tq.keys()...)
		}
	}
	var n int64
	for _, k := range keys {
		var m int64
		m, err = r.Queue.Replay(ctx, k)
		n += m
		if err != nil {
			break
		}
	}
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
	for _, tg := range obj.Spec.DeliveryTargets() {
		t := tg.Service
		var svc corev1.Service
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: t.Name}, &svc); err != nil {
			if !apierrors.IsNotFound(err) {
				return false, fmt.Errorf("reading Service %s/%s: %w", obj.Namespace, t.Name, err)
			}
			setCondition(obj, hookv1.ConditionTargetReady, metav1.ConditionFalse, hookv1.ReasonServiceNotFound,
				fmt.Sprintf("Service %q not found in namespace %q%s; events are queued until it exists", t.Name, obj.Namespace, ofTarget(obj, tg)))
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
					fmt.Sprintf("Service %q exposes no port %d%s", t.Name, t.Port, ofTarget(obj, tg)))
				return false, nil
			}
		}
	}
	setCondition(obj, hookv1.ConditionTargetReady, metav1.ConditionTrue, hookv1.ReasonSucceeded, describeTargets(obj))
	return true, nil
}

// ofTarget names target t in a message, when the endpoint has several.
func ofTarget(obj *hookv1.WebhookEndpoint, t hookv1.TargetSpec) string {
	if obj.Spec.Target != nil {
		return ""
	}
	return fmt.Sprintf(" (target %q)", t.GetName())
}

// describeTargets says where the endpoint delivers, for conditions.
func describeTargets(obj *hookv1.WebhookEndpoint) string {
	ts := obj.Spec.DeliveryTargets()
	if len(ts) == 1 {
		return fmt.Sprintf("Service %q port %d", ts[0].Service.Name, ts[0].Service.Port)
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s (Service %q port %d)", t.Name, t.Service.Name, t.Service.Port)
	}
	return fmt.Sprintf("%d targets: %s", len(ts), strings.Join(parts, ", "))
}

// targetQueue is one target, its queue key (queue.TargetKey) and the
// number of partitions of that queue (ordering by key).
type targetQueue struct {
	name, service, key string
	parts              int
}

// keys are the target's queues: its own and its partitions'.
func (tq targetQueue) keys() []string {
	keys := []string{tq.key}
	for p := range tq.parts {
		keys = append(keys, queue.PartitionKey(tq.key, p))
	}
	return keys
}

// targetQueues are the endpoint's targets with their queue keys: its only
// target's is the endpoint's UID; each of several has its own.
func targetQueues(obj *hookv1.WebhookEndpoint) []targetQueue {
	ts := obj.Spec.DeliveryTargets()
	out := make([]targetQueue, len(ts))
	for i, t := range ts {
		key := string(obj.UID)
		parts := t.Ordering.GetPartitions()
		if len(ts) > 1 || parts > 0 {
			key = queue.TargetKey(key, t.Name)
		}
		out[i] = targetQueue{name: t.Name, service: t.Service.Name, key: key, parts: parts}
	}
	return out
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
	total := &hookv1.DeliveryCounters{
		Received:     c.Received,
		Rejected:     c.Rejected,
		Duplicates:   c.Duplicates,
		Delivered:    c.Delivered,
		Retries:      c.Retries,
		Pending:      c.Pending,
		DeadLettered: c.DeadLettered,
		Dropped:      c.Dropped,
		QueuedBytes:  c.QueuedBytes,
	}
	st, err := r.Queue.ReadState(ctx, uid)
	if err != nil {
		return err
	}
	tqs := targetQueues(obj)
	fanout := len(tqs) > 1 || (len(tqs) == 1 && tqs[0].key != uid)

	targets := make([]hookv1.TargetStatus, 0, len(tqs))
	var sum queue.Counters // the targets', when they have their own queues
	for _, tq := range tqs {
		ts := hookv1.TargetStatus{Name: tq.name, Service: tq.service}
		tc, tst := c, st
		if fanout {
			if tc, tst, err = r.readTargetQueues(ctx, tq); err != nil {
				return err
			}
			sum.Add(tc)
		}
		ts.Deliveries = &hookv1.TargetCounters{Received: tc.Received, Delivered: tc.Delivered, Retries: tc.Retries,
			Pending: tc.Pending, DeadLettered: tc.DeadLettered, Dropped: tc.Dropped, QueuedBytes: tc.QueuedBytes}
		ts.LastDeliveryTime, ts.LastFailure = deliveryStatus(tst)
		ts.Partitions = int32(tq.parts)
		circuit, _, err := r.Queue.TargetState(ctx, tq.key)
		if err != nil {
			return err
		}
		applyCircuit(&ts, circuit, r.now())
		targets = append(targets, ts)
		if t := ts.LastDeliveryTime; t != nil && (obj.Status.LastDeliveryTime == nil || t.After(obj.Status.LastDeliveryTime.Time)) {
			obj.Status.LastDeliveryTime = t
		}
		if f := ts.LastFailure; f != nil && (obj.Status.LastFailure == nil || f.Time.After(obj.Status.LastFailure.Time.Time)) {
			obj.Status.LastFailure = f
		}
	}
	if fanout {
		// The endpoint's own queue holds events not yet copied to the
		// targets; its "delivered" is the copied ones. What was delivered,
		// retried, dead-lettered and dropped is the targets'.
		total.Delivered, total.Retries, total.DeadLettered, total.Dropped = sum.Delivered, sum.Retries, sum.DeadLettered, sum.Dropped
		total.Pending += sum.Pending
		total.QueuedBytes += sum.QueuedBytes
	}
	obj.Status.Deliveries = total
	obj.Status.Targets = targets
	return nil
}

// readTargetQueues sums the counters of a target's queues (its own and its
// partitions') and takes their latest delivery and failure.
func (r *Reconciler) readTargetQueues(ctx context.Context, tq targetQueue) (queue.Counters, queue.DeliveryState, error) {
	var sum queue.Counters
	var st queue.DeliveryState
	for _, k := range tq.keys() {
		c, err := r.Queue.ReadCounters(ctx, k)
		if err != nil {
			return sum, st, err
		}
		sum.Add(c)
		s, err := r.Queue.ReadState(ctx, k)
		if err != nil {
			return sum, st, err
		}
		if s.LastDelivery != nil && (st.LastDelivery == nil || s.LastDelivery.After(*st.LastDelivery)) {
			st.LastDelivery = s.LastDelivery
		}
		if s.LastFailure != nil && (st.LastFailure == nil || s.LastFailure.Time.After(st.LastFailure.Time)) {
			st.LastFailure = s.LastFailure
		}
	}
	return sum, st, nil
}

// deliveryStatus is a queue's last delivery and failure as status shows them.
func deliveryStatus(st queue.DeliveryState) (*metav1.Time, *hookv1.DeliveryFailure) {
	var last *metav1.Time
	if st.LastDelivery != nil {
		t := metav1.NewTime(st.LastDelivery.Truncate(time.Second))
		last = &t
	}
	f := st.LastFailure
	if f == nil {
		return last, nil
	}
	lf := &hookv1.DeliveryFailure{Time: metav1.NewTime(f.Time.Truncate(time.Second)), Reason: f.Reason, Message: f.Message,
		DeliveryID: f.DeliveryID, EventID: f.EventID, Attempt: int32(f.Attempt)}
	if f.NextAttempt != nil {
		// Rounded up: "next attempt at" should not read as already past.
		t := metav1.NewTime(f.NextAttempt.Add(time.Second - 1).Truncate(time.Second))
		lf.NextAttemptTime = &t
	}
	return last, lf
}

// applyCircuit copies a target's shared state to its status.
func applyCircuit(ts *hookv1.TargetStatus, st queue.TargetState, now time.Time) {
	ts.Circuit = hookv1.CircuitClosed
	switch st.Circuit {
	case queue.CircuitOpen:
		ts.Circuit = hookv1.CircuitOpen
		t := metav1.NewTime(st.ProbeAt.Add(time.Second - 1).Truncate(time.Second))
		ts.NextProbeTime = &t
	case queue.CircuitHalfOpen:
		ts.Circuit = hookv1.CircuitHalfOpen
	}
	if st.Circuit != "" {
		ts.CircuitReason = st.Reason
	}
	if !st.Since.IsZero() {
		t := metav1.NewTime(st.Since.Truncate(time.Second))
		ts.CircuitChangedTime = &t
	}
	if st.ThrottledUntil.After(now) {
		t := metav1.NewTime(st.ThrottledUntil.Add(time.Second - 1).Truncate(time.Second))
		ts.ThrottledUntil = &t
	}
}

// finalize purges the endpoint's queued data, then lets it go.
func (r *Reconciler) finalize(ctx context.Context, obj *hookv1.WebhookEndpoint) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, hookv1.Finalizer) {
		return ctrl.Result{}, nil
	}
	if r.Queue != nil {
		if err := r.purgeQueues(ctx, obj, allQueueKeys(obj)); err != nil {
			if time.Since(obj.DeletionTimestamp.Time) < r.PurgeGracePeriod {
				return ctrl.Result{}, fmt.Errorf("purging queued data: %w", err)
			}
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, "PurgeFailed", "Delete",
				"Gave up purging queued events after %s: %v", r.PurgeGracePeriod, err)
		}
	}
	if r.History != nil {
		if err := r.History.Purge(ctx, string(obj.UID)); err != nil {
			if time.Since(obj.DeletionTimestamp.Time) < r.PurgeGracePeriod {
				return ctrl.Result{}, fmt.Errorf("purging the event history: %w", err)
			}
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, "PurgeFailed", "Delete",
				"Gave up purging the event history after %s (it expires with its retention): %v", r.PurgeGracePeriod, err)
		}
	}
	r.trimmed.forget(obj.UID)
	r.failingWarned.forget(obj.UID)
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

// allQueueKeys is every queue key the endpoint may have used.
func allQueueKeys(obj *hookv1.WebhookEndpoint) []string { return queue.EndpointKeys(obj) }

func (r *Reconciler) purgeQueues(ctx context.Context, obj *hookv1.WebhookEndpoint, keys []string) error {
	for _, k := range keys {
		if err := r.Queue.Purge(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// purgeRemovedTargets discards what targets no longer in the spec had
// queued: nothing would ever deliver it.
func (r *Reconciler) purgeRemovedTargets(ctx context.Context, obj *hookv1.WebhookEndpoint) error {
	if r.Queue == nil {
		return nil
	}
	want := map[string]bool{}
	for _, t := range obj.Spec.DeliveryTargets() {
		want[t.Name] = true
	}
	for _, t := range obj.Status.Targets {
		if want[t.Name] {
			continue
		}
		tq := targetQueue{key: queue.TargetKey(string(obj.UID), t.Name), parts: int(t.Partitions)}
		// What is queued now, not what status last said.
		pending := t.Deliveries.GetPending()
		if c, _, err := r.readTargetQueues(ctx, tq); err == nil {
			pending = c.Pending
		}
		if err := r.purgeQueues(ctx, obj, tq.keys()); err != nil {
			return fmt.Errorf("discarding the queue of removed target %q: %w", t.Name, err)
		}
		typ := corev1.EventTypeNormal
		if pending > 0 {
			typ = corev1.EventTypeWarning
		}
		r.event(obj, typ, hookv1.ReasonTargetRemoved, "Reconcile",
			"Target %q was removed from the spec; %d event(s) still waiting for it were discarded", t.Name, pending)
	}
	return nil
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
	r.emitCircuits(before, after)
	if after.Status.GetDeliveries().Retries > before.Status.GetDeliveries().Retries && failingSinceLastDelivery(after) {
		if r.failingWarned.due(after.UID, r.now(), failingWarnEvery) {
			f := after.Status.LastFailure
			next := ""
			if f.NextAttemptTime != nil {
				next = fmt.Sprintf(" (attempt %d; next attempt at %s)", f.Attempt, f.NextAttemptTime.UTC().Format(time.RFC3339))
			}
			r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, hookv1.ReasonDeliveryFailing, "Deliver",
				"Deliveries to %s keep failing (%d retries so far); last failure %s: %s%s%s",
				describeTargets(after), after.Status.GetDeliveries().Retries, f.Reason, f.Message, next, inspectHint(after, f))
		}
	}
	if d := after.Status.GetDeliveries().DeadLettered - before.Status.GetDeliveries().DeadLettered; d > 0 {
		msg := fmt.Sprintf("%d event(s) dead-lettered", d)
		if f := after.Status.LastFailure; f != nil {
			msg += fmt.Sprintf("; last failure %s: %s%s", f.Reason, f.Message, inspectHint(after, f))
		}
		msg += fmt.Sprintf("; list them: kubectl hookgate events -n %s %s --status DeadLettered", after.Namespace, after.Name)
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, hookv1.ReasonDeadLettered, "Deliver", "%s", msg)
	}
}

// trimHistory cuts the endpoint's history to spec.history.maxEvents, at
// most once per trimEvery; retention is kept by the records' own TTLs. A
// failure is logged and tried again next time: it only lets the history
// grow a while longer, within the stream's byte bound.
func (r *Reconciler) trimHistory(ctx context.Context, obj *hookv1.WebhookEndpoint) {
	if r.History == nil {
		return
	}
	if !r.trimmed.due(obj.UID, r.now(), trimEvery) {
		return
	}
	if err := r.History.Trim(ctx, string(obj.UID), obj.Spec.History.GetMaxEvents()); err != nil {
		ctrl.LoggerFrom(ctx).Info("Trimming the event history failed", "error", err.Error())
	}
}

// inspectHint is the command that shows a failed event with what the
// target answered to each attempt.
func inspectHint(obj *hookv1.WebhookEndpoint, f *hookv1.DeliveryFailure) string {
	if f.EventID == "" || obj.Spec.History.Disabled {
		return ""
	}
	return fmt.Sprintf("; inspect it: kubectl hookgate show -n %s %s %s", obj.Namespace, obj.Name, f.EventID)
}

// emitCircuits records an Event when a target's circuit opens or closes.
func (r *Reconciler) emitCircuits(before, after *hookv1.WebhookEndpoint) {
	was := map[string]hookv1.CircuitState{}
	for _, t := range before.Status.Targets {
		was[t.Name] = t.Circuit
	}
	for _, t := range after.Status.Targets {
		prev, known := was[t.Name]
		switch {
		case t.Circuit == hookv1.CircuitOpen && prev != hookv1.CircuitOpen && prev != hookv1.CircuitHalfOpen:
			probe := ""
			if t.NextProbeTime != nil {
				probe = " until a probe at " + t.NextProbeTime.UTC().Format(time.RFC3339)
			}
			r.event(after, corev1.EventTypeWarning, hookv1.ReasonCircuitOpened, "Deliver",
				"Circuit of target %q (Service %s) opened after failures (%s): its events are held, using no attempts,%s", t.Name, t.Service, t.CircuitReason, probe)
		case t.Circuit == hookv1.CircuitClosed && known && (prev == hookv1.CircuitOpen || prev == hookv1.CircuitHalfOpen):
			r.event(after, corev1.EventTypeNormal, hookv1.ReasonCircuitClosed, "Deliver",
				"Circuit of target %q (Service %s) closed: a probe succeeded, delivering again", t.Name, t.Service)
		}
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
