package controllers

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

var _ = Describe("spec.signedURL validation", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})
	square := func(u string) func(*hookv1.WebhookEndpoint) {
		return func(e *hookv1.WebhookEndpoint) { e.Spec.Provider, e.Spec.SignedURL = "square", u }
	}

	DescribeTable("the API accepts a signed URL only where it is used and well formed",
		func(mutate func(*hookv1.WebhookEndpoint), msg string) {
			ep := endpoint(ns, "signed-url")
			mutate(ep)
			err := k8s.Create(ctx, ep)
			if msg == "" {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(msg))
		},
		Entry("an https URL for square", square("https://hooks.example.com/tenant-a/hook/abc"), ""),
		Entry("http on localhost", square("http://localhost:8080/hook/abc"), ""),
		Entry("http elsewhere", square("http://hooks.example.com/hook/abc"), "spec.signedURL must be an absolute https URL"),
		Entry("a relative URL", square("/hook/abc"), "spec.signedURL must be an absolute https URL"),
		Entry("a fragment", square("https://hooks.example.com/hook/abc#x"), "must have no fragment and no query"),
		Entry("a query", square("https://hooks.example.com/hook/abc?x=1"), "must have no fragment and no query"),
		Entry("a provider that does not sign the URL", func(e *hookv1.WebhookEndpoint) {
			e.Spec.SignedURL = "https://hooks.example.com/hook/abc"
		}, "spec.signedURL is only used by providers that sign the URL"),
		Entry("generic-hmac signing {url}", func(e *hookv1.WebhookEndpoint) {
			e.Spec.Provider, e.Spec.SignedURL = hookv1.ProviderGenericHMAC, "https://hooks.example.com/hook/abc"
			e.Spec.GenericHMAC = &hookv1.GenericHMACSpec{SignedContent: "{url}{body}"}
		}, ""),
		Entry("generic-hmac not signing {url}", func(e *hookv1.WebhookEndpoint) {
			e.Spec.Provider, e.Spec.SignedURL = hookv1.ProviderGenericHMAC, "https://hooks.example.com/hook/abc"
			e.Spec.GenericHMAC = &hookv1.GenericHMACSpec{}
		}, "spec.signedURL is only used by providers that sign the URL"),
	)
})
