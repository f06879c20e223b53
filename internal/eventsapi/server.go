package eventsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

// History reads an endpoint's history (internal/history.Reader).
type History interface {
	// List returns a page of the events of the endpoint with UID uid and
	// the given targets; withBodies adds headers, bodies and responses.
	List(ctx context.Context, uid string, targets []string, q eventsv1.Query, withBodies bool) (*eventsv1.EventList, error)
	// Get returns one event with its attempts, or an error wrapping the
	// Server's NotFound.
	Get(ctx context.Context, uid, id string, targets []string, withBodies bool) (*eventsv1.Event, error)
	// Watch calls fn with each new event and attempt until ctx ends or fn
	// returns an error.
	Watch(ctx context.Context, uid string, withBodies bool, fn func(eventsv1.WatchEvent) error) error
}

// DeadLetter is one dead letter as ReplayMatching's match sees it: the
// event's id, its provider's delivery id and name, when it was received,
// and its original request headers and (when asked for) body.
//
// It is queue.DeadLetter, what *queue.Queue hands its matcher.
type DeadLetter = queue.DeadLetter

// DeadLetters moves dead letters back into their queues (*queue.Queue).
type DeadLetters interface {
	// ReplayMatching moves the dead letters under keys that match back
	// into their queues (at most limit), returns the event ids moved
	// (dryRun: found, not moved). withBodies loads each dead letter's body
	// for match.
	ReplayMatching(ctx context.Context, keys []string, match func(*DeadLetter) bool, withBodies bool, limit int, dryRun bool) ([]string, error)
}

// ActionLog records a retry or replay in the history, so that the event
// shows an Attempt with Outcome Retried and By the user.
type ActionLog interface {
	Retried(obj *hookv1.WebhookEndpoint, a *eventsv1.Attempt)
}

// DefaultMaxWatchesPerUser is Server.MaxWatchesPerUser's default.
const DefaultMaxWatchesPerUser = 10

// MaxRequestBytes bounds the body of a retry or replay request.
const MaxRequestBytes = 1 << 20

// Server serves the events API. Its zero value is not usable: set
// Endpoints, Auth, History and DeadLetters. A Server must not be copied
// once it serves.
type Server struct {
	// Endpoints reads WebhookEndpoints, and the WebhookProvider an
	// endpoint's spec.providerRef names (the manager's cache).
	Endpoints client.Reader
	// Auth authenticates and authorizes each request.
	Auth *Authorizer
	// History reads the endpoints' history.
	History History
	// DeadLetters retries and replays dead letters.
	DeadLetters DeadLetters
	// Actions records retries and replays; may be nil.
	Actions ActionLog
	// NotFound is the error History.Get wraps for an unknown event.
	NotFound error
	// BadContinue is the error History.List wraps for a continue token it
	// did not write: the caller's mistake, answered 400.
	BadContinue error
	// Log gets one line per request at V(1): user, verb, path, code.
	Log logr.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// MaxWatchesPerUser bounds each user's concurrent watches
	// (DefaultMaxWatchesPerUser when 0).
	MaxWatchesPerUser int

	mu      sync.Mutex
	watches map[string]int
}

var endpointResource = schema.GroupResource{Group: eventsv1.RBACGroup, Resource: eventsv1.RBACResource}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Handler serves every path under eventsv1.PathPrefix (the request's full
// path, as http.ServeMux passes it to a subtree's handler).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// route is a parsed path: the endpoint and what of it.
type route struct {
	namespace, name string
	// action is "events", "event" (one, id), "retry" or "replay".
	action, id string
}

func parseRoute(u *url.URL) (route, bool) {
	rest, ok := strings.CutPrefix(u.EscapedPath(), eventsv1.PathPrefix)
	if !ok {
		return route{}, false
	}
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		up, err := url.PathUnescape(p)
		if err != nil || up == "" {
			return route{}, false
		}
		parts[i] = up
	}
	if len(parts) < 5 || parts[0] != "namespaces" || parts[2] != "webhookendpoints" {
		return route{}, false
	}
	r := route{namespace: parts[1], name: parts[3], action: parts[4]}
	switch {
	case len(parts) == 5 && (r.action == "events" || r.action == "retry" || r.action == "replay"):
	case len(parts) == 6 && r.action == "events":
		r.action, r.id = "event", parts[5]
	default:
		return route{}, false
	}
	return r, true
}

func (r route) method() string {
	if r.action == "retry" || r.action == "replay" {
		return http.MethodPost
	}
	return http.MethodGet
}

// request is one request being served.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	route route
	user  authenticationv1.UserInfo
	// verb is the RBAC verb the request was authorized for (logged).
	verb string
}

