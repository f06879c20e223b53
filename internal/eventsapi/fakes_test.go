package eventsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

var errNotFound = errors.New("history: not found")

func testScheme(t testing.TB) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := hookv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeHistory is an in-memory History that records its calls.
type fakeHistory struct {
	mu sync.Mutex
	// list is what List answers; events what Get finds (by id).
	list   eventsv1.EventList
	events map[string]eventsv1.Event
	err    error

	listCalls []listCall
	getCalls  []listCall

	// feed is what Watch sends; watchDone is closed when a Watch returns,
	// with its error in watchErr.
	feed      chan eventsv1.WatchEvent
	watchDone chan struct{}
	watchErr  error
	watchBody bool
	doneOnce  sync.Once
}

type listCall struct {
	uid, id    string
	targets    []string
	q          eventsv1.Query
	withBodies bool
}

func (h *fakeHistory) List(_ context.Context, uid string, targets []string, q eventsv1.Query, withBodies bool) (*eventsv1.EventList, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.listCalls = append(h.listCalls, listCall{uid: uid, targets: targets, q: q, withBodies: withBodies})
	if h.err != nil {
		return nil, h.err
	}
	// A copy, the bodies included whatever withBodies says: the server
	// must not pass on what the caller may not read.
	l := h.list
	l.Items = append([]eventsv1.Event(nil), h.list.Items...)
	return &l, nil
}

func (h *fakeHistory) Get(_ context.Context, uid, id string, targets []string, withBodies bool) (*eventsv1.Event, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.getCalls = append(h.getCalls, listCall{uid: uid, id: id, targets: targets, withBodies: withBodies})
	ev, ok := h.events[id]
	if !ok {
		return nil, fmt.Errorf("reading event %s: %w", id, errNotFound)
	}
	return &ev, nil
}

func (h *fakeHistory) Watch(ctx context.Context, uid string, withBodies bool, fn func(eventsv1.WatchEvent) error) (err error) {
	h.mu.Lock()
	h.watchBody = withBodies
	feed, done := h.feed, h.watchDone
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.watchErr = err
		h.mu.Unlock()
		h.doneOnce.Do(func() { close(done) }) // the first watch to end
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case we := <-feed:
			if err := fn(we); err != nil {
				return err
			}
		}
	}
}

// fakeDeadLetters keeps dead letters per queue key.
type fakeDeadLetters struct {
	mu    sync.Mutex
	byKey map[string][]DeadLetter
	calls []replayCall
}

type replayCall struct {
	keys       []string
	withBodies bool
	limit      int
	dryRun     bool
}

func (d *fakeDeadLetters) ReplayMatching(_ context.Context, keys []string, match func(*DeadLetter) bool, withBodies bool, limit int, dryRun bool) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, replayCall{keys: keys, withBodies: withBodies, limit: limit, dryRun: dryRun})
	var ids []string
	for _, k := range keys {
		var keep []DeadLetter
		for _, dl := range d.byKey[k] {
			seen := dl
			if !withBodies {
				seen.Body = nil
			}
			if len(ids) < limit && match(&seen) {
				ids = append(ids, dl.EventID)
				if !dryRun {
					continue
				}
			}
			keep = append(keep, dl)
		}
		d.byKey[k] = keep
	}
	return ids, nil
}

func (d *fakeDeadLetters) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, l := range d.byKey {
		n += len(l)
	}
	return n
}

// fakeActions records ActionLog calls.
type fakeActions struct {
	mu       sync.Mutex
	attempts []eventsv1.Attempt
	objs     []string
}

func (a *fakeActions) Retried(obj *hookv1.WebhookEndpoint, at *eventsv1.Attempt) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attempts = append(a.attempts, *at)
	a.objs = append(a.objs, obj.Namespace+"/"+obj.Name)
}

func (a *fakeActions) list() []eventsv1.Attempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]eventsv1.Attempt(nil), a.attempts...)
}

// fakeAPI answers TokenReviews and SubjectAccessReviews from tables, as
// the API server would, and counts them.
type fakeAPI struct {
	mu sync.Mutex
	// users by token; perms by user name: "ns/subresource/verb".
	users        map[string]authenticationv1.UserInfo
	perms        map[string]map[string]bool
	tokenReviews int
	sars         []authorizationv1.SubjectAccessReviewSpec
	audiences    []string // what the last TokenReview asked for
	// answerAudiences is the status.audiences a review answers with.
	answerAudiences []string
}

func (f *fakeAPI) create(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch o := obj.(type) {
	case *authenticationv1.TokenReview:
		f.tokenReviews++
		f.audiences = o.Spec.Audiences
		if u, ok := f.users[o.Spec.Token]; ok {
			o.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: u, Audiences: f.answerAudiences}
		} else {
			o.Status = authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}
		}
		return nil
	case *authorizationv1.SubjectAccessReview:
		f.sars = append(f.sars, o.Spec)
		a := o.Spec.ResourceAttributes
		if a.Group != eventsv1.RBACGroup || a.Resource != eventsv1.RBACResource {
			return nil
		}
		o.Status.Allowed = f.perms[o.Spec.User][a.Namespace+"/"+a.Subresource+"/"+a.Verb]
		return nil
	}
	return fmt.Errorf("unexpected create of %T", obj)
}

