package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/testenv"
)

// acmeProvider is a custom HMAC provider as a platform team would write it.
func acmeProvider(name string) *hookv1.WebhookProvider {
	return &hookv1.WebhookProvider{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: hookv1.WebhookProviderSpec{
			DisplayName: "Acme Events", Docs: "https://docs.acme.example/webhooks", Scheme: hookv1.SchemeHMAC,
			HMAC: &hookv1.HMACRecipe{
				Header: "X-Acme-Signature", Prefix: "v1=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex",
				SignedContent: "{timestamp}.{body}", TimestampParam: "t", IDField: "id",
			},
		},
	}
}

func providerCondition(ctx context.Context, name string) func(g Gomega) *metav1.Condition {
	return func(g Gomega) *metav1.Condition {
		var p hookv1.WebhookProvider
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, &p)).To(Succeed())
		c := meta.FindStatusCondition(p.Status.Conditions, hookv1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		return c
	}
}

func deleteProvider(ctx context.Context, name string) {
	Expect(client.IgnoreNotFound(k8s.Delete(ctx, &hookv1.WebhookProvider{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
}

var _ = Describe("WebhookProvider validation", func() {
	ctx := context.Background()

	// The built-in table is written in the same schema: each table-driven
	// entry, as a WebhookProvider, passes the CRD's CEL rules and reads
	// back as the same entry.
	It("accepts every table-driven built-in entry and reads it back unchanged", func() {
		suffix := rand.String(5)
		n := 0
		for _, info := range hookv1.Providers {
			if info.Scheme != hookv1.SchemeHMAC && info.Scheme != hookv1.SchemeToken {
				continue
			}
			spec, err := hookv1.WebhookProviderSpecFromInfo(info)
			if errors.Is(err, hookv1.ErrHandshakeNotTableDriven) {
				continue
			}
			Expect(err).NotTo(HaveOccurred())
			name := fmt.Sprintf("builtin-%s-%s", info.Name, suffix)
			Expect(k8s.Create(ctx, &hookv1.WebhookProvider{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec})).
				To(Succeed(), "built-in %s does not fit the WebhookProvider schema", info.Name)
			DeferCleanup(deleteProvider, ctx, name)
			var stored hookv1.WebhookProvider
			Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, &stored)).To(Succeed())
			got := stored.Spec.ProviderInfo(string(info.Name))
			Expect(reflect.DeepEqual(got, info)).To(BeTrue(), "%s changed on the way through the API:\n got %+v\nwant %+v", info.Name, got, info)
			n++
		}
		Expect(n).To(BeNumerically(">", 50))
	})

	It("accepts the sample in config/samples", func() {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "hookgate_v1alpha1_webhookprovider.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var p hookv1.WebhookProvider
		Expect(yaml.Unmarshal([]byte(strings.Split(string(b), "\n---\n")[0]), &p)).To(Succeed())
		Expect(p.Kind).To(Equal("WebhookProvider"))
		Expect(p.Spec.Validate()).To(Succeed())
		p.Name += "-sample-" + rand.String(5)
		Expect(k8s.Create(ctx, &p)).To(Succeed())
		DeferCleanup(deleteProvider, ctx, p.Name)
	})

	DescribeTable("the API accepts a recipe only when it is complete and consistent",
		func(mutate func(*hookv1.WebhookProviderSpec), msg string) {
			p := acmeProvider("acme-" + rand.String(6))
			mutate(&p.Spec)
			err := k8s.Create(ctx, p)
			if msg == "" {
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(deleteProvider, ctx, p.Name)
				Expect(p.Spec.Validate()).To(Succeed(), "the CRD accepts what Validate refuses")
				return
			}
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(msg))
			Expect(p.Spec.Validate()).To(HaveOccurred(), "Validate accepts what the CRD refuses")
		},
		Entry("a good HMAC provider", func(*hookv1.WebhookProviderSpec) {}, ""),
		Entry("a token provider", func(s *hookv1.WebhookProviderSpec) {
			s.Scheme, s.HMAC, s.Token = hookv1.SchemeToken, nil, &hookv1.TokenRecipe{Header: "X-Acme-Token"}
		}, ""),
		Entry("a jwt provider", func(s *hookv1.WebhookProviderSpec) {
			s.Scheme, s.HMAC = hookv1.SchemeJWT, nil
			s.JWT = &hookv1.JWTRecipe{Issuers: []string{"https://issuer.acme.example"}, JWKSURL: "https://issuer.acme.example/jwks", Audiences: []string{"https://hooks.example.com"}}
		}, ""),
		Entry("hmac without its recipe", func(s *hookv1.WebhookProviderSpec) { s.HMAC = nil }, "scheme hmac needs spec.hmac"),
		Entry("a recipe of another scheme", func(s *hookv1.WebhookProviderSpec) { s.Token = &hookv1.TokenRecipe{Header: "X-T"} }, "spec.token is only used by scheme token"),
		Entry("a scheme with code of its own", func(s *hookv1.WebhookProviderSpec) { s.Scheme = "github" }, "spec.scheme"),
		Entry("an unknown placeholder", func(s *hookv1.WebhookProviderSpec) { s.HMAC.SignedContent = "{timestamp}.{bdy}{body}" },
			"may use only the placeholders {body}, {timestamp}, {id}, {url} and {method}"),
		Entry("a template without the body", func(s *hookv1.WebhookProviderSpec) { s.HMAC.SignedContent = "{timestamp}" }, "must include {body}"),
		Entry("timestampParam without a list separator", func(s *hookv1.WebhookProviderSpec) { s.HMAC.ListSeparator = "" },
			"set hmac.listSeparator too"),
		Entry("a timestamp placeholder without a source", func(s *hookv1.WebhookProviderSpec) { s.HMAC.TimestampParam, s.HMAC.ListSeparator = "", "" },
			"hmac.signedContent must use {timestamp} exactly when"),
		Entry("{id} without an id header", func(s *hookv1.WebhookProviderSpec) { s.HMAC.SignedContent = "{timestamp}.{id}.{body}" }, "set hmac.idHeader"),
		Entry("an unknown algorithm", func(s *hookv1.WebhookProviderSpec) { s.HMAC.Algorithm = "md5" }, "hmac.algorithm"),
		Entry("a handshake hmac does not answer", func(s *hookv1.WebhookProviderSpec) {
			s.Handshake = hookv1.HandshakeInfo{Kind: hookv1.HandshakeOktaChallenge, Method: "GET"}
		}, "spec.handshake.kind is not answered by this scheme"),
		Entry("a handshake with the wrong method", func(s *hookv1.WebhookProviderSpec) {
			s.Handshake = hookv1.HandshakeInfo{Kind: hookv1.HandshakeHeadCheck, Method: "GET"}
		}, "spec.handshake.method must be the method the handshake arrives with"),
		Entry("a generated key that is not hex", func(s *hookv1.WebhookProviderSpec) { s.Key = hookv1.KeyInfo{ReceiverChooses: true} },
			"spec.key.receiverChooses needs spec.key.format hex"),
		Entry("jwt without keys", func(s *hookv1.WebhookProviderSpec) {
			s.Scheme, s.HMAC = hookv1.SchemeJWT, nil
			s.JWT = &hookv1.JWTRecipe{Issuers: []string{"https://issuer.acme.example"}}
		}, "scheme jwt needs spec.jwt.issuers and the issuer's keys"),
		Entry("jwt without an issuer", func(s *hookv1.WebhookProviderSpec) {
			s.Scheme, s.HMAC = hookv1.SchemeJWT, nil
			s.JWT = &hookv1.JWTRecipe{JWKSURL: "https://issuer.acme.example/jwks"}
		}, "scheme jwt needs spec.jwt.issuers"),
		Entry("jwt with an http JWKS URL", func(s *hookv1.WebhookProviderSpec) {
			s.Scheme, s.HMAC = hookv1.SchemeJWT, nil
			s.JWT = &hookv1.JWTRecipe{Issuers: []string{"https://issuer.acme.example"}, JWKSURL: "http://issuer.acme.example/jwks"}
		}, "jwt.jwksURL must be an https URL"),
	)
})

var _ = Describe("WebhookEndpoint with spec.providerRef", func() {
	var (
		ctx context.Context
		ns  string
	)
	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx)
	})
	refEndpoint := func(provider string) *hookv1.WebhookEndpoint {
		ep := endpoint(ns, "acme")
		ep.Spec.Provider, ep.Spec.ProviderRef = "", &hookv1.ProviderReference{Name: provider}
		return ep
	}

	DescribeTable("the API takes exactly one of spec.provider and spec.providerRef",
		func(mutate func(*hookv1.WebhookEndpoint), msg string) {
			ep := refEndpoint("acme")
			mutate(ep)
			err := k8s.Create(ctx, ep)
			if msg == "" {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(msg))
		},
		Entry("providerRef alone", func(*hookv1.WebhookEndpoint) {}, ""),
		Entry("providerRef with rotation and a signed URL (checked against the provider by the manager)", func(e *hookv1.WebhookEndpoint) {
			e.Spec.Rotation = &hookv1.RotationSpec{Generate: true}
			e.Spec.SignedURL = "https://hooks.example.com/hook/abc"
		}, ""),
		Entry("both", func(e *hookv1.WebhookEndpoint) { e.Spec.Provider = hookv1.ProviderGitHub }, "set exactly one of spec.provider"),
		Entry("neither", func(e *hookv1.WebhookEndpoint) { e.Spec.ProviderRef = nil }, "set exactly one of spec.provider"),
		Entry("a built-in's settings", func(e *hookv1.WebhookEndpoint) { e.Spec.GitHub = &hookv1.GitHubSpec{} }, "the WebhookProvider is the recipe"),
		Entry("the issuer's keys", func(e *hookv1.WebhookEndpoint) {
			e.Spec.JWT = &hookv1.JWTSpec{Audiences: []string{"a"}, JWKSURL: "https://i.example/jwks"}
		}, "the WebhookProvider is the recipe"),
	)

	It("is not Ready until its WebhookProvider exists, follows its changes and its deletion", func() {
		name := "acme-" + rand.String(6)
		DeferCleanup(deleteProvider, ctx, name)
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		Expect(k8s.Create(ctx, secret(ns))).To(Succeed())
		ep := refEndpoint(name)
		Expect(k8s.Create(ctx, ep)).To(Succeed())

		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", hookv1.ReasonProviderNotFound),
			HaveField("Message", ContainSubstring(name)),
		))
		Eventually(eventsFor(ctx, ep), timeout, interval).Should(ContainElement("Warning " + hookv1.ReasonProviderNotFound))
		Expect(get(ctx, ep)(Default).Status.WebhookPath).To(MatchRegexp(pathRE.String()))

		By("creating the WebhookProvider")
		p := acmeProvider(name)
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		Expect(condition(ctx, ep, hookv1.ConditionSecretReady)(Default)).To(HaveField("Status", metav1.ConditionTrue))
		Eventually(providerCondition(ctx, name), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		Eventually(func(g Gomega) int32 {
			var got hookv1.WebhookProvider
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, &got)).To(Succeed())
			return got.Status.Endpoints
		}, timeout, interval).Should(Equal(int32(1)))

		By("updating it to a recipe that passes the schema but not the manager's check")
		Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, p)).To(Succeed())
		p.Spec.Scheme, p.Spec.HMAC = hookv1.SchemeJWT, nil
		p.Spec.JWT = &hookv1.JWTRecipe{Issuers: []string{"https://issuer.acme.example"}, Keys: []string{"not a key"}}
		Expect(k8s.Update(ctx, p)).To(Succeed())
		Eventually(providerCondition(ctx, name), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", hookv1.ReasonProviderInvalid),
			HaveField("ObservedGeneration", p.Generation),
		))
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", hookv1.ReasonProviderNotReady),
			HaveField("Message", ContainSubstring("neither PEM nor a JWK")),
		))
		Eventually(func(g Gomega) []string {
			var list eventsv1.EventList
			g.Expect(k8s.List(ctx, &list)).To(Succeed())
			var out []string
			for _, e := range list.Items {
				if e.Regarding.Kind == "WebhookProvider" && e.Regarding.Name == name {
					out = append(out, e.Type+" "+e.Reason)
				}
			}
			return out
		}, timeout, interval).Should(ContainElement("Warning " + hookv1.ReasonProviderInvalid))

		By("fixing it, with a key rotation the provider does not allow")
		Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, p)).To(Succeed())
		p.Spec = acmeProvider(name).Spec
		Expect(k8s.Update(ctx, p)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		cur := get(ctx, ep)(Default)
		cur.Spec.Rotation = &hookv1.RotationSpec{}
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(And(
			HaveField("Reason", hookv1.ReasonProviderMismatch),
			HaveField("Message", ContainSubstring("spec.rotation needs a provider where the receiver chooses the secret")),
		))
		cur = get(ctx, ep)(Default)
		cur.Spec.Rotation = nil
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))

		By("deleting it")
		deleteProvider(ctx, name)
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Reason", hookv1.ReasonProviderNotFound))
	})

	It("needs no Secret with a jwt WebhookProvider", func() {
		name := "acme-jwt-" + rand.String(6)
		DeferCleanup(deleteProvider, ctx, name)
		Expect(k8s.Create(ctx, &hookv1.WebhookProvider{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: hookv1.WebhookProviderSpec{
			DisplayName: "Acme OIDC", Scheme: hookv1.SchemeJWT,
			JWT: &hookv1.JWTRecipe{Issuers: []string{"https://issuer.acme.example"}, JWKSURL: "https://issuer.acme.example/jwks"},
		}})).To(Succeed())
		Expect(k8s.Create(ctx, service(ns, 8080))).To(Succeed())
		ep := refEndpoint(name)
		ep.Spec.SecretRef = nil
		ep.Spec.JWT = &hookv1.JWTSpec{Audiences: []string{"https://hooks.example.com"}}
		Expect(k8s.Create(ctx, ep)).To(Succeed())
		Eventually(condition(ctx, ep, hookv1.ConditionReady), timeout, interval).Should(HaveField("Status", metav1.ConditionTrue))
		Expect(condition(ctx, ep, hookv1.ConditionSecretReady)(Default)).To(HaveField("Message", ContainSubstring("https://issuer.acme.example/jwks")))
	})
})