// recorder remembers the status code for the request's log line.
type recorder struct {
	http.ResponseWriter
	code int
}

func (w *recorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's Flush.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	rec := &recorder{ResponseWriter: w}
	req := &request{w: rec, r: r}
	defer func() {
		// Never the query (q may be a secret being searched for), never a
		// header or body.
		s.Log.V(1).Info("events API request", "user", req.user.Username, "verb", req.verb,
			"method", r.Method, "path", r.URL.Path, "code", rec.code, "duration", s.now().Sub(start).String())
	}()

	rt, ok := parseRoute(r.URL)
	if !ok {
		writeStatus(rec, metav1.Status{Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
			Message: "the server could not find the requested resource"})
		return
	}
	req.route = rt
	if r.Method != rt.method() {
		rec.Header().Set("Allow", rt.method())
		writeStatus(rec, metav1.Status{Code: http.StatusMethodNotAllowed, Reason: metav1.StatusReasonMethodNotAllowed,
			Message: fmt.Sprintf("method %s is not allowed on %s: use %s", r.Method, r.URL.Path, rt.method())})
		return
	}
	user, err := s.Auth.Authenticate(r.Context(), r)
	switch {
	case errors.Is(err, ErrNoToken):
		rec.Header().Set("WWW-Authenticate", `Bearer realm="hookgate events API"`)
		writeError(rec, apierrors.NewUnauthorized("the events API needs a bearer token: send \"Authorization: Bearer <token>\", or \""+
			eventsv1.AuthorizationHeader+": Bearer <token>\" through the API server's service proxy, which drops Authorization"))
		return
	case errors.Is(err, ErrUnauthenticated):
		rec.Header().Set("WWW-Authenticate", `Bearer realm="hookgate events API", error="invalid_token"`)
		writeError(rec, apierrors.NewUnauthorized("the bearer token was not accepted by the API server (TokenReview): it is unknown, expired or not meant for this API"))
		return
	case err != nil:
		s.Log.Error(err, "authenticating an events API request", "path", r.URL.Path)
		writeError(rec, apierrors.NewServiceUnavailable("the bearer token could not be reviewed; try again"))
		return
	}
	req.user = user

	switch rt.action {
	case "events":
		s.list(req)
	case "event":
		s.get(req)
	case "retry":
		s.retry(req)
	case "replay":
		s.replay(req)
	}
}

// authorize checks verb on subresource and answers 403 (or 500) when not
// allowed; it reports whether the request may go on.
func (s *Server) authorize(req *request, subresource, verb string) bool {
	ok, err := s.allowed(req, subresource, verb)
	if err != nil {
		s.internalError(req, "authorizing the request", err)
		return false
	}
	if !ok {
		s.forbidden(req, subresource, verb)
		return false
	}
	req.verb = verb
	return true
}

// mayReadBodies reports whether the caller may get the endpoint's events
// (their headers, bodies and the targets' answers). A text search needs
// that right, since a match would tell what the bodies hold: without it
// the request is answered 403 and ok is false.
func (s *Server) mayReadBodies(req *request, text string) (withBodies, ok bool) {
	withBodies, err := s.allowed(req, eventsv1.SubresourceEvents, "get")
	if err != nil {
		s.internalError(req, "authorizing the request", err)
		return false, false
	}
	if text != "" && !withBodies {
		s.forbidden(req, eventsv1.SubresourceEvents, "get")
		return false, false
	}
	return withBodies, true
}

func (s *Server) allowed(req *request, subresource, verb string) (bool, error) {
	return s.Auth.Allowed(req.r.Context(), req.user, req.route.namespace, req.route.name, subresource, verb)
}

func (s *Server) forbidden(req *request, subresource, verb string) {
	writeError(req.w, apierrors.NewForbidden(endpointResource, req.route.name, fmt.Errorf(
		"User %q cannot %s resource %q in API group %q in the namespace %q",
		req.user.Username, verb, eventsv1.RBACResource+"/"+subresource, eventsv1.RBACGroup, req.route.namespace)))
}

// endpoint reads the request's WebhookEndpoint, answering 404 or 500 when
// it cannot; nil then.
func (s *Server) endpoint(req *request) *hookv1.WebhookEndpoint {
	var obj hookv1.WebhookEndpoint
	err := s.Endpoints.Get(req.r.Context(), types.NamespacedName{Namespace: req.route.namespace, Name: req.route.name}, &obj)
	if apierrors.IsNotFound(err) {
		writeError(req.w, apierrors.NewNotFound(endpointResource, req.route.name))
		return nil
	}
	if err != nil {
		s.internalError(req, "reading the WebhookEndpoint", err)
		return nil
	}
	return &obj
}

