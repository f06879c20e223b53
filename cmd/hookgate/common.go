package main

import (
	"flag"

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
