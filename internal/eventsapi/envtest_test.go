package eventsapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/testenv"
)

// TestAgainstTheAPIServer authenticates ServiceAccount tokens and checks
// RBAC with a real kube-apiserver: TokenReview and SubjectAccessReview as
// the manager will make them.
func TestAgainstTheAPIServer(t *testing.T) {
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	admin, err := client.NewWithWatch(cfg, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var tokenReviews atomic.Int32
	counting := interceptor.NewClient(admin, interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		if _, ok := obj.(*authenticationv1.TokenReview); ok {
			tokenReviews.Add(1)
		}
		return c.Create(ctx, obj, opts...)
	}})

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []string{"team-a", "team-b"} {
		must(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
		must(admin.Create(ctx, &hookv1.WebhookEndpoint{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ep"},
			Spec: hookv1.WebhookEndpointSpec{Provider: hookv1.ProviderGitHub, SecretRef: &hookv1.SecretKeyRef{Name: "s"},
				Target: &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "svc", Port: 80}}},
		}))
	}
	// viewer may list events; operator may do everything, in team-a only.
	roles := map[string][]rbacv1.PolicyRule{
		"viewer": {{APIGroups: []string{"hookgate.io"}, Resources: []string{"webhookendpoints/events"}, Verbs: []string{"list"}}},
		"operator": {
			{APIGroups: []string{"hookgate.io"}, Resources: []string{"webhookendpoints/events"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"hookgate.io"}, Resources: []string{"webhookendpoints/replay"}, Verbs: []string{"create"}},
		},
	}
	tokens := map[string]string{}
	for sa, rules := range roles {
		must(admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: sa}}))
		must(admin.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: sa}, Rules: rules}))
		must(admin.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: sa},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: sa},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "team-a", Name: sa}},
		}))
		tr, err := cs.CoreV1().ServiceAccounts("team-a").CreateToken(ctx, sa, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
		}, metav1.CreateOptions{})
		must(err)
		tokens[sa] = tr.Status.Token
		// RBAC reads bindings from an informer: wait until it has this
		// one, asking directly (not through the Authorizer's cache).
		deadline := time.Now().Add(20 * time.Second)
		for {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: "system:serviceaccount:team-a:" + sa, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "list", Group: "hookgate.io",
					Resource: "webhookendpoints", Subresource: "events", Name: "ep"},
			}}
			must(admin.Create(ctx, sar))
			if sar.Status.Allowed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("RBAC never allowed %s", sa)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	hist := &fakeHistory{events: map[string]eventsv1.Event{"e1": {ID: "e1", Body: []byte(`{"card":"4242"}`)}},
		list: eventsv1.EventList{Items: []eventsv1.Event{{ID: "e1", Body: []byte(`{"card":"4242"}`)}}}}
	dls := &fakeDeadLetters{byKey: map[string][]DeadLetter{}}
	srv := &Server{
		Endpoints: admin, Auth: NewAuthorizer(counting, AuthorizerOptions{}),
		History: hist, DeadLetters: dls, NotFound: errNotFound,
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	type answer struct {
		code int
		body []byte
		h    http.Header
	}
	call := func(method, path string, set func(http.Header), body string) answer {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, hs.URL+path, strings.NewReader(body))
		if set != nil {
			set(req.Header)
		}
		resp, err := http.DefaultClient.Do(req)
		must(err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, b, resp.Header}
	}
	bearer := func(sa string) func(http.Header) {
		return func(h http.Header) { h.Set("Authorization", "Bearer "+tokens[sa]) }
	}
	viaProxy := func(sa string) func(http.Header) {
		return func(h http.Header) { h.Set(eventsv1.AuthorizationHeader, "Bearer "+tokens[sa]) }
	}
	statusIs := func(a answer, code int, msg string) {
		t.Helper()
		st := statusOf(t, a.code, a.h, a.body, code)
		if msg != "" && st.Message != msg {
			t.Fatalf("message %q, want %q", st.Message, msg)
		}
	}
	events := epPath("team-a", "ep", "/events")

	// 401: no token, or one the API server does not know.
	statusIs(call("GET", events, nil, ""), 401, "")
	statusIs(call("GET", events, func(h http.Header) { h.Set("Authorization", "Bearer not-a-token") }, ""), 401, "")
	// A ServiceAccount token signed for another audience is refused too.
	other, err := cs.CoreV1().ServiceAccounts("team-a").CreateToken(ctx, "viewer", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"somewhere-else"}, ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	must(err)
	statusIs(call("GET", events, func(h http.Header) { h.Set("Authorization", "Bearer "+other.Status.Token) }, ""), 401, "")

	// The viewer lists, without bodies.
	a := call("GET", events, bearer("viewer"), "")
	var l eventsv1.EventList
	if a.code != 200 || json.Unmarshal(a.body, &l) != nil || len(l.Items) != 1 || !l.Items[0].Hidden || l.Items[0].Body != nil {
		t.Fatalf("viewer's list: %d %s", a.code, a.body)
	}
	// One event: shown, hidden.
	a = call("GET", events+"/e1", bearer("viewer"), "")
	var ev eventsv1.Event
	if a.code != 200 || json.Unmarshal(a.body, &ev) != nil || !ev.Hidden || ev.Body != nil {
		t.Fatalf("viewer's event: %d %s", a.code, a.body)
	}
	statusIs(call("GET", events+"?q=4242", bearer("viewer"), ""), 403,
		`webhookendpoints.hookgate.io "ep" is forbidden: User "system:serviceaccount:team-a:viewer" cannot get resource "webhookendpoints/events" in API group "hookgate.io" in the namespace "team-a"`)
	statusIs(call("POST", epPath("team-a", "ep", "/retry"), bearer("viewer"), `{"ids":["e1"]}`), 403,
		`webhookendpoints.hookgate.io "ep" is forbidden: User "system:serviceaccount:team-a:viewer" cannot create resource "webhookendpoints/replay" in API group "hookgate.io" in the namespace "team-a"`)

	// The operator: nothing in team-b, everything in team-a.
	statusIs(call("GET", epPath("team-b", "ep", "/events"), bearer("operator"), ""), 403,
		`webhookendpoints.hookgate.io "ep" is forbidden: User "system:serviceaccount:team-a:operator" cannot list resource "webhookendpoints/events" in API group "hookgate.io" in the namespace "team-b"`)
	a = call("GET", events+"/e1", viaProxy("operator"), "")
	ev = eventsv1.Event{}
	if a.code != 200 || json.Unmarshal(a.body, &ev) != nil || ev.Hidden || string(ev.Body) != `{"card":"4242"}` {
		t.Fatalf("operator's event through the X-Hookgate header: %d %s", a.code, a.body)
	}
	a = call("GET", events+"?q=4242", bearer("operator"), "")
	if a.code != 200 {
		t.Fatalf("operator's text search: %d %s", a.code, a.body)
	}
	a = call("POST", epPath("team-a", "ep", "/retry"), bearer("operator"), `{"ids":["e1"]}`)
	var res eventsv1.ActionResult
	if a.code != 200 || json.Unmarshal(a.body, &res) != nil || len(res.Items) != 1 || res.Items[0].Result != eventsv1.ActionNotFound {
		t.Fatalf("operator's retry: %d %s", a.code, a.body)
	}
	statusIs(call("GET", epPath("team-a", "gone", "/events"), bearer("operator"), ""), 404, `webhookendpoints.hookgate.io "gone" not found`)

	// Caching: a fresh token is reviewed once, however often it is used.
	fresh, err := cs.CoreV1().ServiceAccounts("team-a").CreateToken(ctx, "operator", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	must(err)
	before := tokenReviews.Load()
	for range 2 {
		a = call("GET", events, func(h http.Header) { h.Set("Authorization", "Bearer "+fresh.Status.Token) }, "")
		if a.code != 200 {
			t.Fatalf("fresh token: %d %s", a.code, a.body)
		}
	}
	if n := tokenReviews.Load() - before; n != 1 {
		t.Fatalf("%d TokenReviews for two requests with one token, want 1", n)
	}
}
