package controllers

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/freeport"
	"github.com/hookgate/hookgate/internal/testenv"
	"github.com/hookgate/hookgate/internal/webhookcert"
)

const (
	badFilter  = "event.tpye == 'x'"
	goodFilter = `event.type == "push"`
	// Nested loops over the body: compiles, but costs too much.
	costlyFilter = "event.body.a.exists(x, event.body.b.exists(y, y == x))"
)

func target(name, filter string) hookv1.TargetSpec {
	return hookv1.TargetSpec{Name: name, Service: hookv1.ServiceTarget{Name: name, Port: 8080}, Filter: filter}
}

func TestValidateExpressions(t *testing.T) {
	cases := []struct {
		name string
		spec hookv1.WebhookEndpointSpec
		want []string // "path: substring of the detail"
	}{
		{name: "an endpoint without filters is valid",
			spec: hookv1.WebhookEndpointSpec{Target: ptr.To(target("a", ""))}},
		{name: "a filter that compiles is valid",
			spec: hookv1.WebhookEndpointSpec{Target: ptr.To(target("a", goodFilter))}},
		{name: "a misspelt field in spec.target is refused at spec.target.filter",
			spec: hookv1.WebhookEndpointSpec{Target: ptr.To(target("a", badFilter))},
			want: []string{"spec.target.filter: invalid filter expression: ERROR: <input>:1:6: undefined field 'tpye'"}},
		{name: "every bad filter of spec.targets is listed at its index",
			spec: hookv1.WebhookEndpointSpec{Targets: []hookv1.TargetSpec{target("a", goodFilter), target("b", badFilter), target("c", costlyFilter), target("d", "")}},
			want: []string{"spec.targets[1].filter: undefined field 'tpye'", "spec.targets[2].filter: filter expression is too expensive"}},
		{name: "a filter that yields no bool is refused",
			spec: hookv1.WebhookEndpointSpec{Target: ptr.To(target("a", "event.type"))},
			want: []string{"spec.target.filter: must yield bool"}},
		{name: "a blank filter is refused: unset is the empty string",
			spec: hookv1.WebhookEndpointSpec{Target: ptr.To(target("a", "  "))},
			want: []string{"spec.target.filter: filter expression is empty"}},
		{name: "an ordering key is checked as a key: it must yield a string or an integer",
			spec: hookv1.WebhookEndpointSpec{Targets: []hookv1.TargetSpec{
				{Name: "a", Service: hookv1.ServiceTarget{Name: "a", Port: 80}, Ordering: &hookv1.OrderingSpec{Key: "event.body.repository.full_name"}},
				{Name: "b", Service: hookv1.ServiceTarget{Name: "b", Port: 80}, Ordering: &hookv1.OrderingSpec{Key: "event.type == 'x'"}},
				{Name: "c", Service: hookv1.ServiceTarget{Name: "c", Port: 80}, Ordering: &hookv1.OrderingSpec{}},
			}},
			want: []string{"spec.targets[1].ordering.key: key expression must yield"}},
		{name: "spec.target wins over spec.targets, as in DeliveryTargets",
			spec: hookv1.WebhookEndpointSpec{Target: ptr.To(target("a", goodFilter)), Targets: []hookv1.TargetSpec{target("b", badFilter)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := ValidateExpressions(&c.spec)
			if len(errs) != len(c.want) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(c.want), errs)
			}
			for i, w := range c.want {
				path, detail, _ := strings.Cut(w, ": ")
				if errs[i].Field != path || errs[i].Type != field.ErrorTypeInvalid || !strings.Contains(errs[i].Detail, detail) {
					t.Errorf("error %d is %q, want Invalid at %s containing %q", i, errs[i].Error(), path, detail)
				}
			}
		})
	}
}

