package main

import (
	"flag"

	"k8s.io/client-go/rest"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = hookv1.AddToScheme(s)
	return s
}

// zapFlags binds the logging flags (--zap-log-level, --zap-devel, ...).
func zapFlags(fs *flag.FlagSet) *zap.Options {
	o := &zap.Options{}
	o.BindFlags(fs)
	return o
}

func setLogger(o *zap.Options) {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(o)))
}

// pprofFlag binds --pprof-bind-address: Go's profiles (/debug/pprof) for
// finding where CPU and memory go; off unless set.
func pprofFlag(fs *flag.FlagSet) *string {
	return fs.String("pprof-bind-address", "0", "address of the Go profiling endpoint /debug/pprof (e.g. 127.0.0.1:6060); 0 disables it. It shows the process's memory: bind it to loopback")
}

// kubeFlags binds --kube-api-qps and --kube-api-burst: client-side limits
// of requests to the API server. controller-runtime's defaults (20/30) make
// thousands of endpoints take many minutes to converge.
func kubeFlags(fs *flag.FlagSet) func() *rest.Config {
	qps := fs.Float64("kube-api-qps", 200, "requests per second to the Kubernetes API server (client-side limit)")
	burst := fs.Int("kube-api-burst", 400, "burst of requests to the Kubernetes API server above --kube-api-qps")
	return func() *rest.Config {
		cfg := ctrl.GetConfigOrDie()
		cfg.QPS, cfg.Burst = float32(*qps), *burst
		return cfg
	}
}
