package endpoints

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
)

// A restarted receiver must not answer 404 to a known endpoint: when
// Warmup reports loaded, every endpoint and its keys are in the registry,
// not merely in the informer cache.
func TestWarmupReportsLoadedOnlyWithEveryEndpointInTheRegistry(t *testing.T) {
	startEnv(t)
	ctx := context.Background()
	ns := newTeamNamespace(t)
	const n = 40
	var eps []*hookv1.WebhookEndpoint
	for i := 0; i < n; i++ {
		ep := routedEndpointNamed(t, ns, fmt.Sprintf("gh-%d", i))
		if err := admin.Create(ctx, mirror(ep, keysNS, map[string][]byte{"current": []byte(fmt.Sprintf("key-%d", i))})); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}

	mgr, err := ctrl.NewManager(receiverCfg, ctrl.Options{
		Scheme:     scheme(t),
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      cache.Options{ByObject: CacheByObject(keysNS)},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New()
	l := &Loader{Client: mgr.GetClient(), Registry: reg, KeysNamespace: keysNS}
	if err := l.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	w := &Warmup{Loader: l, WaitForCacheSync: mgr.GetCache().WaitForCacheSync}
	if err := mgr.Add(w); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() { cancel(); <-done })

	if !w.WaitLoaded(mctx) {
		t.Fatal("never loaded")
	}
	missing := 0
	for i, ep := range eps {
		e, ok := reg.ByPath(ep.Status.WebhookPath)
		if !ok || len(e.Keys) != 1 || string(e.Keys[0]) != fmt.Sprintf("key-%d", i) {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("loaded was reported with %d of %d endpoints missing or without keys", missing, n)
	}
}

// routedEndpointNamed is routedEndpoint for many endpoints in one namespace.
func routedEndpointNamed(t *testing.T, ns, name string) *hookv1.WebhookEndpoint {
	t.Helper()
	ctx := context.Background()
	ep := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	ep.Spec.Provider = hookv1.ProviderGitHub
	ep.Spec.SecretRef = &hookv1.SecretKeyRef{Name: name}
	ep.Spec.Target = &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "t", Port: 80}}
	if err := admin.Create(ctx, ep); err != nil {
		t.Fatal(err)
	}
	ep.Status.WebhookPath = "/hook/" + strings.ReplaceAll(string(ep.UID), "-", "")
	if err := admin.Status().Update(ctx, ep); err != nil {
		t.Fatal(err)
	}
	return ep
}