// review runs the webhook the manager serves on one admission request.
func review(t *testing.T, op admissionv1.Operation, obj, old *hookv1.WebhookEndpoint) admission.Response {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := hookv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	raw := func(ep *hookv1.WebhookEndpoint) runtime.RawExtension {
		if ep == nil {
			return runtime.RawExtension{}
		}
		ep = ep.DeepCopy()
		ep.APIVersion, ep.Kind = hookv1.GroupVersion.String(), "WebhookEndpoint"
		b, err := json.Marshal(ep)
		if err != nil {
			t.Fatal(err)
		}
		return runtime.RawExtension{Raw: b}
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       types.UID("review-1"),
		Kind:      metav1.GroupVersionKind{Group: hookv1.GroupVersion.Group, Version: hookv1.GroupVersion.Version, Kind: "WebhookEndpoint"},
		Resource:  metav1.GroupVersionResource{Group: hookv1.GroupVersion.Group, Version: hookv1.GroupVersion.Version, Resource: "webhookendpoints"},
		Name:      "ep",
		Namespace: "team",
		Operation: op,
		Object:    raw(obj),
		OldObject: raw(old),
	}}
	return NewEndpointWebhook(scheme).Handle(context.Background(), req)
}

func withTargets(ts ...hookv1.TargetSpec) *hookv1.WebhookEndpoint {
	ep := endpoint("team", "ep")
	ep.Spec.Target, ep.Spec.Targets = nil, ts
	return ep
}

func TestTheWebhookRefusesWhatDoesNotCompileAndOnlyThat(t *testing.T) {
	bad := withTargets(target("a", goodFilter), target("b", badFilter))
	good := withTargets(target("a", goodFilter), target("b", ""))
	relabelled := bad.DeepCopy()
	relabelled.Labels = map[string]string{"team": "payments"}
	deleting := bad.DeepCopy()
	deleting.DeletionTimestamp = ptr.To(metav1.Now())
	deleting.Finalizers = nil
	moved := withTargets(target("b", badFilter), target("a", goodFilter))

	for _, c := range []struct {
		name     string
		op       admissionv1.Operation
		obj, old *hookv1.WebhookEndpoint
		refused  string // a substring of the message; "" when allowed
	}{
		{"a create with a filter that does not compile is refused with its path", admissionv1.Create, bad, nil,
			`spec.targets[1].filter: Invalid value: "event.tpye == 'x'": invalid filter expression: ERROR: <input>:1:6: undefined field 'tpye'`},
		{"a create whose filters compile is allowed", admissionv1.Create, good, nil, ""},
		{"an update that introduces a bad filter is refused", admissionv1.Update, bad, good, "spec.targets[1].filter"},
		{"an update that keeps a stored bad filter where it was is allowed", admissionv1.Update, relabelled, bad, ""},
		{"an update that moves a stored bad filter to another target is refused", admissionv1.Update, moved, bad, "spec.targets[0].filter"},
		{"an update of an endpoint being deleted is allowed", admissionv1.Update, deleting, good, ""},
		{"a delete is allowed", admissionv1.Delete, nil, bad, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := review(t, c.op, c.obj, c.old)
			if resp.UID != "review-1" {
				t.Errorf("response UID %q, want the request's", resp.UID)
			}
			if c.refused == "" {
				if !resp.Allowed {
					t.Fatalf("refused: %v", resp.Result)
				}
				return
			}
			if resp.Allowed {
				t.Fatal("allowed")
			}
			if resp.Result.Code != http.StatusUnprocessableEntity || resp.Result.Reason != metav1.StatusReasonInvalid {
				t.Errorf("status %d %s, want 422 Invalid", resp.Result.Code, resp.Result.Reason)
			}
			if !strings.Contains(resp.Result.Message, c.refused) {
				t.Errorf("message %q lacks %q", resp.Result.Message, c.refused)
			}
			if resp.Result.Details == nil || len(resp.Result.Details.Causes) == 0 || resp.Result.Details.Causes[0].Field == "" {
				t.Errorf("no field in the status causes: %+v", resp.Result.Details)
			}
		})
	}
}

// The path is written in the manifests that register the webhook; hack/dev
// uses the constant.
func TestTheManifestsRegisterTheWebhookPath(t *testing.T) {
	for _, f := range []string{"charts/hookgate/templates/webhook.yaml", "config/webhook/manifests.yaml"} {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "path: "+ValidatingWebhookPath+"\n") {
			t.Errorf("%s does not register path %s", f, ValidatingWebhookPath)
		}
	}
}

