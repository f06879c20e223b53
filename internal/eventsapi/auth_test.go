package eventsapi

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

// clock is a settable time for the caches.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestAuthorizer(t *testing.T, api *fakeAPI, o AuthorizerOptions) (*Authorizer, *clock) {
	a := NewAuthorizer(api.client(t), o)
	c := &clock{t: testNow}
	a.now = c.now
	return a, c
}

func TestTokenReviewsAreCached(t *testing.T) {
	api := newFakeAPI()
	a, clk := newTestAuthorizer(t, api, AuthorizerOptions{})
	ctx := context.Background()
	reviews := func() int { n, _ := api.counts(); return n }

	u, err := a.AuthenticateToken(ctx, tokAlice)
	if err != nil || u.Username != "alice" || u.UID != "u-alice" {
		t.Fatalf("alice: %+v %v", u, err)
	}
	if len(api.audiences) != 0 {
		t.Fatalf("audiences %v by default", api.audiences)
	}
	clk.add(9 * time.Second)
	if u, err := a.AuthenticateToken(ctx, tokAlice); err != nil || u.Username != "alice" || reviews() != 1 {
		t.Fatalf("cached alice: %+v %v, %d reviews", u, err, reviews())
	}
	clk.add(2 * time.Second) // 11 s: expired
	if _, err := a.AuthenticateToken(ctx, tokAlice); err != nil || reviews() != 2 {
		t.Fatalf("after 11 s: %v, %d reviews", err, reviews())
	}

	// A refused token is remembered for 2 s.
	if _, err := a.AuthenticateToken(ctx, "bad"); !errors.Is(err, ErrUnauthenticated) || reviews() != 3 {
		t.Fatalf("bad: %v, %d reviews", err, reviews())
	}
	clk.add(time.Second)
	if _, err := a.AuthenticateToken(ctx, "bad"); !errors.Is(err, ErrUnauthenticated) || reviews() != 3 {
		t.Fatalf("bad, cached: %v, %d reviews", err, reviews())
	}
	clk.add(1500 * time.Millisecond)
	if _, err := a.AuthenticateToken(ctx, "bad"); !errors.Is(err, ErrUnauthenticated) || reviews() != 4 {
		t.Fatalf("bad after 2.5 s: %v, %d reviews", err, reviews())
	}
	// The cache is keyed by the token's hash: no token in it.
	for k := range a.tokens.m {
		if strings.Contains(string(k[:]), tokAlice) {
			t.Fatal("a token in the cache key")
		}
	}
}

func TestDecisionsAreCached(t *testing.T) {
	api := newFakeAPI()
	a, clk := newTestAuthorizer(t, api, AuthorizerOptions{})
	ctx := context.Background()
	u := api.users[tokAlice]
	sars := func() int { _, n := api.counts(); return n }
	for i := range 3 {
		ok, err := a.Allowed(ctx, u, nsA, "ep", eventsv1.SubresourceEvents, "get")
		if !ok || err != nil || sars() != 1 {
			t.Fatalf("try %d: %v %v, %d reviews", i, ok, err, sars())
		}
	}
	want := api.sars[0]
	if want.User != "alice" || want.UID != "u-alice" || !reflect.DeepEqual(want.Groups, u.Groups) ||
		!reflect.DeepEqual([]string(want.Extra["scopes"]), []string{"a"}) {
		t.Fatalf("SAR %+v", want)
	}
	ra := want.ResourceAttributes
	if ra.Namespace != nsA || ra.Verb != "get" || ra.Group != "hookgate.io" || ra.Resource != "webhookendpoints" ||
		ra.Subresource != "events" || ra.Name != "ep" {
		t.Fatalf("attributes %+v", ra)
	}
	// A denial is remembered as well; other attributes are other entries.
	if ok, _ := a.Allowed(ctx, u, "team-b", "ep", eventsv1.SubresourceEvents, "get"); ok || sars() != 2 {
		t.Fatalf("team-b: %v, %d", ok, sars())
	}
	if ok, _ := a.Allowed(ctx, u, "team-b", "ep", eventsv1.SubresourceEvents, "get"); ok || sars() != 2 {
		t.Fatalf("team-b cached: %v, %d", ok, sars())
	}
	if ok, _ := a.Allowed(ctx, api.users[tokBob], nsA, "ep", eventsv1.SubresourceEvents, "get"); ok || sars() != 3 {
		t.Fatalf("bob: %v, %d", ok, sars())
	}
	clk.add(11 * time.Second)
	if ok, _ := a.Allowed(ctx, u, nsA, "ep", eventsv1.SubresourceEvents, "get"); !ok || sars() != 4 {
		t.Fatalf("after 11 s: %v, %d", ok, sars())
	}
}

