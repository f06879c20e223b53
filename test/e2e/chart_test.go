package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/hookgate/hookgate/internal/testenv"
)

// The release as a user would install it.
const (
	releaseName      = "hookgate"
	releaseNamespace = "hookgate-system"
)

func tool(name string) string {
	p := filepath.Join(testenv.RepoRoot(), "bin", name)
	_, err := os.Stat(p)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "%s missing: run `make test`, which builds it", p)
	return p
}

func helm() string    { return tool("helm") }
func kubectl() string { return tool(filepath.Join("k8s", "kubectl")) }

// run runs a command and returns its combined output, failing the spec on error.
func run(name string, args ...string) string {
	out, err := runErr(name, args...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "%s %s:\n%s", filepath.Base(name), strings.Join(args, " "), out)
	return out
}

func runErr(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kc runs the kubectl built by hack/ against the test's API server.
func kc(args ...string) string {
	return run(kubectl(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

// renderChart renders the chart with the CRDs, as `helm install` would apply it.
func renderChart(extra ...string) (string, []*unstructured.Unstructured) {
	args := append([]string{"template", releaseName, "charts/hookgate", "--namespace", releaseNamespace, "--include-crds"}, extra...)
	out := run(helm(), args...)
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewBufferString(out), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		Expect(err).NotTo(HaveOccurred())
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	return out, objs
}

func findObject(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	Fail("chart renders no " + kind + " " + name)
	return nil
}

// podSpecOf returns the service account and first container's args of a
// Deployment or StatefulSet.
func podSpecOf(o *unstructured.Unstructured) (serviceAccount string, args []string) {
	sa, _, _ := unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName")
	containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	Expect(containers).NotTo(BeEmpty())
	raw, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	return sa, raw
}

// envSecretRef returns "secret/key" of the first container's variable name,
// set from a Secret.
func envSecretRef(o *unstructured.Unstructured, name string) string {
	containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	Expect(containers).NotTo(BeEmpty())
	env, _, _ := unstructured.NestedSlice(containers[0].(map[string]any), "env")
	for _, e := range env {
		m := e.(map[string]any)
		if m["name"] != name {
			continue
		}
		s, _, _ := unstructured.NestedString(m, "valueFrom", "secretKeyRef", "name")
		k, _, _ := unstructured.NestedString(m, "valueFrom", "secretKeyRef", "key")
		return s + "/" + k
	}
	return ""
}

var rbacKinds = map[string]bool{
	"ServiceAccount": true, "ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
}
