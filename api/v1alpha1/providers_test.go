package v1alpha1

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// controller-gen reads markers from Go comments, not Go values, so the enum
// and the CEL rules that list providers cannot be generated from the table
// at build time. These tests rebuild every such marker from the table and
// fail, printing the line to paste, when webhookendpoint_types.go or the
// committed CRD disagree with it.

const typesFile = "webhookendpoint_types.go"

var crdFile = filepath.Join("..", "..", "config", "crd", "bases", "hookgate.io_webhookendpoints.yaml")

func celList(ps ...[]Provider) string {
	var q []string
	for _, l := range ps {
		for _, p := range l {
			q = append(q, "'"+string(p)+"'")
		}
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// words joins names as "a, b and c".
func words(ps ...[]Provider) string {
	var s []string
	for _, l := range ps {
		for _, p := range l {
			s = append(s, string(p))
		}
	}
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func commas(ps []Provider) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// providerEnumMarker is the Enum marker on type Provider.
func providerEnumMarker() string {
	names := make([]string, len(Providers))
	for i, p := range Providers {
		names[i] = string(p.Name)
	}
	return "// +kubebuilder:validation:Enum=" + strings.Join(names, ";")
}

// providerRule is one CEL rule of WebhookEndpointSpec that lists providers.
type providerRule struct{ rule, message string }

func (r providerRule) marker() string {
	return `// +kubebuilder:validation:XValidation:rule="` + r.rule + `",message="` + r.message + `"`
}

func providerRules() []providerRule {
	asym, opt, rot := AsymmetricProviders(), PublicKeysOptionalProviders(), ReceiverChoosesSecretProviders()
	noSecret, jwt, iss := NoSecretProviders(), JWTProviders(), JWTIssuerFromSpecProviders()
	signsURL := SignsURLProviders()
	return guardedByProviderRef([]providerRule{
		{
			rule:    "self.provider in " + celList(noSecret) + " || has(self.secretRef) || (self.provider in " + celList(opt) + " && has(self.publicKeys))",
			message: "spec.secretRef is required for this provider (" + words(opt) + " may use spec.publicKeys instead)",
		},
		{
			rule:    "!(self.provider in " + celList(asym) + ") || (has(self.publicKeys) && size(self.publicKeys) > 0)",
			message: "spec.publicKeys is required for " + words(asym),
		},
		{
			rule:    "!has(self.publicKeys) || self.provider in " + celList(asym, opt),
			message: "spec.publicKeys is only used by " + words(asym, opt),
		},
		{
			rule:    "!has(self.rotation) || self.provider in " + celList(rot),
			message: "spec.rotation is only possible where the receiver chooses the secret: " + commas(rot),
		},
		{
			rule:    "!(self.provider in " + celList(jwt) + ") || has(self.jwt)",
			message: "spec.jwt (at least spec.jwt.audiences) is required for " + words(jwt),
		},
		{
			rule:    "!has(self.jwt) || self.provider in " + celList(jwt),
			message: "spec.jwt is only used by " + words(jwt),
		},
		{
			rule:    "!(self.provider in " + celList(iss) + ") || (has(self.jwt) && has(self.jwt.issuer))",
			message: "spec.jwt.issuer is required for " + words(iss),
		},
		{
			rule:    "!has(self.jwt) || !has(self.jwt.issuer) || self.provider in " + celList(iss),
			message: "spec.jwt.issuer may only be set for " + words(iss) + ": the other providers' issuer is fixed",
		},
		{
			rule:    "!has(self.signedURL) || self.provider in " + celList(signsURL) + " || (self.provider == 'generic-hmac' && has(self.genericHMAC) && has(self.genericHMAC.signedContent) && self.genericHMAC.signedContent.contains('{url}'))",
			message: "spec.signedURL is only used by providers that sign the URL: " + commas(signsURL) + ", and generic-hmac when spec.genericHMAC.signedContent uses {url}",
		},
	})
}

// guardedByProviderRef prefixes each rule with has(self.providerRef): an
// endpoint that references a WebhookProvider has no spec.provider (CEL
// would fail on the missing field), and the manager checks it against
// the WebhookProvider instead.
func guardedByProviderRef(rules []providerRule) []providerRule {
	for i := range rules {
		rules[i].rule = "has(self.providerRef) || " + rules[i].rule
	}
	return rules
}

func TestProviderMarkersMatchTheTable(t *testing.T) {
	b, err := os.ReadFile(typesFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	var listing []string // marker lines in the file that list providers
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		lines[l] = true
		if strings.Contains(l, "self.provider in [") || (strings.HasPrefix(l, "// +kubebuilder:validation:Enum=") && strings.Contains(l, "github")) {
			listing = append(listing, l)
		}
	}
	want := map[string]bool{providerEnumMarker(): true}
	if !lines[providerEnumMarker()] {
		t.Errorf("%s: the Enum marker on type Provider differs from the provider table; paste:\n%s", typesFile, providerEnumMarker())
	}
	for _, r := range providerRules() {
		want[r.marker()] = true
		if !lines[r.marker()] {
			t.Errorf("%s: a CEL rule on WebhookEndpointSpec differs from the provider table; paste:\n%s", typesFile, r.marker())
		}
	}
	for _, l := range listing {
		if !want[l] {
			t.Errorf("%s: marker lists providers but is not derived from the table (replace it with one printed above or add it to providerRules):\n%s", typesFile, l)
		}
	}
}

func TestCommittedCRDMatchesTheTable(t *testing.T) {
	b, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	var enum []string
	for _, raw := range spec.Properties["provider"].Enum {
		var p string
		if err := yaml.Unmarshal(raw.Raw, &p); err != nil {
			t.Fatal(err)
		}
		enum = append(enum, p)
	}
	if got, want := strings.Join(enum, ";"), strings.TrimPrefix(providerEnumMarker(), "// +kubebuilder:validation:Enum="); got != want {
		t.Errorf("%s: provider enum is %s, the table says %s: run 'make manifests'", crdFile, got, want)
	}
	rules := map[string]string{}
	for _, v := range spec.XValidations {
		rules[v.Rule] = v.Message
	}
	for _, r := range providerRules() {
		if msg, ok := rules[r.rule]; !ok || msg != r.message {
			t.Errorf("%s: CEL rule %q (message %q) missing or different: run 'make manifests'", crdFile, r.rule, r.message)
		}
	}
}

// signsURLWords finds "URL" or "URI" as a word (not SNS's "SubscribeURL",
// a field of the body).
var signsURLWords = regexp.MustCompile(`\b(URL|URI)\b`)

func TestDerivedHelpersFollowTheTable(t *testing.T) {
	seen := map[Provider]bool{}
	for _, info := range Providers {
		if seen[info.Name] {
			t.Errorf("provider %s is in the table twice", info.Name)
		}
		seen[info.Name] = true
		if info.Name.IsAsymmetric() != (info.Key.Kind == KeyPublicKey) {
			t.Errorf("%s: IsAsymmetric disagrees with the table", info.Name)
		}
		if info.Name.ReceiverChoosesSecret() != info.Key.ReceiverChooses {
			t.Errorf("%s: ReceiverChoosesSecret disagrees with the table", info.Name)
		}
		if info.DisplayName == "" || !strings.HasPrefix(info.Docs, "https://") || info.Scheme == "" || len(info.Signature.Headers) == 0 {
			t.Errorf("%s: entry lacks a display name, an https docs link, a scheme or headers", info.Name)
		}
		if info.Key.ReceiverChooses && info.Key.Format != KeyFormatHex && info.Key.Format != KeyFormatWhsec {
			t.Errorf("%s: the receiver chooses the secret, but format %q cannot be generated", info.Name, info.Key.Format)
		}
		if (info.Scheme == SchemeHMAC) != (info.HMAC != nil && info.Scheme == SchemeHMAC) || (info.Scheme == SchemeToken) != (info.Token != nil) {
			t.Errorf("%s: a table-driven scheme needs its recipe", info.Name)
		}
		spec := WebhookEndpointSpec{Provider: info.Name, PublicKeys: []string{"k"}}
		if got, want := spec.VerifiesWithPublicKeysOnly(), info.Key.Kind == KeyPublicKey || info.Key.Kind == KeyIssuerKeys || info.Key.PublicKeysOptional; got != want {
			t.Errorf("%s: VerifiesWithPublicKeysOnly with public keys and no Secret = %v, want %v", info.Name, got, want)
		}
	}
	for _, info := range Providers {
		// The words of the docs and the property must agree: a provider
		// said to sign a URL gets spec.signedURL.
		said := signsURLWords.MatchString(info.Signature.Signed)
		if info.SignsURL() != said {
			t.Errorf("%s: SignsURL is %v but the signature is described as %q", info.Name, info.SignsURL(), info.Signature.Signed)
		}
	}
	if Provider("nope").IsAsymmetric() || Provider("nope").ReceiverChoosesSecret() {
		t.Error("an unknown provider must have no properties")
	}
}

func TestGeneratedKeyFormats(t *testing.T) {
	raw := []byte{0xde, 0xad}
	if got := string(KeyFormatWhsec.Encode(raw)); got != "whsec_3q0=" {
		t.Errorf("whsec: %s", got)
	}
	if got := string(KeyFormatHex.Encode(raw)); got != "dead" {
		t.Errorf("hex: %s", got)
	}
}