func TestCachesAreBounded(t *testing.T) {
	api := newFakeAPI()
	a, _ := newTestAuthorizer(t, api, AuthorizerOptions{MaxCacheEntries: 10})
	for i := range 100 {
		_, _ = a.AuthenticateToken(context.Background(), fmt.Sprint("bad-", i))
		_, _ = a.Allowed(context.Background(), api.users[tokAlice], nsA, fmt.Sprint("ep-", i), "events", "get")
		if a.tokens.len() > 10 || a.decisions.len() > 10 {
			t.Fatalf("after %d: %d tokens, %d decisions", i, a.tokens.len(), a.decisions.len())
		}
	}
	// The newest is kept.
	if _, err := a.AuthenticateToken(context.Background(), "bad-99"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatal(err)
	}
	if n, _ := api.counts(); n != 100 {
		t.Fatalf("%d reviews: the newest entry was evicted", n)
	}
}

func TestAudiences(t *testing.T) {
	api := newFakeAPI()
	a, clk := newTestAuthorizer(t, api, AuthorizerOptions{Audiences: []string{"hookgate-events"}})
	if _, err := a.AuthenticateToken(context.Background(), tokAlice); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a review that names none of our audiences: %v", err)
	}
	if !reflect.DeepEqual(api.audiences, []string{"hookgate-events"}) {
		t.Fatalf("asked for audiences %v", api.audiences)
	}
	api.answerAudiences = []string{"other", "hookgate-events"}
	clk.add(3 * time.Second)
	if u, err := a.AuthenticateToken(context.Background(), tokAlice); err != nil || u.Username != "alice" {
		t.Fatalf("with the audience: %+v %v", u, err)
	}
}

func TestOneLogLinePerRequestWithoutSecrets(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var lines []string
	h.srv.Log = funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, args)
	}, funcr.Options{Verbosity: 1})
	h.do("GET", epPath(nsA, "ep", "/events?q=hunter2"), tokAlice, "")
	h.do("POST", epPath(nsA, "ep", "/retry"), tokBob, `{"ids":["hunter3"]}`)
	h.do("GET", epPath(nsA, "ep", "/events"), "", "")
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), lines)
	}
	for i, want := range []string{`"user"="alice" "verb"="list" "method"="GET" "path"="/apis/events.hookgate.io/v1alpha1/namespaces/team-a/webhookendpoints/ep/events" "code"=200`,
		`"user"="bob" "verb"="" "method"="POST"`, `"user"="" "verb"="" "method"="GET"`} {
		if !strings.Contains(lines[i], want) {
			t.Fatalf("line %d %q lacks %q", i, lines[i], want)
		}
	}
	for _, l := range lines {
		for _, secret := range []string{"tok-", "hunter"} {
			if strings.Contains(l, secret) {
				t.Fatalf("%q in the log: %s", secret, l)
			}
		}
	}
	if !strings.Contains(lines[1], `"code"=403`) || !strings.Contains(lines[2], `"code"=401`) {
		t.Fatalf("codes: %q", lines)
	}
}
