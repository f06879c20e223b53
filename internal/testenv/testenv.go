// Package testenv starts the real control plane that hack/control-plane.sh
// builds (etcd and kube-apiserver from the Go module proxy) for envtest
// suites. There is no fallback: a missing control plane fails the suite with
// the command that builds it.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot is the repository root, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir returns the folder with etcd, kube-apiserver and kubectl.
func AssetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "bin", "k8s")
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("control plane binary %s missing in %s: run `make control-plane` (or `make test`, which builds it)", b, dir)
		}
	}
	return dir, nil
}

// New returns an envtest environment with Hookgate's CRDs and the real
// control plane.
func New() (*envtest.Environment, error) {
	dir, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	return &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: dir,
	}, nil
}

// GatewayAPICRDs is the folder with the Gateway API HTTPRoute CRD that
// hack/control-plane.sh fetches, for tests that install it mid-suite.
func GatewayAPICRDs() (string, error) {
	dir, err := AssetsDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "gateway-api")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("Gateway API CRDs missing in %s: run `make control-plane`", p)
	}
	return p, nil
}

// LocalArgs keeps a chart's container flags but points addresses and paths
// at this machine, for suites that run the chart's processes locally: what
// the chart sets for a pod has no meaning outside one. An override replaces
// the flag's value, an empty one drops the flag, and an override the chart
// lacks is appended.
func LocalArgs(chartArgs []string, overrides map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range chartArgs {
		name, _, _ := strings.Cut(a, "=")
		if v, ok := overrides[name]; ok {
			seen[name] = true
			if v != "" {
				out = append(out, name+"="+v)
			}
			continue
		}
		out = append(out, a)
	}
	for name, v := range overrides {
		if !seen[name] && v != "" {
			out = append(out, name+"="+v)
		}
	}
	return out
}

// TokenKubeconfig is a kubeconfig for the API server cfg points at whose
// user authenticates with a bearer token (a ServiceAccount's, from
// `kubectl create token`), in namespace ns: what kubectl hookgate needs,
// since the events API checks tokens and envtest's users have client
// certificates.
func TokenKubeconfig(cfg *rest.Config, user, token, ns string) ([]byte, error) {
	c := clientcmdapi.NewConfig()
	c.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	c.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	c.Contexts[user] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user, Namespace: ns}
	c.CurrentContext = user
	return clientcmd.Write(*c)
}
