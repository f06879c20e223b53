package endpoints

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/keyring"
	"github.com/hookgate/hookgate/internal/testenv"
)

// keysNS stands for the receiver's namespace (the release namespace).
const keysNS = "hookgate-system"

// The envtest control plane is started by the first test that needs it
// and shared; TestMain stops it.
var (
	envOnce sync.Once
	env     *envtest.Environment
	envErr  error
	admin   client.Client
	// receiverCfg authenticates as the receiver's ServiceAccount, bound to
	// the receiver's RBAC from config/rbac/receiver.
	receiverCfg *rest.Config
)

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		_ = env.Stop()
	}
	os.Exit(code)
}

func scheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := hookv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func startEnv(t *testing.T) {
	t.Helper()
	envOnce.Do(func() {
		env, envErr = testenv.New()
		if envErr != nil {
			return
		}
		var cfg *rest.Config
		if cfg, envErr = env.Start(); envErr != nil {
			return
		}
		if admin, envErr = client.New(cfg, client.Options{Scheme: scheme(t)}); envErr != nil {
			return
		}
		envErr = installReceiverRBAC(context.Background())
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
}

// installReceiverRBAC applies what `kubectl apply -k config/default` gives
// the receiver: the generated ClusterRole, the hand-written Role for the
// key mirrors in its namespace, and their bindings; then authenticates as
// its ServiceAccount.
func installReceiverRBAC(ctx context.Context) error {
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: keysNS}}); err != nil {
		return err
	}
	dir := filepath.Join(testenv.RepoRoot(), "config", "rbac", "receiver")
	for _, f := range []string{"role.yaml", "keys_role.yaml", "keys_role_binding.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		// kustomize's namespace transformer, as config/default applies it.
		b = bytes.ReplaceAll(b, []byte("namespace: system"), []byte("namespace: "+keysNS))
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return err
			}
			if len(u.Object) == 0 {
				continue
			}
			if err := admin.Create(ctx, u); err != nil {
				return err
			}
		}
	}
	sa := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "hookgate-receiver", Namespace: keysNS}
	if err := admin.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "hookgate-receiver"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "hookgate-receiver"},
		Subjects:   []rbacv1.Subject{sa},
	}); err != nil {
		return err
	}
	u, err := env.AddUser(envtest.User{
		Name:   receiverUser,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + keysNS, "system:authenticated"},
	}, nil)
	if err != nil {
		return err
	}
	receiverCfg = u.Config()
	return nil
}

const receiverUser = "system:serviceaccount:" + keysNS + ":hookgate-receiver"

// startLoader runs the Loader as the receiver does: its ServiceAccount, its
// cache options.
func startLoader(t *testing.T) (*registry.Registry, client.Client) {
	t.Helper()
	mgr, err := ctrl.NewManager(receiverCfg, ctrl.Options{
		Scheme:  scheme(t),
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   cache.Options{ByObject: CacheByObject(keysNS)},
		// Two managers in one process each register the controller name.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New()
	if err := (&Loader{Client: mgr.GetClient(), Registry: reg, KeysNamespace: keysNS}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("receiver manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("receiver cache did not sync: is its RBAC enough for its informers?")
	}
	return reg, mgr.GetClient()
}

func newTeamNamespace(t *testing.T) string {
	t.Helper()
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "team-"}}
	if err := admin.Create(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	return n.Name
}

// routedEndpoint creates a GitHub endpoint whose path the manager would
// have assigned, and its signing Secret in the team's namespace.
func routedEndpoint(t *testing.T, ns string) *hookv1.WebhookEndpoint {
	t.Helper()
	ctx := context.Background()
	if err := admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "signing"},
		Data:       map[string][]byte{"secret": []byte("source-key"), "secret.previous": []byte("source-old")},
	}); err != nil {
		t.Fatal(err)
	}
	ep := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gh"}}
	ep.Spec.Provider = hookv1.ProviderGitHub
	ep.Spec.SecretRef = &hookv1.SecretKeyRef{Name: "signing"}
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

func mirror(ep *hookv1.WebhookEndpoint, ns string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: keyring.MirrorName(string(ep.UID)), Labels: map[string]string{
			hookv1.LabelEndpointName: ep.Name, hookv1.LabelEndpointNamespace: ep.Namespace, hookv1.LabelEndpointUID: string(ep.UID),
		}},
		Data: data,
	}
}