func (f *fakeAPI) counts() (tokenReviews, sars int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenReviews, len(f.sars)
}

// Users of the handler tests, all in namespace team-a.
const (
	tokAlice = "tok-alice" // everything
	tokBob   = "tok-bob"   // list events only
	tokCarol = "tok-carol" // list events and create replay (no get)
	tokDave  = "tok-dave"  // nothing
	nsA      = "team-a"
)

func perms(ps ...string) map[string]bool {
	m := map[string]bool{}
	for _, p := range ps {
		m[nsA+"/"+p] = true
	}
	return m
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{
		users: map[string]authenticationv1.UserInfo{
			tokAlice: {Username: "alice", UID: "u-alice", Groups: []string{"devs", "system:authenticated"}, Extra: map[string]authenticationv1.ExtraValue{"scopes": {"a"}}},
			tokBob:   {Username: "bob", Groups: []string{"system:authenticated"}},
			tokCarol: {Username: "carol", Groups: []string{"system:authenticated"}},
			tokDave:  {Username: "dave", Groups: []string{"system:authenticated"}},
		},
		perms: map[string]map[string]bool{
			"alice": perms("events/list", "events/get", "events/watch", "replay/create"),
			"bob":   perms("events/list"),
			"carol": perms("events/list", "events/watch", "replay/create"),
		},
	}
}

func (f *fakeAPI) client(t testing.TB) client.WithWatch {
	return interceptor.NewClient(fake.NewClientBuilder().WithScheme(testScheme(t)).Build(), interceptor.Funcs{Create: f.create})
}

// The handler tests' endpoints: ep (github, one target), fan (stripe,
// two targets, one of them partitioned).
func testEndpoints() []client.Object {
	ep := &hookv1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "ep", UID: types.UID("uid-ep")},
		Spec: hookv1.WebhookEndpointSpec{Provider: hookv1.ProviderGitHub,
			Target: &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "svc", Port: 80}}},
	}
	fan := &hookv1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "fan", UID: types.UID("uid-fan")},
		Spec: hookv1.WebhookEndpointSpec{Provider: "stripe", Targets: []hookv1.TargetSpec{
			{Name: "a", Service: hookv1.ServiceTarget{Name: "svc-a", Port: 80}},
			{Name: "b", Service: hookv1.ServiceTarget{Name: "svc-b", Port: 80}, Ordering: &hookv1.OrderingSpec{Key: "event.type", Partitions: ptr.To[int32](2)}},
		}},
	}
	return []client.Object{ep, fan}
}

// harness is a Server with fakes around it.
type harness struct {
	t       *testing.T
	srv     *Server
	api     *fakeAPI
	hist    *fakeHistory
	dls     *fakeDeadLetters
	actions *fakeActions
	now     time.Time
}

var testNow = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

func newHarness(t *testing.T) *harness {
	t.Helper()
	api := newFakeAPI()
	h := &harness{
		t: t, api: api, now: testNow,
		hist:    &fakeHistory{events: map[string]eventsv1.Event{}},
		dls:     &fakeDeadLetters{byKey: map[string][]DeadLetter{}},
		actions: &fakeActions{},
	}
	reader := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(testEndpoints()...).Build()
	h.srv = &Server{
		Endpoints:   reader,
		Auth:        NewAuthorizer(api.client(t), AuthorizerOptions{}),
		History:     h.hist,
		DeadLetters: h.dls,
		Actions:     h.actions,
		NotFound:    errNotFound,
		Now:         func() time.Time { return h.now },
	}
	return h
}

// do serves one request and returns the answer.
func (h *harness) do(method, path, token, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(w, req)
	return w
}

func epPath(ns, name, rest string) string { return eventsv1.EndpointPath(ns, name) + rest }

// status decodes an error answer and checks its code and Status envelope.
func status(t *testing.T, w *httptest.ResponseRecorder, code int) metav1.Status {
	t.Helper()
	return statusOf(t, w.Code, w.Header(), w.Body.Bytes(), code)
}

func statusOf(t *testing.T, gotCode int, h http.Header, body []byte, code int) metav1.Status {
	t.Helper()
	if gotCode != code {
		t.Fatalf("code %d, want %d: %s", gotCode, code, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("not a Status: %v: %s", err, body)
	}
	if st.Kind != "Status" || st.APIVersion != "v1" || st.Status != metav1.StatusFailure || int(st.Code) != code {
		t.Fatalf("bad Status envelope: %+v", st)
	}
	return st
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("code %d, want 200: %s", w.Code, w.Body)
	}
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %T: %v: %s", v, err, w.Body)
	}
	return v
}

func forbiddenMessage(user, verb, sub, ns, name string) string {
	return fmt.Sprintf(`webhookendpoints.hookgate.io %q is forbidden: User %q cannot %s resource "webhookendpoints/%s" in API group "hookgate.io" in the namespace %q`,
		name, user, verb, sub, ns)
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func (h *fakeHistory) watchedWithBodies() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.watchBody
}
