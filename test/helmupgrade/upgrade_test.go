// Package helmupgrade installs the chart of the previous release with the
// real helm and upgrades it to the chart in this tree, on its own real
// kube-apiserver and etcd (a clean cluster: the e2e suite's CRD would hide
// what the old chart installs). Nothing runs the pods; what is under test is
// what Helm does to the CRD and what it leaves on uninstall.
package helmupgrade

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hookgate/hookgate/internal/testenv"
)

const (
	// previousRelease is the commit of chart 0.1.0, the last that shipped its
	// CRD in crds/. Replace it with the tag once releases are tagged.
	previousRelease = "cb13abb7d0e4cce0a638a6b295f8529856db3830"
	previousVersion = "0.1.0"

	release   = "hookgate"
	namespace = "hookgate-system"
	crdName   = "webhookendpoints.hookgate.io"
)

var endpointGVK = schema.GroupVersionKind{Group: "hookgate.io", Version: "v1alpha1", Kind: "WebhookEndpoint"}

type cluster struct {
	t          *testing.T
	c          client.Client
	kubeconfig string
	helmHome   string
}

func TestHelmUpgradeFromThePreviousChartUpgradesTheCRDAndUninstallKeepsIt(t *testing.T) {
	k := startCluster(t)
	oldChart := previousChart(t)

	// 0.1.0 installs the CRD from crds/: without the new field.
	k.helm("install", release, oldChart, "-n", namespace, "--create-namespace")
	if hasLimitsField(k.crd(), "maxQueuedEvents") {
		t.Fatal("the previous chart's CRD already has spec.limits.maxQueuedEvents; pick a field it lacks")
	}
	k.apply(endpoint("before-upgrade", ""))

	// The CRD Helm installed from crds/ belongs to no release: a plain upgrade
	// refuses to take it over, which is why the README has a one-time step.
	if out, err := k.helmErr("upgrade", release, chartDir(), "-n", namespace); err == nil ||
		!strings.Contains(out, "invalid ownership metadata") {
		t.Fatalf("helm upgrade without adopting the CRD: err %v, want invalid ownership metadata:\n%s", err, out)
	}
	// The README's step for upgrades from 0.1.x.
	k.kubectl("label", "crd", crdName, "app.kubernetes.io/managed-by=Helm")
	k.kubectl("annotate", "crd", crdName, "meta.helm.sh/release-name="+release, "meta.helm.sh/release-namespace="+namespace)
	// No manager runs here to serve the admission webhook (and the API
	// server could not reach its Service): without it, with the default
	// failurePolicy Fail, every apply below would be refused.
	k.helm("upgrade", release, chartDir(), "-n", namespace, "--set", "webhook.enabled=false")

	crd := k.crd()
	if !hasLimitsField(crd, "maxQueuedEvents") {
		t.Fatal("after helm upgrade the CRD lacks spec.limits.maxQueuedEvents: the chart did not upgrade it")
	}
	if crd.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("CRD annotations %v, want helm.sh/resource-policy: keep (crds.keep defaults to true)", crd.Annotations)
	}
	if !strings.Contains(k.helm("get", "manifest", release, "-n", namespace), "name: "+crdName) {
		t.Error("the release manifest does not hold the CRD: the next upgrade would not upgrade it")
	}
	// The API server serves the new schema: server-side apply refuses fields
	// a schema does not declare.
	k.apply(endpoint("after-upgrade", "  limits: {maxQueuedEvents: 10}\n"))
	got := k.endpoint("after-upgrade")
	if n, _, _ := unstructured.NestedInt64(got.Object, "spec", "limits", "maxQueuedEvents"); n != 10 {
		t.Errorf("spec.limits.maxQueuedEvents read back as %d, want 10", n)
	}
	k.endpoint("before-upgrade")

	// Uninstall keeps the CRD and, with it, every WebhookEndpoint.
	out := k.helm("uninstall", release, "-n", namespace)
	if !strings.Contains(out, "kept due to the resource policy") {
		t.Errorf("helm uninstall does not say it kept the CRD:\n%s", out)
	}
	k.crd()
	k.endpoint("before-upgrade")
	k.endpoint("after-upgrade")
	if err := k.c.Get(ctx(), client.ObjectKey{Namespace: namespace, Name: release + "-manager"}, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment"}}); !apierrors.IsNotFound(err) {
		t.Errorf("manager Deployment after uninstall: %v, want NotFound", err)
	}

	// A reinstall adopts the kept CRD, which still names the release. Setting
	// crds.keep=false takes effect on an upgrade (Helm's three-way merge drops
	// the annotation it had set); the next uninstall deletes the CRD and every
	// endpoint.
	k.helm("install", release, chartDir(), "-n", namespace, "--set", "webhook.enabled=false")
	k.helm("upgrade", release, chartDir(), "-n", namespace, "--set", "crds.keep=false", "--set", "webhook.enabled=false")
	if a := k.crd().Annotations["helm.sh/resource-policy"]; a != "" {
		t.Errorf("helm upgrade --set crds.keep=false left helm.sh/resource-policy %q on the CRD", a)
	}
	k.helm("uninstall", release, "-n", namespace)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := k.c.Get(ctx(), client.ObjectKey{Name: crdName}, &apiextensionsv1.CustomResourceDefinition{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRD after uninstall with crds.keep=false: %v, want NotFound", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var crdNameLine = regexp.MustCompile(`(?m)^  name: (\S+)$`)

// TestChartRendersTheGeneratedCRD guards the template: what the chart
// renders is config/crd/bases (the controller-gen output) plus metadata.
func TestChartRendersTheGeneratedCRD(t *testing.T) {
	out := run(t, nil, helmBin(t), "template", release, chartDir(), "-n", namespace, "--show-only", "templates/crds.yaml")
	rendered := map[string]string{} // CRD name -> spec
	for _, doc := range strings.Split(out, "\n---") {
		meta, spec, ok := strings.Cut(doc, "\nspec:\n")
		if !ok {
			continue
		}
		if m := crdNameLine.FindStringSubmatch(meta); m != nil {
			rendered[m[1]] = strings.TrimSpace(spec)
		}
	}
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	for _, f := range files {
		gen, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		meta, genSpec, ok := strings.Cut(string(gen), "\nspec:\n")
		m := crdNameLine.FindStringSubmatch(meta)
		if !ok || m == nil {
			t.Fatalf("%s: no CRD name or spec", f)
		}
		if rendered[m[1]] != strings.TrimSpace(genSpec) {
			t.Fatalf("the chart's CRD %s differs from %s (or is missing): run make manifests", m[1], filepath.Base(f))
		}
	}
	if len(rendered) != len(files) {
		t.Fatalf("the chart renders %d CRDs, config/crd/bases has %d", len(rendered), len(files))
	}
	if !strings.Contains(out, "helm.sh/resource-policy: keep") || !strings.Contains(out, "app.kubernetes.io/managed-by: Helm") {
		t.Errorf("rendered CRD lacks the keep annotation or the chart's labels:\n%.600s", out)
	}
	off := run(t, nil, helmBin(t), "template", release, chartDir(), "-n", namespace, "--set", "crds.enabled=false")
	if strings.Contains(off, "kind: CustomResourceDefinition") {
		t.Error("crds.enabled=false still renders a CRD")
	}
}

func startCluster(t *testing.T) *cluster {
	dir, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	admin, err := env.AddUser(envtest.User{Name: "helm-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	k := &cluster{t: t, kubeconfig: filepath.Join(t.TempDir(), "kubeconfig"), helmHome: t.TempDir()}
	if err := os.WriteFile(k.kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if k.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	return k
}

// previousChart extracts charts/hookgate as committed at previousRelease.
func previousChart(t *testing.T) string {
	dest := t.TempDir()
	cmd := exec.Command("git", "archive", previousRelease, "charts/hookgate")
	cmd.Dir = testenv.RepoRoot()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	r, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("git archive %s: %v %s", previousRelease, err, stderr.String())
		}
		p := filepath.Join(dest, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dest+string(filepath.Separator)) {
			t.Fatalf("git archive entry %q escapes the destination", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			var b []byte
			if b, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(p, b, 0o644)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("git archive %s (a shallow clone lacks it: git fetch --unshallow): %v %s", previousRelease, err, stderr.String())
	}
	chart := filepath.Join(dest, "charts", "hookgate")
	b, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
	if err != nil || !strings.Contains(string(b), "\nversion: "+previousVersion+"\n") {
		t.Fatalf("chart at %s is not version %s: %v", previousRelease, previousVersion, err)
	}
	return chart
}

func chartDir() string { return filepath.Join(testenv.RepoRoot(), "charts", "hookgate") }

func helmBin(t *testing.T) string {
	p := filepath.Join(testenv.RepoRoot(), "bin", "helm")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s missing: run `make test`, which builds it", p)
	}
	return p
}

func (k *cluster) env() []string {
	return []string{"KUBECONFIG=" + k.kubeconfig,
		"HELM_CACHE_HOME=" + filepath.Join(k.helmHome, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(k.helmHome, "config"),
		"HELM_DATA_HOME=" + filepath.Join(k.helmHome, "data")}
}

func (k *cluster) helm(args ...string) string {
	k.t.Helper()
	return run(k.t, k.env(), helmBin(k.t), args...)
}

func (k *cluster) helmErr(args ...string) (string, error) {
	cmd := exec.Command(helmBin(k.t), args...)
	cmd.Env = append(os.Environ(), k.env()...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (k *cluster) kubectl(args ...string) string {
	k.t.Helper()
	dir, err := testenv.AssetsDir()
	if err != nil {
		k.t.Fatal(err)
	}
	return run(k.t, k.env(), filepath.Join(dir, "kubectl"), append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
}

// apply server-side applies a manifest, as a user's kubectl apply would.
func (k *cluster) apply(manifest string) {
	k.t.Helper()
	p := filepath.Join(k.t.TempDir(), "obj.yaml")
	if err := os.WriteFile(p, []byte(manifest), 0o644); err != nil {
		k.t.Fatal(err)
	}
	k.kubectl("apply", "--server-side", "-f", p)
}

func (k *cluster) crd() *apiextensionsv1.CustomResourceDefinition {
	k.t.Helper()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := k.c.Get(ctx(), client.ObjectKey{Name: crdName}, &crd); err != nil {
		k.t.Fatalf("CRD %s: %v", crdName, err)
	}
	return &crd
}

func (k *cluster) endpoint(name string) *unstructured.Unstructured {
	k.t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(endpointGVK)
	if err := k.c.Get(ctx(), client.ObjectKey{Namespace: "default", Name: name}, u); err != nil {
		k.t.Fatalf("WebhookEndpoint %s: %v", name, err)
	}
	return u
}

// endpoint is a WebhookEndpoint both CRD versions accept, plus extra spec
// lines.
func endpoint(name, extraSpec string) string {
	return `apiVersion: hookgate.io/v1alpha1
kind: WebhookEndpoint
metadata: {name: ` + name + `, namespace: default}
spec:
  provider: github
  secretRef: {name: github-webhook, key: secret}
  target:
    service: {name: ci-events, port: 8080}
` + extraSpec
}

func hasLimitsField(crd *apiextensionsv1.CustomResourceDefinition, field string) bool {
	for _, v := range crd.Spec.Versions {
		if v.Name != endpointGVK.Version || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		limits := v.Schema.OpenAPIV3Schema.Properties["spec"].Properties["limits"]
		_, ok := limits.Properties[field]
		return ok
	}
	return false
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func ctx() context.Context { return context.Background() }