// eventually polls the registry entry at the endpoint's path until ok.
func eventually(t *testing.T, reg *registry.Registry, ep *hookv1.WebhookEndpoint, what string, ok func(*registry.Endpoint) bool) *registry.Endpoint {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last *registry.Endpoint
	for time.Now().Before(deadline) {
		if e, found := reg.ByPath(ep.Status.WebhookPath); found {
			last = e
			if ok(e) {
				return e
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("registry never showed %s; last entry: %+v", what, last)
	return nil
}

func keysAre(e *registry.Endpoint, current, previous string) bool {
	return len(e.Keys) == 1 && string(e.Keys[0]) == current && string(e.PreviousKey) == previous && e.KeysError == ""
}

func TestTheLoaderReadsKeysOnlyFromTheMirrorInItsNamespace(t *testing.T) {
	startEnv(t)
	ctx := context.Background()
	reg, _ := startLoader(t)
	ns := newTeamNamespace(t)
	ep := routedEndpoint(t, ns)

	// The team's own Secret is never read: until the manager mirrors it,
	// the endpoint has no keys (503 SecretUnavailable).
	e := eventually(t, reg, ep, "an endpoint without keys", func(e *registry.Endpoint) bool { return e.KeysError != "" })
	if len(e.Keys) != 0 || !strings.Contains(e.KeysError, "not mirrored") {
		t.Fatalf("keys before the mirror exists: %q, error %q", e.Keys, e.KeysError)
	}

	// A look-alike mirror in the team's namespace, which a tenant can write,
	// is ignored.
	if err := admin.Create(ctx, mirror(ep, ns, map[string][]byte{keyring.MirrorCurrent: []byte("tenant-planted")})); err != nil {
		t.Fatal(err)
	}

	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	m := mirror(ep, keysNS, map[string][]byte{
		keyring.MirrorCurrent: []byte("mirror-key"), keyring.MirrorPrevious: []byte("mirror-old"),
		keyring.MirrorPreviousExpiresAt: []byte(expires.Format(time.RFC3339)),
	})
	if err := admin.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	e = eventually(t, reg, ep, "the mirror's keys", func(e *registry.Endpoint) bool { return keysAre(e, "mirror-key", "mirror-old") })
	if !e.PreviousExpires.Equal(expires) {
		t.Fatalf("previous key expires at %s, want %s", e.PreviousExpires, expires)
	}

	// A previous key without its expiry is not accepted, here as in the manager.
	m.Data = map[string][]byte{keyring.MirrorCurrent: []byte("mirror-key-2"), keyring.MirrorPrevious: []byte("mirror-key")}
	if err := admin.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	eventually(t, reg, ep, "the updated mirror without its previous key", func(e *registry.Endpoint) bool { return keysAre(e, "mirror-key-2", "") })

	if err := admin.Delete(ctx, m); err != nil {
		t.Fatal(err)
	}
	eventually(t, reg, ep, "no keys once the mirror is gone", func(e *registry.Endpoint) bool { return len(e.Keys) == 0 && e.KeysError != "" })
}

func TestTheReceiverCannotReadSecretsOutsideItsNamespace(t *testing.T) {
	startEnv(t)
	ctx := context.Background()
	_, cached := startLoader(t)
	ns := newTeamNamespace(t)
	ep := routedEndpoint(t, ns)
	if err := admin.Create(ctx, mirror(ep, keysNS, map[string][]byte{keyring.MirrorCurrent: []byte("k")})); err != nil {
		t.Fatal(err)
	}
	// Another Secret in the receiver's namespace that is not a mirror.
	if err := admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: keysNS, Name: "unrelated-" + ns}}); err != nil {
		t.Fatal(err)
	}

	t.Run("its RBAC denies every Secret outside its namespace", func(t *testing.T) {
		for _, tc := range []struct {
			namespace, verb string
			allowed         bool
		}{
			{"", "list", false},
			{"", "watch", false},
			{ns, "get", false},
			{ns, "list", false},
			{"kube-system", "get", false},
			{keysNS, "get", true},
			{keysNS, "list", true},
			{keysNS, "watch", true},
			{keysNS, "create", false},
			{keysNS, "update", false},
			{keysNS, "delete", false},
		} {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               receiverUser,
				Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + keysNS, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: tc.namespace, Verb: tc.verb, Resource: "secrets"},
			}}
			if err := admin.Create(ctx, sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != tc.allowed {
				t.Errorf("%s secrets in namespace %q: allowed=%v, want %v", tc.verb, tc.namespace, sar.Status.Allowed, tc.allowed)
			}
		}
	})

	t.Run("the API server refuses it the team's signing Secret", func(t *testing.T) {
		direct, err := client.New(receiverCfg, client.Options{Scheme: scheme(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := direct.Get(ctx, types.NamespacedName{Namespace: ns, Name: "signing"}, &corev1.Secret{}); !apierrors.IsForbidden(err) {
			t.Fatalf("reading the team's Secret as the receiver: %v, want Forbidden", err)
		}
		if err := direct.List(ctx, &corev1.SecretList{}); !apierrors.IsForbidden(err) {
			t.Fatalf("listing every Secret as the receiver: %v, want Forbidden", err)
		}
	})

	t.Run("its cache holds only the mirrors in its namespace", func(t *testing.T) {
		if err := cached.Get(ctx, types.NamespacedName{Namespace: ns, Name: "signing"}, &corev1.Secret{}); err == nil {
			t.Fatal("the receiver's cache serves a Secret from a team's namespace")
		}
		var list corev1.SecretList
		deadline := time.Now().Add(10 * time.Second)
		for {
			if err := cached.List(ctx, &list, client.InNamespace(keysNS)); err != nil {
				t.Fatal(err)
			}
			if len(list.Items) > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		var found bool
		for _, s := range list.Items {
			if !strings.HasPrefix(s.Name, keyring.MirrorPrefix) {
				t.Errorf("the receiver caches Secret %s/%s, which is not a key mirror", s.Namespace, s.Name)
			}
			found = found || s.Name == keyring.MirrorName(string(ep.UID))
		}
		if !found {
			t.Fatalf("the mirror is not in the receiver's cache: %d Secrets cached", len(list.Items))
		}
	})
}
