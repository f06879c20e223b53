package dispatch

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/hookgate/hookgate/ingress/registry"
)

func TestServiceResolver(t *testing.T) {
	services := []*corev1.Service{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "api"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.0.0.7"},
	}, {
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "outside"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "hooks.example.com"},
	}, {
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "loopback"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "::1"},
	}}
	cl := fake.NewClientBuilder()
	for _, s := range services {
		cl = cl.WithObjects(s)
	}
	reader := cl.Build()

	cases := []struct {
		name      string
		domain    string
		namespace string
		target    registry.Target
		want      string
		wantErr   string
		allowExt  bool
	}{
		{"a ClusterIP Service is addressed by its cluster DNS name", "", "team-a",
			registry.Target{Service: "api", Port: 8080}, "http://api.team-a.svc.cluster.local:8080", "", false},
		{"a custom cluster domain replaces cluster.local", "corp.internal", "team-a",
			registry.Target{Service: "api", Port: 80}, "http://api.team-a.svc.corp.internal:80", "", false},
		{"an ExternalName Service is addressed by its external name when ExternalName targets are on", "", "team-a",
			registry.Target{Service: "outside", Port: 443}, "http://hooks.example.com:443", "", true},
		{"an ExternalName holding an IPv6 address is bracketed", "", "team-a",
			registry.Target{Service: "loopback", Port: 9000}, "http://[::1]:9000", "", true},
		{"a missing Service is an error that names it", "", "team-a",
			registry.Target{Service: "gone", Port: 80}, "", "team-a/gone", false},
		{"a Service of the same name in another namespace is not used", "", "team-b",
			registry.Target{Service: "api", Port: 80}, "", "team-b/api", false},
		{"an ExternalName Service is refused when ExternalName targets are off", "", "team-a",
			registry.Target{Service: "outside", Port: 443}, "", "ExternalName", false},
		{"an ExternalName pointing at loopback is refused when ExternalName targets are off", "", "team-a",
			registry.Target{Service: "loopback", Port: 9000}, "", "ExternalName", false},
		{"a ClusterIP Service still works when ExternalName targets are on", "", "team-a",
			registry.Target{Service: "api", Port: 8080}, "http://api.team-a.svc.cluster.local:8080", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &ServiceResolver{Client: reader, ClusterDomain: tc.domain, AllowExternalName: tc.allowExt}
			got, err := r.Resolve(context.Background(), tc.namespace, tc.target)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Resolve = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTheZeroValueResolverRefusesExternalName: whoever builds a resolver
// without saying anything about ExternalName gets the safe behaviour, so a
// tenant's ExternalName Service cannot aim the receiver at an arbitrary host.
func TestTheZeroValueResolverRefusesExternalName(t *testing.T) {
	reader := fake.NewClientBuilder().WithObjects(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "metadata"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "169.254.169.254"},
	}).Build()
	got, err := (&ServiceResolver{Client: reader}).Resolve(context.Background(), "team-a", registry.Target{Service: "metadata", Port: 80})
	if err == nil {
		t.Fatalf("Resolve = %q, want the ExternalName Service refused", got)
	}
	if !strings.Contains(err.Error(), "--allow-external-name-targets") {
		t.Errorf("error %q does not say which flag turns ExternalName targets on", err)
	}
}
