package controllers

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/filter"
)

// ValidatingWebhookPath is where the manager's webhook server serves the
// WebhookEndpoint validating webhook (controller-runtime's name for it). The
// chart, config/webhook and hack/dev register this path; a test checks they
// agree.
const ValidatingWebhookPath = "/validate-hookgate-io-v1alpha1-webhookendpoint"

// The ValidatingWebhookConfiguration the manager keeps the caBundle of needs
// get and patch on it; the chart and config/rbac narrow them to its name.
// The serving certificate lives in a Secret of the manager's namespace
// (internal/webhookcert), written with the Secrets verbs granted in
// webhookendpoint_controller.go.
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;patch,resourceNames=hookgate-webhook

// ValidateExpressions compiles and cost-checks every CEL expression in spec,
// as the dispatcher will, and returns one error per expression that does not
// compile, at its field path (spec.target.filter, spec.targets[1].filter).
// Like DeliveryTargets, spec.target wins when both are set (the CRD forbids
// it). It is pure, for the admission webhook and the controller (the
// receiver, which does not import controllers/, compiles with
// internal/filter itself).
func ValidateExpressions(spec *hookv1.WebhookEndpointSpec) field.ErrorList {
	var errs field.ErrorList
	for _, e := range celExpressions(spec) {
		if err := e.compile(e.expr); err != nil {
			errs = append(errs, field.Invalid(e.path, e.expr, err.Error()))
		}
	}
	return errs
}

// celExpression is one CEL expression set in a spec, where it is and how it
// compiles.
type celExpression struct {
	path    *field.Path
	expr    string
	compile func(string) error
}

func compileFilter(expr string) error { _, err := filter.CompileFilter(expr); return err }

func compileKey(expr string) error { _, err := filter.CompileKey(expr); return err }

// celExpressions lists the CEL expressions set in spec. A new CEL field is
// one more line in target.
func celExpressions(spec *hookv1.WebhookEndpointSpec) []celExpression {
	var out []celExpression
	add := func(p *field.Path, expr string, compile func(string) error) {
		// Unset is "", not "  ": a blank expression is refused as empty.
		if expr != "" {
			out = append(out, celExpression{path: p, expr: expr, compile: compile})
		}
	}
	target := func(p *field.Path, t *hookv1.TargetSpec) {
		add(p.Child("filter"), t.Filter, compileFilter)
		if t.Ordering != nil {
			add(p.Child("ordering", "key"), t.Ordering.Key, compileKey)
		}
	}
	specPath := field.NewPath("spec")
	if spec.Target != nil {
		target(specPath.Child("target"), spec.Target)
	} else {
		for i := range spec.Targets {
			target(specPath.Child("targets").Index(i), &spec.Targets[i])
		}
	}
	return out
}

// EndpointValidator is the validating admission webhook of WebhookEndpoints:
// it refuses a create or update whose CEL expressions do not compile, which
// CRD validation cannot check.
type EndpointValidator struct{}

var _ admission.Validator[*hookv1.WebhookEndpoint] = EndpointValidator{}

// NewEndpointWebhook returns the webhook handler that SetupAdmissionWebhook
// serves at ValidatingWebhookPath.
func NewEndpointWebhook(scheme *runtime.Scheme) *admission.Webhook {
	return admission.WithValidator[*hookv1.WebhookEndpoint](scheme, EndpointValidator{})
}

// SetupAdmissionWebhook registers the validating webhook on the manager's
// webhook server, which the manager then starts.
func SetupAdmissionWebhook(mgr ctrl.Manager) {
	mgr.GetWebhookServer().Register(ValidatingWebhookPath, NewEndpointWebhook(mgr.GetScheme()))
}

// ValidateCreate refuses an endpoint with an expression that does not compile.
func (EndpointValidator) ValidateCreate(_ context.Context, ep *hookv1.WebhookEndpoint) (admission.Warnings, error) {
	return nil, invalid(ep, ValidateExpressions(&ep.Spec))
}

// ValidateUpdate refuses an update that sets an expression that does not
// compile. An expression the old object already had at the same path is let
// through (ratcheting, as Kubernetes does for CRD validation): an endpoint
// stored before this webhook existed, or by a Hookgate whose CEL environment
// was wider, can still be edited, labelled and have its finalizer removed;
// the controller reports the expression on its status.
func (EndpointValidator) ValidateUpdate(_ context.Context, old, ep *hookv1.WebhookEndpoint) (admission.Warnings, error) {
	if ep.DeletionTimestamp != nil {
		return nil, nil
	}
	errs := ValidateExpressions(&ep.Spec)
	if len(errs) == 0 {
		return nil, nil
	}
	had := map[string]bool{}
	for _, e := range celExpressions(&old.Spec) {
		had[e.path.String()+"\x00"+e.expr] = true
	}
	var fresh field.ErrorList
	for _, e := range errs {
		if expr, ok := e.BadValue.(string); !ok || !had[e.Field+"\x00"+expr] {
			fresh = append(fresh, e)
		}
	}
	return nil, invalid(ep, fresh)
}

// ValidateDelete allows every delete: nothing is compiled.
func (EndpointValidator) ValidateDelete(context.Context, *hookv1.WebhookEndpoint) (admission.Warnings, error) {
	return nil, nil
}

// invalid is the API's 422 Invalid listing every error, or nil.
func invalid(ep *hookv1.WebhookEndpoint, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(hookv1.GroupVersion.WithKind("WebhookEndpoint").GroupKind(), ep.Name, errs)
}