// The webhook as the API server calls it: the certificate from
// internal/webhookcert, its CA published in a ValidatingWebhookConfiguration
// that points at a webhook server on this machine. The configuration
// matches only this spec's namespace, so no other spec depends on it.
var _ = Describe("The validating admission webhook", func() {
	It("makes the API server refuse a filter that does not compile, on create and update, and accept one that does", func() {
		ctx, stop := context.WithCancel(context.Background())
		DeferCleanup(stop)
		ns := newNamespace(ctx)
		port, err := freeport.Get()
		Expect(err).NotTo(HaveOccurred())

		certs := &webhookcert.Rotator{
			Client:               k8s,
			Secret:               types.NamespacedName{Namespace: receiverNamespace, Name: "webhook-cert-" + ns},
			Names:                []string{"127.0.0.1"},
			WebhookConfiguration: "hookgate-webhook-" + ns,
			Interval:             time.Second,
		}
		srv := webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: port, TLSOpts: []func(*tls.Config){certs.ConfigureTLS}})
		srv.Register(ValidatingWebhookPath, NewEndpointWebhook(k8s.Scheme()))
		go func() {
			defer GinkgoRecover()
			Expect(srv.Start(ctx)).To(Succeed())
		}()
		go func() {
			defer GinkgoRecover()
			Expect(certs.Start(ctx)).To(Succeed())
		}()

		url := "https://127.0.0.1:" + strconv.Itoa(port) + ValidatingWebhookPath
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: certs.WebhookConfiguration},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name:                    "webhookendpoints.hookgate.io",
				ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url},
				AdmissionReviewVersions: []string{"v1"},
				SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
				FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
				MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
				TimeoutSeconds:          ptr.To[int32](5),
				NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
				Rules: []admissionregistrationv1.RuleWithOperations{{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule: admissionregistrationv1.Rule{APIGroups: []string{"hookgate.io"}, APIVersions: []string{"v1alpha1"},
						Resources: []string{"webhookendpoints"}, Scope: ptr.To(admissionregistrationv1.NamespacedScope)},
				}},
			}},
		}
		Expect(k8s.Create(ctx, vwc)).To(Succeed())
		DeferCleanup(func() { _ = k8s.Delete(context.Background(), vwc) })

		By("publishing the CA as the caBundle")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(vwc), vwc)).To(Succeed())
			g.Expect(vwc.Webhooks[0].ClientConfig.CABundle).NotTo(BeEmpty())
			g.Expect(certs.Ready(nil)).To(Succeed())
		}, timeout, interval).Should(Succeed())

		bad := endpoint(ns, "bad")
		bad.Spec.Target = nil
		bad.Spec.Targets = []hookv1.TargetSpec{target("a", goodFilter), target("b", badFilter)}
		By("refusing a create once the API server calls the webhook (a dry run until then)")
		Eventually(func() error {
			return k8s.Create(ctx, bad.DeepCopy(), client.DryRunAll)
		}, timeout, interval).Should(HaveOccurred())
		err = k8s.Create(ctx, bad)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring(`spec.targets[1].filter: Invalid value: "event.tpye == 'x'": invalid filter expression: ERROR: <input>:1:6: undefined field 'tpye'`))

		By("accepting a filter that compiles")
		good := endpoint(ns, "good")
		good.Spec.Target.Filter = goodFilter
		Expect(k8s.Create(ctx, good)).To(Succeed())

		By("refusing an update that introduces a bad filter")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(good), good)).To(Succeed())
			good.Spec.Target.Filter = badFilter
			err := k8s.Update(ctx, good)
			g.Expect(apierrors.IsConflict(err)).To(BeFalse(), "retry on a conflict with the controller")
			g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
			g.Expect(err.Error()).To(ContainSubstring("spec.target.filter: Invalid value"))
		}, timeout, interval).Should(Succeed())
	})
})