func targetNames(obj *hookv1.WebhookEndpoint) []string {
	var names []string
	for _, t := range obj.Spec.DeliveryTargets() {
		names = append(names, t.Name)
	}
	return names
}

func (s *Server) internalError(req *request, what string, err error) {
	if req.r.Context().Err() != nil {
		// The client went away: nobody reads an answer. 499 (nginx's
		// "client closed request") is only for the log line.
		if rec, ok := req.w.(*recorder); ok && rec.code == 0 {
			rec.code = 499
		}
		return
	}
	s.Log.Error(err, what, "path", req.r.URL.Path, "user", req.user.Username)
	writeError(req.w, apierrors.NewInternalError(fmt.Errorf("%s: %w", what, err)))
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeError(w, apierrors.NewBadRequest(fmt.Sprintf(format, args...)))
}

func writeError(w http.ResponseWriter, err *apierrors.StatusError) {
	writeStatus(w, err.ErrStatus)
}

// writeStatus writes st as the API server does: a v1 Status, Failure.
func writeStatus(w http.ResponseWriter, st metav1.Status) {
	st.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}
	st.Status = metav1.StatusFailure
	if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(st.Details.RetryAfterSeconds)))
	}
	writeJSON(w, int(st.Code), st)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
			Status: metav1.StatusFailure, Code: int32(code), Reason: metav1.StatusReasonInternalError,
			Message: "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func (s *Server) list(req *request) {
	q, watch, err := parseQuery(req.r.URL.Query(), s.now())
	if err != nil {
		badRequest(req.w, "%v", err)
		return
	}
	verb := "list"
	if watch {
		verb = "watch"
	}
	if !s.authorize(req, eventsv1.SubresourceEvents, verb) {
		return
	}
	withBodies, ok := s.mayReadBodies(req, q.Text)
	if !ok {
		return
	}
	obj := s.endpoint(req)
	if obj == nil {
		return
	}
	if watch {
		s.watch(req, obj, q, withBodies)
		return
	}
	l, err := s.History.List(req.r.Context(), string(obj.UID), targetNames(obj), q, withBodies)
	if err != nil && s.BadContinue != nil && errors.Is(err, s.BadContinue) {
		badRequest(req.w, "parameter %s: %v", eventsv1.ParamContinue, err)
		return
	}
	if err != nil {
		s.internalError(req, "reading the history", err)
		return
	}
	if l == nil {
		l = &eventsv1.EventList{}
	}
	if l.Items == nil {
		l.Items = []eventsv1.Event{}
	}
	if !withBodies {
		// A copy: the history may share its items.
		l.Items = append(make([]eventsv1.Event, 0, len(l.Items)), l.Items...)
		for i := range l.Items {
			l.Items[i].Hide()
		}
	}
	writeJSON(req.w, http.StatusOK, l)
}

func (s *Server) get(req *request) {
	id := req.route.id
	if err := checkEventID(id); err != nil {
		badRequest(req.w, "event id: %v", err)
		return
	}
	withBodies, err := s.allowed(req, eventsv1.SubresourceEvents, "get")
	if err != nil {
		s.internalError(req, "authorizing the request", err)
		return
	}
	req.verb = "get"
	if !withBodies {
		// list is enough for the event without its bodies.
		ok, err := s.allowed(req, eventsv1.SubresourceEvents, "list")
		if err != nil {
			s.internalError(req, "authorizing the request", err)
			return
		}
		if !ok {
			s.forbidden(req, eventsv1.SubresourceEvents, "get")
			return
		}
		req.verb = "list"
	}
	obj := s.endpoint(req)
	if obj == nil {
		return
	}
	ev, err := s.History.Get(req.r.Context(), string(obj.UID), id, targetNames(obj), withBodies)
	if (err == nil && ev == nil) || (err != nil && s.NotFound != nil && errors.Is(err, s.NotFound)) {
		msg := fmt.Sprintf("event %q not found in the history of webhookendpoint %s/%s", id, obj.Namespace, obj.Name)
		if obj.Spec.History.Disabled {
			msg += " (spec.history.disabled is set: no history is kept)"
		}
		writeStatus(req.w, metav1.Status{Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound, Message: msg,
			Details: &metav1.StatusDetails{Name: id, Kind: "event"}})
		return
	}
	if err != nil {
		s.internalError(req, "reading the history", err)
		return
	}
	if !withBodies {
		ev.Hide()
	}
	writeJSON(req.w, http.StatusOK, ev)
}
