package registry

import (
	"net/netip"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestRegistryReplacesAnEndpointWhosePathChanged(t *testing.T) {
	r := New()
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	r.Upsert(&Endpoint{UID: "u1", Key: key, Path: "/hook/one"})
	r.Upsert(&Endpoint{UID: "u1", Key: key, Path: "/hook/two"})
	if _, ok := r.ByPath("/hook/one"); ok {
		t.Fatal("old path still routes after the endpoint moved")
	}
	if e, ok := r.ByPath("/hook/two"); !ok || e.UID != "u1" {
		t.Fatal("new path does not route to the endpoint")
	}
	r.Delete(key)
	if _, ok := r.ByUID("u1"); ok {
		t.Fatal("deleted endpoint still found by UID")
	}
	if len(r.List()) != 0 {
		t.Fatal("deleted endpoint still listed")
	}
}

func TestRegistryNotifiesWatchersOfChanges(t *testing.T) {
	r := New()
	ch := r.Changes()
	r.Upsert(&Endpoint{UID: "u", Key: types.NamespacedName{Name: "a"}})
	select {
	case <-ch:
	default:
		t.Fatal("no change notification after Upsert")
	}
}

func TestAllowlist(t *testing.T) {
	e := &Endpoint{SourceRanges: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}}
	cases := []struct {
		name string
		addr string
		want bool
	}{
		{"an address inside an IPv4 range is allowed", "192.0.2.7", true},
		{"an IPv4-mapped IPv6 address inside an IPv4 range is allowed", "::ffff:192.0.2.7", true},
		{"an address outside every range is refused", "198.51.100.1", false},
		{"an IPv6 address inside an IPv6 range is allowed", "2001:db8::1", true},
		{"an IPv6 address outside every range is refused", "2001:db9::1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := e.Allowed(netip.MustParseAddr(c.addr)); got != c.want {
				t.Fatalf("Allowed(%s) = %v, want %v", c.addr, got, c.want)
			}
		})
	}
	if !(&Endpoint{}).Allowed(netip.MustParseAddr("203.0.113.1")) {
		t.Fatal("an endpoint without an allowlist refused a client")
	}
}
