package server

import (
	"net/http"
	"net/netip"
	"net/url"
	"testing"
)

func TestClientAddress(t *testing.T) {
	proxies := &Proxies{Trusted: mustCIDRs(t, "10.0.0.0/8", "fd00::/8")}
	cases := []struct {
		name    string
		remote  string
		header  http.Header
		want    string
		wantErr bool
	}{
		{"a direct client is its TCP peer", "203.0.113.9:5555", nil, "203.0.113.9", false},
		{"an untrusted peer's X-Forwarded-For is ignored", "203.0.113.9:5555", http.Header{"X-Forwarded-For": {"192.0.2.1"}}, "203.0.113.9", false},
		{"behind a trusted proxy the forwarded client is used", "10.1.2.3:80", http.Header{"X-Forwarded-For": {"192.0.2.1"}}, "192.0.2.1", false},
		{"the rightmost untrusted address wins over a forged left part", "10.1.2.3:80", http.Header{"X-Forwarded-For": {"198.51.100.66, 192.0.2.1, 10.9.9.9"}}, "192.0.2.1", false},
		{"several X-Forwarded-For lines form one chain", "10.1.2.3:80", http.Header{"X-Forwarded-For": {"198.51.100.66", "192.0.2.1"}}, "192.0.2.1", false},
		{"a chain of only trusted proxies yields the leftmost", "10.1.2.3:80", http.Header{"X-Forwarded-For": {"10.0.0.5, 10.0.0.6"}}, "10.0.0.5", false},
		{"no forwarding header behind a proxy yields the proxy", "10.1.2.3:80", nil, "10.1.2.3", false},
		{"a client's own Forwarded header cannot override X-Forwarded-For", "10.1.2.3:80", http.Header{
			"Forwarded":       {`for=192.0.2.10`},
			"X-Forwarded-For": {"203.0.113.5"}}, "203.0.113.5", false},
		{"an IPv4 address with a port in X-Forwarded-For", "10.1.2.3:80", http.Header{"X-Forwarded-For": {"192.0.2.1:1234"}}, "192.0.2.1", false},

		{"garbage in X-Forwarded-For cannot be evaluated", "10.1.2.3:80", http.Header{"X-Forwarded-For": {"not-an-ip"}}, "", true},
		{"an IPv4-mapped peer is treated as IPv4", "[::ffff:10.1.2.3]:80", http.Header{"X-Forwarded-For": {"192.0.2.1"}}, "192.0.2.1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: c.remote, Header: c.header}
			if r.Header == nil {
				r.Header = http.Header{}
			}
			got, err := proxies.Client(r)
			if c.wantErr {
				if err == nil {
					t.Fatalf("got %s, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != netip.MustParseAddr(c.want) {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestClientAddressFromForwarded(t *testing.T) {
	proxies := &Proxies{Trusted: mustCIDRs(t, "10.0.0.0/8", "fd00::/8"), UseForwarded: true}
	cases := []struct {
		name    string
		header  http.Header
		want    string
		wantErr bool
	}{
		{"Forwarded is read and handles IPv6 with a port", http.Header{
			"Forwarded":       {`for=198.51.100.66, for="[2001:db8:cafe::17]:4711";proto=https`},
			"X-Forwarded-For": {"192.0.2.200"}}, "2001:db8:cafe::17", false},
		{"X-Forwarded-For is ignored in Forwarded mode", http.Header{"X-Forwarded-For": {"192.0.2.200"}}, "fd00::1", false},
		{"an obfuscated Forwarded node cannot be evaluated", http.Header{"Forwarded": {"for=_hidden"}}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := proxies.Client(&http.Request{RemoteAddr: "[fd00::1]:80", Header: c.header})
			if c.wantErr {
				if err == nil {
					t.Fatalf("got %s, want an error", got)
				}
				return
			}
			if err != nil || got != netip.MustParseAddr(c.want) {
				t.Fatalf("got %s, %v; want %s", got, err, c.want)
			}
		})
	}
}

func TestURLAsTheProviderCalledIt(t *testing.T) {
	proxies := &Proxies{Trusted: mustCIDRs(t, "10.0.0.0/8")}
	r, _ := http.NewRequest(http.MethodPost, "/hook/abc?x=1", nil)
	r.Host = "receiver.internal:8080"
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "hooks.example.com")
	if got := proxies.URL(r).String(); got != "https://hooks.example.com/hook/abc?x=1" {
		t.Fatalf("behind a trusted proxy: %s", got)
	}
	r.RemoteAddr = "203.0.113.1:1"
	if got := proxies.URL(r).String(); got != "http://receiver.internal:8080/hook/abc?x=1" {
		t.Fatalf("from an untrusted peer the forwarded host must be ignored: %s", got)
	}
	r.RemoteAddr = "10.0.0.1:1"
	r.Header = http.Header{"Forwarded": {`for=192.0.2.1;proto=https;host="hooks.example.org"`}}
	if got := proxies.URL(r).String(); got != "http://receiver.internal:8080/hook/abc?x=1" {
		t.Fatalf("a Forwarded header was read in X-Forwarded-For mode: %s", got)
	}
	proxies.UseForwarded = true
	if got := proxies.URL(r).String(); got != "https://hooks.example.org/hook/abc?x=1" {
		t.Fatalf("Forwarded proto/host: %s", got)
	}
}

func FuzzForwardedHeaders(f *testing.F) {
	for _, s := range []string{
		"192.0.2.1", "192.0.2.1, 10.0.0.1", `for="[2001:db8::1]:80";proto=https, for=10.0.0.2`,
		`for=unknown`, `for="\"quoted\""`, "[::1]", ",,,", `for=";,"`, "::ffff:1.2.3.4:80",
	} {
		f.Add(s, s)
	}
	proxies := &Proxies{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::/0")}}
	fwdProxies := &Proxies{Trusted: proxies.Trusted, UseForwarded: true}
	f.Fuzz(func(t *testing.T, xff, fwd string) {
		r := &http.Request{RemoteAddr: "10.0.0.1:80", Header: http.Header{}}
		r.Header.Set("X-Forwarded-For", xff)
		_, _ = proxies.Client(r)
		r.Header.Set("Forwarded", fwd)
		r.Header.Set("X-Forwarded-Proto", xff)
		_, _ = proxies.Client(r)
		r.URL = &url.URL{Path: "/hook/x"}
		_ = proxies.URL(r)
		_, _ = fwdProxies.Client(r)
		_ = fwdProxies.URL(r)
	})
}

func mustCIDRs(t *testing.T, s ...string) []netip.Prefix {
	t.Helper()
	p, err := ParseCIDRs(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
