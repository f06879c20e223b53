package verify

import (
	"net/url"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// For every provider that signs the URL (and generic-hmac with {url}): a
// request signed for the URL configured at the provider, received at
// another URL (a proxy rewrote host, port and path), verifies with that URL
// as spec.signedURL or as status.url, and fails with neither; with
// spec.signedURL set, only that URL is tried.
func TestURLSigningProvidersVerifyAgainstTheConfiguredURL(t *testing.T) {
	now := time.Unix(1_750_000_000, 0).UTC()
	configured := mustURL(t, "https://hooks.example.com/tenant-a/hook/abc123")
	seen := mustURL(t, "http://hookgate-receiver.hookgate-system.svc:8080/hook/abc123")
	body := []byte(`{"id":"evt_1","event_id":"ev_1","type":"test"}`)
	type provider struct {
		name string
		o    Options
	}
	var cases []provider
	for _, info := range hookv1.Providers {
		if info.SignsURL() {
			cases = append(cases, provider{name: string(info.Name)})
		}
	}
	cases = append(cases, provider{name: string(hookv1.ProviderGenericHMAC), o: Options{Generic: &GenericHMACOptions{SignedContent: "{url}.{body}"}}})
	if len(cases) < 5 {
		t.Fatalf("only %d URL-signing providers in the table", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := []byte("round-trip-secret")
			d := Delivery{ID: "d-1", Event: "push", Time: now, Body: body, URL: mustURL(t, configured.String()+"?a=1")}
			req, err := SignRequest(c.name, c.o, d, key)
			if err != nil {
				t.Fatal(err)
			}
			// What the receiver sees: its own host and path, the query as sent.
			received := *seen
			received.RawQuery = req.URL.RawQuery
			atReceiver := *req
			atReceiver.URL = &received

			verifyWith := func(o Options, r *Request) error {
				t.Helper()
				v, err := New(c.name, o)
				if err != nil {
					t.Fatal(err)
				}
				_, err = v.Verify(r, [][]byte{key}, now)
				return err
			}
			with := func(f func(*Options)) Options { o := c.o; f(&o); return o }

			if err := verifyWith(c.o, &atReceiver); err == nil {
				t.Error("verified against the URL the receiver saw, which the provider did not sign")
			}
			if err := verifyWith(with(func(o *Options) { o.SignedURL = configured }), &atReceiver); err != nil {
				t.Errorf("refused with spec.signedURL: %v", err)
			}
			if err := verifyWith(with(func(o *Options) { o.PublicURL = configured }), &atReceiver); err != nil {
				t.Errorf("refused with status.url: %v", err)
			}
			// status.url is tried before the request's URL, not instead.
			if err := verifyWith(with(func(o *Options) { o.PublicURL = seen }), req); err != nil {
				t.Errorf("a request whose URL is the signed one was refused beside another status.url: %v", err)
			}
			// spec.signedURL is the only URL tried.
			if err := verifyWith(with(func(o *Options) { o.SignedURL = seen }), req); err == nil {
				t.Error("spec.signedURL is set, yet the request's own URL was used")
			}
		})
	}
}

func TestSignedURLCandidates(t *testing.T) {
	req := &Request{URL: mustURL(t, "http://internal:8080/hook/x?b=2")}
	conf := mustURL(t, "https://public.example.com/p/hook/x")
	for _, c := range []struct {
		name string
		s    signedURLs
		want []string
	}{
		{"nothing configured: the request's URL", signedURLs{}, []string{"http://internal:8080/hook/x?b=2"}},
		{"status.url first, then the request's", signedURLs{public: conf}, []string{"https://public.example.com/p/hook/x?b=2", "http://internal:8080/hook/x?b=2"}},
		{"spec.signedURL alone", signedURLs{configured: conf, public: mustURL(t, "https://other.example.com/hook/x")}, []string{"https://public.example.com/p/hook/x?b=2"}},
		{"the same URL once", signedURLs{public: mustURL(t, "http://internal:8080/hook/x")}, []string{"http://internal:8080/hook/x?b=2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.s.candidates(req)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i].String() != c.want[i] {
					t.Errorf("candidate %d: %s, want %s", i, got[i], c.want[i])
				}
			}
		})
	}
	if _, err := ParseSignedURL("/relative"); err == nil {
		t.Error("a relative URL parsed as a signed URL")
	}
}
