package v1alpha1

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// The provider table is the one place where what Hookgate knows about a
// provider is written down. Everything else derives from it or is checked
// against it by a test that fails on drift:
//
//   - the spec.provider enum and the CEL rules on WebhookEndpointSpec
//     (TestProviderMarkersMatchTheTable, which prints the marker to paste),
//   - IsAsymmetric, ReceiverChoosesSecret, VerifiesWithPublicKeysOnly,
//   - the format of a generated secret (KeyFormat.Encode, used by the
//     controller),
//   - the receiver's verifier registry (ingress/verify builds a verifier
//     per Scheme from the entry) and `hookgate send`, which signs for every
//     entry (TestEveryProviderRoundTrips in ingress/verify),
//   - the event type of a delivery, its CloudEvents ce-type
//     (ProviderInfo.EventTypeOf),
//   - the summary table of docs/providers.md
//     (TestProvidersDocSummaryMatchesTheTable; -update rewrites it).
//
// Entries are plain data so that both the controller and the receiver may
// import them without importing each other.

// Scheme names the verification code an entry is an instance of. Several
// providers may share one scheme (svix sends Standard Webhooks; most HMAC
// providers are SchemeHMAC with a recipe).
type Scheme string

const (
	// SchemeHMAC is the table-driven HMAC verifier: ProviderInfo.HMAC is
	// the whole recipe, so such a provider needs no code of its own.
	SchemeHMAC Scheme = "hmac"
	// SchemeToken is the table-driven shared-credential check (a token in a
	// header or the query, or Basic credentials): ProviderInfo.Token.
	SchemeToken Scheme = "token"
	// SchemeStandardWebhooks is standardwebhooks.com (v1 HMAC and v1a
	// Ed25519).
	SchemeStandardWebhooks Scheme = "standardwebhooks"
	// SchemeGenericHMAC is configured per endpoint by spec.genericHMAC.
	SchemeGenericHMAC Scheme = "generic-hmac"
	// SchemeBraintree is Braintree's bt_signature/bt_payload form.
	SchemeBraintree Scheme = "braintree"
	// SchemeTravis is Travis CI's RSA-SHA1 signature of the payload field.
	SchemeTravis Scheme = "travis"
	// SchemeMandrill is Mandrill's HMAC-SHA1 of URL and sorted form fields.
	SchemeMandrill Scheme = "mandrill"
)

// KeyKind says what the endpoint's key material is.
type KeyKind string

const (
	// KeySharedSecret is a secret both sides hold; the provider signs with it.
	KeySharedSecret KeyKind = "shared-secret"
	// KeyPublicKey means the provider signs with a private key and
	// spec.publicKeys verify.
	KeyPublicKey KeyKind = "public-key"
	// KeyToken is a static credential sent as is, proving only knowledge.
	KeyToken KeyKind = "token"
	// KeyBasic is HTTP Basic "user:password".
	KeyBasic KeyKind = "basic"
)

// KeyFormat is how a key is written in the Secret (or in spec.publicKeys).
type KeyFormat string

const (
	// KeyFormatRaw is the value exactly as the provider shows it.
	KeyFormatRaw KeyFormat = "raw"
	// KeyFormatHex is a random value, generated as 64 hex digits.
	KeyFormatHex KeyFormat = "hex"
	// KeyFormatWhsec is "whsec_" + base64 of the key bytes.
	KeyFormatWhsec KeyFormat = "whsec"
	// KeyFormatUserPassword is "user:password".
	KeyFormatUserPassword KeyFormat = "user:password"
	// KeyFormatIDSecret is "<public id>:<secret>" (Braintree's
	// "public_key:private_key").
	KeyFormatIDSecret KeyFormat = "id:secret"
	// KeyFormatPEM is a PEM public key (or certificate) in spec.publicKeys.
	KeyFormatPEM KeyFormat = "pem"
	// KeyFormatHexEd25519 is a hex Ed25519 public key in spec.publicKeys.
	KeyFormatHexEd25519 KeyFormat = "hex-ed25519"
	// KeyFormatBase64DER is a base64 DER public key in spec.publicKeys.
	KeyFormatBase64DER KeyFormat = "base64-der"
	// KeyFormatBase64 is a provider's key written as base64 text, which the
	// verifier decodes (HMACRecipe.KeyEncoding "base64").
	KeyFormatBase64 KeyFormat = "base64"
	// KeyFormatVerifyTokenSecret is the provider's secret, optionally
	// preceded by a verify token the receiver chose and a colon:
	// "[<verify token>:]<app secret>" (Meta: the app secret signs
	// X-Hub-Signature-256, the verify token answers the subscription GET).
	// The value is split at its last colon, so the verify token may
	// contain colons and the secret may not.
	KeyFormatVerifyTokenSecret KeyFormat = "[verify-token:]secret"
)

// Encode writes freshly generated key bytes in the format, for providers
// where the receiver chooses the secret. Formats that cannot be generated
// (a provider's own key) fall back to hex, which no such provider reaches.
func (f KeyFormat) Encode(raw []byte) []byte {
	if f == KeyFormatWhsec {
		return []byte("whsec_" + base64.StdEncoding.EncodeToString(raw))
	}
	return []byte(hex.EncodeToString(raw))
}

// Handshake names a verification exchange the receiver answers itself.
type Handshake string

const (
	HandshakeNone               Handshake = "none"
	HandshakeSlackURL           Handshake = "slack-url-verification"
	HandshakeZoomURL            Handshake = "zoom-url-validation"
	HandshakeTwitchCallback     Handshake = "twitch-callback-verification"
	HandshakeDiscordPing        Handshake = "discord-ping"
	HandshakeOktaChallenge      Handshake = "okta-verification-challenge"
	HandshakeMailchimpValidator Handshake = "mailchimp-url-validation"
	// HandshakeMetaSubscribe is Meta's verification request: a GET with
	// hub.mode=subscribe, hub.verify_token and hub.challenge, answered
	// with the challenge when the verify token matches.
	HandshakeMetaSubscribe Handshake = "meta-subscription-verification"
	// HandshakeXCRC is X's challenge-response check: a GET with crc_token,
	// answered {"response_token": "sha256=<base64 HMAC-SHA256(crc_token)>"}.
	HandshakeXCRC Handshake = "x-challenge-response-check"
	// HandshakeHeadCheck is a HEAD request the provider sends to check that
	// the URL exists (Trello, on creating a webhook), answered 200 with no
	// body; it carries no signature and is never stored.
	HandshakeHeadCheck Handshake = "head-check"
)

// ProviderInfo is everything Hookgate knows about one provider.
// +kubebuilder:object:generate=false
type ProviderInfo struct {
	// Name is the spec.provider value.
	Name Provider
	// DisplayName is how the provider calls itself.
	DisplayName string
	// Docs is the provider's own page on verifying its requests.
	Docs string
	// Scheme is the verification code this entry is an instance of.
	Scheme Scheme
	// Signature describes what proves the request.
	Signature SignatureInfo
	// Timestamp describes the signed send time, if any.
	Timestamp TimestampInfo
	// DeliveryID says where the dedupe key comes from.
	DeliveryID DeliveryIDInfo
	// Key describes the key material.
	Key KeyInfo
	// Handshake is the verification exchange the receiver answers.
	Handshake HandshakeInfo
	// EventType says where the provider names the type of its events.
	EventType EventTypeInfo
	// HMAC is the recipe of a SchemeHMAC entry.
	HMAC *HMACRecipe
	// Token is the recipe of a SchemeToken entry.
	Token *TokenRecipe
	// JWT is what a SchemeJWT entry fixes (providers_keypair.go).
	JWT *JWTRecipe
}

// SignatureInfo describes a provider's signature (or credential). Its
// fields are documentation (docs/providers.md, kubectl explain), except the
// first header, which `hookgate send` reads for Standard Webhooks.
type SignatureInfo struct {
	// Headers carry the signature or credential ("form field x" where it
	// travels in the body). Defaults, in a WebhookProvider, to the recipe's
	// header.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:items:MaxLength=128
	Headers []string `json:"headers,omitempty"`
	// Signed is what is signed, in words, e.g. "t.body".
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Signed string `json:"signed,omitempty"`
	// Algorithm, in words, e.g. "HMAC-SHA256", "none" for tokens.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Algorithm string `json:"algorithm,omitempty"`
	// Encoding of the signature, in words, e.g. "sha256=<hex>".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Encoding string `json:"encoding,omitempty"`
	// URL: the signature covers the URL the provider called, so the
	// receiver must rebuild it byte for byte (spec.signedURL). Set for the
	// schemes with code of their own; a SchemeHMAC entry signs the URL when
	// its recipe's SignedContent uses {url} (ProviderInfo.SignsURL), so a
	// WebhookProvider has no such field.
	URL bool `json:"-"`
}

// TimestampInfo describes a signed send time.
// +kubebuilder:object:generate=false
type TimestampInfo struct {
	// Source is where the timestamp is read ("" when none is signed).
	Source string
	// DefaultWindow is the replay window when spec.replayTolerance is
	// unset; zero when the provider signs no timestamp.
	DefaultWindow time.Duration
}

// DeliveryIDInfo says, in words, where the dedupe key comes from; the
// recipe's idHeader or idField is what the receiver reads.
type DeliveryIDInfo struct {
	// Source, e.g. "header X-GitHub-Delivery" or "body id"; "" for none.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Source string `json:"source,omitempty"`
	// Signed reports whether the id is covered by the signature.
	// +optional
	Signed bool `json:"signed,omitempty"`
}

// KeyInfo describes the key material and who chooses it.
type KeyInfo struct {
	// Kind of key: shared-secret (an HMAC key both sides hold), token or
	// basic (a credential sent as is), issuer-keys (a JWT issuer's public
	// keys). Defaults, in a WebhookProvider, to shared-secret for hmac,
	// token for token (basic when only allowBasic is set) and issuer-keys
	// for jwt.
	// +optional
	// +kubebuilder:validation:Enum=shared-secret;token;basic;issuer-keys
	Kind KeyKind `json:"kind,omitempty"`
	// Format is how the key is written in the endpoint's Secret: raw (as
	// the provider shows it), hex (generated: 64 hex digits), base64 (with
	// hmac.keyEncoding base64), user:password, [verify-token:]secret, or
	// jwks for jwt. Defaults to raw (user:password for basic, jwks for jwt).
	// +optional
	// +kubebuilder:validation:XValidation:rule="self in ['raw', 'hex', 'base64', 'user:password', '[verify-token:]secret', 'jwks']",message="key.format must be one of raw, hex, base64, user:password, [verify-token:]secret, jwks"
	Format KeyFormat `json:"format,omitempty"`
	// ReceiverChooses: the receiving side picks the secret, so the
	// controller may generate and rotate it (spec.rotation).
	// +optional
	ReceiverChooses bool `json:"receiverChooses,omitempty"`
	// PublicKeysOptional: the endpoint may verify with spec.publicKeys
	// instead of a Secret (Standard Webhooks v1a). Not table-driven, so
	// not part of a WebhookProvider.
	PublicKeysOptional bool `json:"-"`
}

// EventTypeInfo says where a provider names the type of an event: the
// ce-type of the CloudEvent a delivery becomes and what event-type filters
// match. The header is read first; without it, the body: the JSON field, or
// the form field of an application/x-www-form-urlencoded body. Where a
// provider names no type (all empty), or a request lacks it, the type is the
// provider's name (ProviderInfo.EventTypeOf; EventTypeInfo.Of returns "").
type EventTypeInfo struct {
	// Header names the event type, e.g. X-GitHub-Event.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	Header string `json:"header,omitempty"`
	// JSONField is a JSON path (dots between object keys) of the string in
	// the body that names the event type, e.g. "type" or "event.type"; read
	// when the header is unset or absent from the request.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[^.]+(\.[^.]+)*$`
	JSONField string `json:"jsonField,omitempty"`
	// FormField is the field of an application/x-www-form-urlencoded body
	// that names the event type, e.g. "type"; read when neither the header
	// nor the JSON field gives one.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.\[\]-]+$`
	FormField string `json:"formField,omitempty"`
}

// HandshakeInfo is the verification exchange a provider sends.
type HandshakeInfo struct {
	// Kind of exchange. A WebhookProvider may use those the table-driven
	// verifiers answer: meta-subscription-verification,
	// x-challenge-response-check, dropbox-challenge and head-check (hmac),
	// okta-verification-challenge and mailchimp-url-validation (token),
	// eventgrid-validation+cloudevents-options (jwt). Unset: none.
	// +optional
	// +kubebuilder:validation:Enum=meta-subscription-verification;x-challenge-response-check;dropbox-challenge;head-check;okta-verification-challenge;mailchimp-url-validation;eventgrid-validation+cloudevents-options
	Kind Handshake `json:"kind,omitempty"`
	// Method of the handshake request; "" means POST like every event.
	// +optional
	// +kubebuilder:validation:Enum=GET;HEAD;OPTIONS;POST
	Method string `json:"method,omitempty"`
}

// HMACRecipe is the whole of a provider that signs with an HMAC in one
// header. The verifier in ingress/verify is configured from it; a
// WebhookProvider's spec.hmac is the same recipe.
// +kubebuilder:validation:XValidation:rule="!(has(self.timestampHeader) && has(self.timestampParam))",message="set hmac.timestampHeader or hmac.timestampParam, not both"
// +kubebuilder:validation:XValidation:rule="!has(self.timestampParam) || has(self.listSeparator)",message="hmac.timestampParam names an element of a list-form signature header: set hmac.listSeparator too (a comma for t=<ts>,v1=<mac>)"
// +kubebuilder:validation:XValidation:rule="(has(self.timestampHeader) || has(self.timestampParam)) == (has(self.signedContent) && self.signedContent.contains('{timestamp}'))",message="hmac.signedContent must use {timestamp} exactly when hmac.timestampHeader or hmac.timestampParam is set: an unsigned timestamp gives no replay protection, and {timestamp} needs a source"
// +kubebuilder:validation:XValidation:rule="!has(self.timestampFormat) || has(self.timestampHeader) || has(self.timestampParam)",message="hmac.timestampFormat needs hmac.timestampHeader or hmac.timestampParam"
// +kubebuilder:validation:XValidation:rule="!has(self.signedContent) || !self.signedContent.contains('{id}') || has(self.idHeader)",message="hmac.signedContent uses {id}: set hmac.idHeader"
// +kubebuilder:validation:XValidation:rule="!has(self.idHeader) || self.idHeader.lowerAscii() != self.header.lowerAscii()",message="hmac.idHeader must differ from hmac.header"
// +kubebuilder:validation:XValidation:rule="!has(self.idHeader) || !has(self.idField)",message="set hmac.idHeader or hmac.idField, not both"
type HMACRecipe struct {
	// Header carries the signature.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	Header string `json:"header"`
	// Prefix precedes the encoded MAC, e.g. "sha256=".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Prefix string `json:"prefix,omitempty"`
	// ListSeparator, when set, splits the header into elements of which
	// those starting with Prefix are signatures (CircleCI: "v1=..,v2=..").
	// +optional
	// +kubebuilder:validation:MaxLength=4
	ListSeparator string `json:"listSeparator,omitempty"`
	// Algorithm: sha1, sha256 or sha512.
	// +required
	// +kubebuilder:validation:Enum=sha1;sha256;sha512
	Algorithm string `json:"algorithm"`
	// Encoding: hex or base64.
	// +required
	// +kubebuilder:validation:Enum=hex;base64
	Encoding string `json:"encoding"`
	// SignedContent is a template of {body}, {timestamp}, {id}, {url},
	// {method} and literal text; empty means the body alone.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^([^{}]|[{](body|timestamp|id|url|method)[}])*$')",message="hmac.signedContent may use only the placeholders {body}, {timestamp}, {id}, {url} and {method}, and no other braces"
	// +kubebuilder:validation:XValidation:rule="self.contains('{body}')",message="hmac.signedContent must include {body}, or the payload is not authenticated"
	SignedContent string `json:"signedContent,omitempty"`
	// TimestampHeader holds the send time, signed via {timestamp}.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	TimestampHeader string `json:"timestampHeader,omitempty"`
	// TimestampParam, instead of TimestampHeader, names the element of the
	// signature header that holds the timestamp ("t" for "t=<ts>,v1=<mac>");
	// the recipe then needs a ListSeparator.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.-]+$`
	TimestampParam string `json:"timestampParam,omitempty"`
	// TimestampFormat of the timestamp: "unix" (seconds; ""), "unix-ms",
	// "rfc3339" or "iso8601-utc" (zoneless ISO 8601 read as UTC).
	// +optional
	// +kubebuilder:validation:Enum=unix;unix-ms;rfc3339;iso8601-utc
	TimestampFormat string `json:"timestampFormat,omitempty"`
	// IDHeader holds the delivery id (unsigned unless the template uses {id}).
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	IDHeader string `json:"idHeader,omitempty"`
	// IDField is a JSON path (dots between object keys) of a string in the
	// body used as the delivery id, signed with the body.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[^.]+(\.[^.]+)*$`
	IDField string `json:"idField,omitempty"`
	// KeyEncoding is how the Secret writes the HMAC key: "" (the bytes as
	// they are) or "base64" (the key is the decoded bytes, as Microsoft
	// Teams and Airtable hand it out).
	// +optional
	// +kubebuilder:validation:Enum=base64
	KeyEncoding string `json:"keyEncoding,omitempty"`
}

// TokenRecipe is a provider that authenticates with a static credential.
// +kubebuilder:validation:XValidation:rule="has(self.header) || has(self.query) || (has(self.allowBasic) && self.allowBasic)",message="token needs a header, a query parameter or allowBasic: where the credential travels"
type TokenRecipe struct {
	// Header carries the token as its whole value ("" for none).
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	Header string `json:"header,omitempty"`
	// Query is a URL query parameter carrying the token ("" for none).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.~-]+$`
	Query string `json:"query,omitempty"`
	// AllowBasic also accepts "Authorization: Basic" credentials, compared
	// against keys written user:password.
	// +optional
	AllowBasic bool `json:"allowBasic,omitempty"`
	// IDField is a JSON path of the delivery id in the body.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[^.]+(\.[^.]+)*$`
	IDField string `json:"idField,omitempty"`
}

const (
	fiveMinutes = 5 * time.Minute
)

// Meta's products send the same webhooks (one app secret, one verification
// GET): each is its own named entry sharing these parts.
var (
	metaSignature = SignatureInfo{Headers: []string{"X-Hub-Signature-256"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "sha256=<hex>"}
	metaKey       = KeyInfo{Kind: KeySharedSecret, Format: KeyFormatVerifyTokenSecret}
	metaHandshake = HandshakeInfo{Kind: HandshakeMetaSubscribe, Method: "GET"}
	metaRecipe    = &HMACRecipe{Header: "X-Hub-Signature-256", Prefix: "sha256=", Algorithm: "sha256", Encoding: "hex"}
)

// The two header families of Standard Webhooks senders (HMAC v1 only).
var (
	standardSignature = SignatureInfo{Headers: []string{"webhook-signature"}, Signed: "webhook-id.webhook-timestamp.body", Algorithm: "HMAC-SHA256", Encoding: "v1,<base64>"}
	svixSignature     = SignatureInfo{Headers: []string{"svix-signature"}, Signed: "svix-id.svix-timestamp.body", Algorithm: "HMAC-SHA256", Encoding: "v1,<base64>"}
)

// Providers is the provider table, in the order of the enum: the entries
// of this file, then those of providers_catalog.go (table-driven HMAC,
// token and Standard Webhooks instances) and providers_keypair.go (senders
// that sign with tokens, certificates or key pairs).
var Providers = concatProviders(builtinProviders, catalogProviders, keyPairProviders)

func concatProviders(parts ...[]ProviderInfo) []ProviderInfo {
	var out []ProviderInfo
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var builtinProviders = []ProviderInfo{
	{
		Name: ProviderGitHub, DisplayName: "GitHub", Scheme: "github",
		Docs:       "https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries",
		Signature:  SignatureInfo{Headers: []string{"X-Hub-Signature-256"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "sha256=<hex>"},
		DeliveryID: DeliveryIDInfo{Source: "headers X-GitHub-Hook-ID:X-GitHub-Delivery"},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatHex, ReceiverChooses: true},
		EventType:  EventTypeInfo{Header: "X-GitHub-Event"},
	},
	{
		Name: "gitlab", DisplayName: "GitLab", Scheme: "gitlab",
		Docs:       "https://docs.gitlab.com/user/project/integrations/webhooks/#delivery-headers",
		Signature:  SignatureInfo{Headers: []string{"X-Gitlab-Token", "webhook-signature"}, Signed: "token: nothing; signing token: webhook-id.webhook-timestamp.body", Algorithm: "token or HMAC-SHA256", Encoding: "v1,<base64>"},
		Timestamp:  TimestampInfo{Source: "header webhook-timestamp (signing token only)", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "header webhook-id (signed) or Idempotency-Key"},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatHex, ReceiverChooses: true},
		EventType:  EventTypeInfo{Header: "X-Gitlab-Event"},
	},
	{
		Name: "bitbucket", DisplayName: "Bitbucket", Scheme: "bitbucket",
		Docs:       "https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/",
		Signature:  SignatureInfo{Headers: []string{"X-Hub-Signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "sha256=<hex>"},
		DeliveryID: DeliveryIDInfo{Source: "headers X-Hook-UUID:X-Request-UUID"},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{Header: "X-Event-Key"},
		HMAC:       &HMACRecipe{Header: "X-Hub-Signature", Prefix: "sha256=", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "stripe", DisplayName: "Stripe", Scheme: "stripe",
		Docs:       "https://docs.stripe.com/webhooks#verify-manually",
		Signature:  SignatureInfo{Headers: []string{"Stripe-Signature"}, Signed: "t.body", Algorithm: "HMAC-SHA256", Encoding: "t=<unix>,v1=<hex>"},
		Timestamp:  TimestampInfo{Source: "Stripe-Signature t=", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{JSONField: "type"},
	},
	{
		Name: "shopify", DisplayName: "Shopify", Scheme: "shopify",
		Docs:       "https://shopify.dev/docs/apps/build/webhooks/subscribe/https",
		Signature:  SignatureInfo{Headers: []string{"X-Shopify-Hmac-Sha256"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "base64"},
		DeliveryID: DeliveryIDInfo{Source: "headers X-Shopify-Topic:X-Shopify-Event-Id"},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{Header: "X-Shopify-Topic"},
	},
	{
		Name: "slack", DisplayName: "Slack", Scheme: "slack",
		Docs:       "https://api.slack.com/authentication/verifying-requests-from-slack",
		Signature:  SignatureInfo{Headers: []string{"X-Slack-Signature"}, Signed: "v0:timestamp:body", Algorithm: "HMAC-SHA256", Encoding: "v0=<hex>"},
		Timestamp:  TimestampInfo{Source: "header X-Slack-Request-Timestamp", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "body event_id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		Handshake:  HandshakeInfo{Kind: HandshakeSlackURL},
		// Events API: the outer type is event_callback, the event's own is
		// event.type. Interactivity and slash commands are form posts that name
		// none.
		EventType: EventTypeInfo{JSONField: "event.type"},
	},
	{
		Name: "twilio", DisplayName: "Twilio", Scheme: "twilio",
		Docs:       "https://www.twilio.com/docs/usage/webhooks/webhooks-security",
		Signature:  SignatureInfo{Headers: []string{"X-Twilio-Signature"}, Signed: "URL + sorted form params (or URL with bodySHA256)", Algorithm: "HMAC-SHA1", Encoding: "base64", URL: true},
		DeliveryID: DeliveryIDInfo{Source: "header I-Twilio-Idempotency-Token"},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		// Conversations and TaskRouter callbacks post EventType; Messaging and
		// Voice callbacks name none.
		EventType: EventTypeInfo{FormField: "EventType"},
	},
	{
		Name: ProviderStandardWebhooks, DisplayName: "Standard Webhooks", Scheme: SchemeStandardWebhooks,
		Docs:       "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md",
		Signature:  SignatureInfo{Headers: []string{"webhook-signature"}, Signed: "webhook-id.webhook-timestamp.body", Algorithm: "HMAC-SHA256 (v1) or Ed25519 (v1a)", Encoding: "v1,<base64> / v1a,<base64>"},
		Timestamp:  TimestampInfo{Source: "header webhook-timestamp", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "header webhook-id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatWhsec, ReceiverChooses: true, PublicKeysOptional: true},
		// The spec's payload structure: type, timestamp, data.
		EventType: EventTypeInfo{JSONField: "type"},
	},
	{
		Name: "svix", DisplayName: "Svix", Scheme: SchemeStandardWebhooks,
		Docs:       "https://docs.svix.com/receiving/verifying-payloads/how-manual",
		Signature:  SignatureInfo{Headers: []string{"svix-signature"}, Signed: "svix-id.svix-timestamp.body", Algorithm: "HMAC-SHA256 (v1) or Ed25519 (v1a)", Encoding: "v1,<base64>"},
		Timestamp:  TimestampInfo{Source: "header svix-timestamp", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "header svix-id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatWhsec, PublicKeysOptional: true},
		// Svix sends the event type in no header; its senders' payloads carry it
		// as type (the Standard Webhooks structure).
		EventType: EventTypeInfo{JSONField: "type"},
	},
	{
		Name: "linear", DisplayName: "Linear", Scheme: "linear",
		Docs:       "https://linear.app/developers/webhooks#securing-webhooks",
		Signature:  SignatureInfo{Headers: []string{"Linear-Signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "hex"},
		Timestamp:  TimestampInfo{Source: "body webhookTimestamp (ms)", DefaultWindow: time.Minute},
		DeliveryID: DeliveryIDInfo{Source: "header Linear-Delivery"},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{Header: "Linear-Event", JSONField: "type"},
	},
	{
		Name: "square", DisplayName: "Square", Scheme: "square",
		Docs:       "https://developer.squareup.com/docs/webhooks/step3validate",
		Signature:  SignatureInfo{Headers: []string{"X-Square-Hmacsha256-Signature"}, Signed: "notification URL + body", Algorithm: "HMAC-SHA256", Encoding: "base64", URL: true},
		DeliveryID: DeliveryIDInfo{Source: "body event_id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{JSONField: "type"},
	},
	{
		Name: "paddle", DisplayName: "Paddle Billing", Scheme: "paddle",
		Docs:       "https://developer.paddle.com/webhooks/signature-verification",
		Signature:  SignatureInfo{Headers: []string{"Paddle-Signature"}, Signed: "ts:body", Algorithm: "HMAC-SHA256", Encoding: "ts=<unix>;h1=<hex>"},
		Timestamp:  TimestampInfo{Source: "Paddle-Signature ts=", DefaultWindow: 5 * time.Second},
		DeliveryID: DeliveryIDInfo{Source: "body event_id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{JSONField: "event_type"},
	},
	{
		Name: ProviderDiscord, DisplayName: "Discord", Scheme: "discord",
		Docs:       "https://discord.com/developers/docs/interactions/overview",
		Signature:  SignatureInfo{Headers: []string{"X-Signature-Ed25519"}, Signed: "timestamp + body", Algorithm: "Ed25519", Encoding: "hex"},
		Timestamp:  TimestampInfo{Source: "header X-Signature-Timestamp", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        KeyInfo{Kind: KeyPublicKey, Format: KeyFormatHexEd25519},
		Handshake:  HandshakeInfo{Kind: HandshakeDiscordPing},
		// Webhook events name it in event.type (the outer type is 0 PING or 1
		// EVENT); interactions carry only a number.
		EventType: EventTypeInfo{JSONField: "event.type"},
	},
	{
		Name: ProviderSendGrid, DisplayName: "SendGrid", Scheme: "sendgrid",
		Docs:      "https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features",
		Signature: SignatureInfo{Headers: []string{"X-Twilio-Email-Event-Webhook-Signature"}, Signed: "timestamp + body", Algorithm: "ECDSA P-256 SHA-256", Encoding: "base64 DER"},
		Timestamp: TimestampInfo{Source: "header X-Twilio-Email-Event-Webhook-Timestamp", DefaultWindow: fiveMinutes},
		Key:       KeyInfo{Kind: KeyPublicKey, Format: KeyFormatBase64DER},
		// No event type: each request is a batch of events, each with its own
		// event.
	},
	{
		Name: "mailgun", DisplayName: "Mailgun", Scheme: "mailgun",
		Docs:       "https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks",
		Signature:  SignatureInfo{Headers: []string{"body signature.signature"}, Signed: "timestamp + token", Algorithm: "HMAC-SHA256", Encoding: "hex"},
		Timestamp:  TimestampInfo{Source: "body signature.timestamp", DefaultWindow: 8 * time.Hour},
		DeliveryID: DeliveryIDInfo{Source: "body signature.token (single-use)", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		// JSON webhooks name it in event-data.event; legacy URL-encoded webhooks
		// in the event field.
		EventType: EventTypeInfo{JSONField: "event-data.event", FormField: "event"},
	},
	{
		Name: "zoom", DisplayName: "Zoom", Scheme: "zoom",
		Docs:       "https://developers.zoom.us/docs/api/webhooks/",
		Signature:  SignatureInfo{Headers: []string{"x-zm-signature"}, Signed: "v0:timestamp:body", Algorithm: "HMAC-SHA256", Encoding: "v0=<hex>"},
		Timestamp:  TimestampInfo{Source: "header x-zm-request-timestamp", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "sha256 of the body", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		Handshake:  HandshakeInfo{Kind: HandshakeZoomURL},
		EventType:  EventTypeInfo{JSONField: "event"},
	},
	{
		Name: "intercom", DisplayName: "Intercom", Scheme: "intercom",
		Docs:       "https://developers.intercom.com/intercom-api-reference/v1.0/reference/signed-notifications",
		Signature:  SignatureInfo{Headers: []string{"X-Hub-Signature"}, Signed: "the body", Algorithm: "HMAC-SHA1", Encoding: "sha1=<hex>"},
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{JSONField: "topic"},
		HMAC:       &HMACRecipe{Header: "X-Hub-Signature", Prefix: "sha1=", Algorithm: "sha1", Encoding: "hex", IDField: "id"},
	},
	{
		Name: "twitch", DisplayName: "Twitch EventSub", Scheme: "twitch",
		Docs:       "https://dev.twitch.tv/docs/eventsub/handling-webhook-events/",
		Signature:  SignatureInfo{Headers: []string{"Twitch-Eventsub-Message-Signature"}, Signed: "message id + timestamp + body", Algorithm: "HMAC-SHA256", Encoding: "sha256=<hex>"},
		Timestamp:  TimestampInfo{Source: "header Twitch-Eventsub-Message-Timestamp", DefaultWindow: 10 * time.Minute},
		DeliveryID: DeliveryIDInfo{Source: "header Twitch-Eventsub-Message-Id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		Handshake:  HandshakeInfo{Kind: HandshakeTwitchCallback},
		// Twitch-Eventsub-Message-Type says notification or revocation; the
		// subscription type is the event's.
		EventType: EventTypeInfo{Header: "Twitch-Eventsub-Subscription-Type"},
	},
	{
		Name: ProviderGenericHMAC, DisplayName: "Generic HMAC", Scheme: SchemeGenericHMAC,
		Docs:       "https://www.rfc-editor.org/rfc/rfc2104",
		Signature:  SignatureInfo{Headers: []string{"spec.genericHMAC.header"}, Signed: "spec.genericHMAC.signedContent", Algorithm: "HMAC (configurable)", Encoding: "hex or base64"},
		Timestamp:  TimestampInfo{Source: "spec.genericHMAC.timestampHeader", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "spec.genericHMAC.idHeader"},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatHex, ReceiverChooses: true},
	},
	{
		Name: "bearer", DisplayName: "Static bearer token", Scheme: "bearer",
		Docs:      "https://www.rfc-editor.org/rfc/rfc6750",
		Signature: SignatureInfo{Headers: []string{"Authorization"}, Signed: "nothing (token)", Algorithm: "none", Encoding: "Bearer <token>"},
		Key:       KeyInfo{Kind: KeyToken, Format: KeyFormatHex, ReceiverChooses: true},
	},
	{
		Name: "basic", DisplayName: "HTTP Basic authentication", Scheme: "basic",
		Docs:      "https://www.rfc-editor.org/rfc/rfc7617",
		Signature: SignatureInfo{Headers: []string{"Authorization"}, Signed: "nothing (credentials)", Algorithm: "none", Encoding: "Basic base64(user:password)"},
		Key:       KeyInfo{Kind: KeyBasic, Format: KeyFormatUserPassword},
	},
	// Added from the provider table alone (SchemeHMAC / SchemeToken) or
	// with a small scheme verifier each.
	{
		Name: "okta", DisplayName: "Okta event hooks", Scheme: SchemeToken,
		Docs:       "https://developer.okta.com/docs/concepts/event-hooks/",
		Signature:  SignatureInfo{Headers: []string{"Authorization"}, Signed: "nothing (the secret you gave Okta)", Algorithm: "none", Encoding: "the secret as the whole header value"},
		DeliveryID: DeliveryIDInfo{Source: "body eventId"},
		Key:        KeyInfo{Kind: KeyToken, Format: KeyFormatHex, ReceiverChooses: true},
		Handshake:  HandshakeInfo{Kind: HandshakeOktaChallenge, Method: "GET"},
		// No event type: eventType is always com.okta.event_hook; the hook carries
		// a batch in data.events.
		Token: &TokenRecipe{Header: "Authorization", IDField: "eventId"},
	},
	{
		Name: "mailchimp", DisplayName: "Mailchimp Marketing", Scheme: SchemeToken,
		Docs:      "https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/",
		Signature: SignatureInfo{Headers: []string{"query secret", "Authorization"}, Signed: "nothing (Mailchimp does not sign)", Algorithm: "none", Encoding: "?secret=<token> or Basic user:password"},
		Key:       KeyInfo{Kind: KeyToken, Format: KeyFormatHex, ReceiverChooses: true},
		Handshake: HandshakeInfo{Kind: HandshakeMailchimpValidator, Method: "GET"},
		EventType: EventTypeInfo{FormField: "type"},
		Token:     &TokenRecipe{Query: "secret", AllowBasic: true},
	},
	{
		Name: "mandrill", DisplayName: "Mailchimp Transactional (Mandrill)", Scheme: SchemeMandrill,
		Docs:      "https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/#authenticating-webhook-requests",
		Signature: SignatureInfo{Headers: []string{"X-Mandrill-Signature"}, Signed: "webhook URL + each POST key and value, sorted by key", Algorithm: "HMAC-SHA1", Encoding: "base64", URL: true},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		// No event type: the form field mandrill_events is a JSON batch of events.
	},
	{
		Name: "dialogflow", DisplayName: "Dialogflow fulfillment", Scheme: SchemeToken,
		Docs:      "https://cloud.google.com/dialogflow/es/docs/fulfillment-webhook#auth",
		Signature: SignatureInfo{Headers: []string{"Authorization"}, Signed: "nothing (credentials)", Algorithm: "none", Encoding: "Basic base64(user:password) or the header value you set"},
		Key:       KeyInfo{Kind: KeyToken, Format: KeyFormatHex, ReceiverChooses: true},
		Token:     &TokenRecipe{Header: "Authorization", AllowBasic: true, IDField: "responseId"},
	},
	{
		Name: "braintree", DisplayName: "Braintree", Scheme: SchemeBraintree,
		Docs:      "https://developer.paypal.com/braintree/docs/guides/webhooks/parse",
		Signature: SignatureInfo{Headers: []string{"form field bt_signature"}, Signed: "form field bt_payload", Algorithm: "HMAC-SHA1 keyed with SHA-1(private key)", Encoding: "public_key|<hex>, pairs joined by &"},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatIDSecret},
		// No event type outside the signed payload: kind is inside bt_payload
		// (base64 XML).
	},
	{
		Name: "travis", DisplayName: "Travis CI", Scheme: SchemeTravis,
		Docs:       "https://docs.travis-ci.com/user/notifications/#verifying-webhook-requests",
		Signature:  SignatureInfo{Headers: []string{"Signature"}, Signed: "form field payload", Algorithm: "RSA PKCS#1 v1.5 SHA-1", Encoding: "base64"},
		DeliveryID: DeliveryIDInfo{Source: "payload id", Signed: true},
		Key:        KeyInfo{Kind: KeyPublicKey, Format: KeyFormatPEM},
		// No event type: every request is a build notification (payload type is
		// what triggered the build).
	},
	{
		Name: "circleci", DisplayName: "CircleCI", Scheme: SchemeHMAC,
		Docs:       "https://circleci.com/docs/webhooks/#validate-webhooks",
		Signature:  SignatureInfo{Headers: []string{"circleci-signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "v1=<hex>, comma-separated"},
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatHex, ReceiverChooses: true},
		EventType:  EventTypeInfo{Header: "Circleci-Event-Type", JSONField: "type"},
		HMAC:       &HMACRecipe{Header: "circleci-signature", Prefix: "v1=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex", IDField: "id"},
	},
	{
		Name: "meta", DisplayName: "Meta (Facebook, Instagram, WhatsApp)", Scheme: SchemeHMAC,
		Docs:      "https://developers.facebook.com/docs/graph-api/webhooks/getting-started",
		Signature: metaSignature,
		Key:       metaKey,
		Handshake: metaHandshake,
		// No event type: each request batches entries whose changes name their own
		// field.
		HMAC: metaRecipe,
	},
	{
		Name: "coinbase", DisplayName: "Coinbase Commerce", Scheme: SchemeHMAC,
		Docs:       "https://docs.cdp.coinbase.com/commerce/api-arcitecture/webhooks-security",
		Signature:  SignatureInfo{Headers: []string{"X-CC-Webhook-Signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "hex"},
		DeliveryID: DeliveryIDInfo{Source: "body event.id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{JSONField: "event.type"},
		HMAC:       &HMACRecipe{Header: "X-CC-Webhook-Signature", Algorithm: "sha256", Encoding: "hex", IDField: "event.id"},
	},
	{
		Name: "docusign", DisplayName: "DocuSign Connect", Scheme: SchemeHMAC,
		Docs:      "https://developers.docusign.com/platform/webhooks/connect/validate",
		Signature: SignatureInfo{Headers: []string{"X-DocuSign-Signature-1"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "base64"},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		// Connect's JSON SIM format; the legacy aggregate formats name none.
		EventType: EventTypeInfo{JSONField: "event"},
		HMAC:      &HMACRecipe{Header: "X-DocuSign-Signature-1", Algorithm: "sha256", Encoding: "base64"},
	},
	{
		Name: "typeform", DisplayName: "Typeform", Scheme: SchemeHMAC,
		Docs:       "https://www.typeform.com/developers/webhooks/secure-your-webhooks/",
		Signature:  SignatureInfo{Headers: []string{"Typeform-Signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "sha256=<base64>"},
		DeliveryID: DeliveryIDInfo{Source: "body event_id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatHex, ReceiverChooses: true},
		EventType:  EventTypeInfo{JSONField: "event_type"},
		HMAC:       &HMACRecipe{Header: "Typeform-Signature", Prefix: "sha256=", Algorithm: "sha256", Encoding: "base64", IDField: "event_id"},
	},
	{
		Name: "xero", DisplayName: "Xero", Scheme: SchemeHMAC,
		Docs:      "https://developer.xero.com/documentation/guides/webhooks/configuring-your-server/",
		Signature: SignatureInfo{Headers: []string{"x-xero-signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "base64"},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		// No event type: each request is a batch of events, each with its own
		// eventType.
		HMAC: &HMACRecipe{Header: "x-xero-signature", Algorithm: "sha256", Encoding: "base64"},
	},
	{
		Name: "facebook", DisplayName: "Facebook (Meta Graph API)", Scheme: SchemeHMAC,
		Docs:      "https://developers.facebook.com/docs/graph-api/webhooks/getting-started",
		Signature: metaSignature,
		Key:       metaKey,
		Handshake: metaHandshake,
		// No event type: as meta.
		HMAC: metaRecipe,
	},
	{
		Name: "instagram", DisplayName: "Instagram (Meta)", Scheme: SchemeHMAC,
		Docs:      "https://developers.facebook.com/docs/instagram-platform/webhooks",
		Signature: metaSignature,
		Key:       metaKey,
		Handshake: metaHandshake,
		// No event type: as meta.
		HMAC: metaRecipe,
	},
	{
		Name: "whatsapp", DisplayName: "WhatsApp Business Platform (Meta)", Scheme: SchemeHMAC,
		Docs:      "https://developers.facebook.com/docs/graph-api/webhooks/getting-started",
		Signature: metaSignature,
		Key:       metaKey,
		Handshake: metaHandshake,
		// No event type: as meta.
		HMAC: metaRecipe,
	},
	{
		Name: "x", DisplayName: "X (Twitter) Account Activity", Scheme: SchemeHMAC,
		Docs:      "https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/securing-webhooks",
		Signature: SignatureInfo{Headers: []string{"x-twitter-webhooks-signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "sha256=<base64>"},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		Handshake: HandshakeInfo{Kind: HandshakeXCRC, Method: "GET"},
		// No event type: the kind is the payload's top-level key
		// (tweet_create_events, ...).
		HMAC: &HMACRecipe{Header: "x-twitter-webhooks-signature", Prefix: "sha256=", Algorithm: "sha256", Encoding: "base64"},
	},
	{
		Name: "hubspot", DisplayName: "HubSpot (signature v3)", Scheme: SchemeHMAC,
		Docs:      "https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests#validate-the-v3-request-signature",
		Signature: SignatureInfo{Headers: []string{"X-HubSpot-Signature-v3"}, Signed: "method + URI + body + timestamp", Algorithm: "HMAC-SHA256", Encoding: "base64"},
		Timestamp: TimestampInfo{Source: "header X-HubSpot-Request-Timestamp (ms)", DefaultWindow: fiveMinutes},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		// No event type: each request is a batch of events, each with its own
		// subscriptionType.
		HMAC: &HMACRecipe{
			Header: "X-HubSpot-Signature-v3", Algorithm: "sha256", Encoding: "base64",
			SignedContent: "{method}{url}{body}{timestamp}", TimestampHeader: "X-HubSpot-Request-Timestamp", TimestampFormat: "unix-ms",
		},
	},
	{
		Name: "zendesk", DisplayName: "Zendesk webhooks", Scheme: SchemeHMAC,
		Docs:      "https://developer.zendesk.com/documentation/webhooks/verifying/",
		Signature: SignatureInfo{Headers: []string{"X-Zendesk-Webhook-Signature"}, Signed: "timestamp + body", Algorithm: "HMAC-SHA256", Encoding: "base64"},
		Timestamp: TimestampInfo{Source: "header X-Zendesk-Webhook-Signature-Timestamp (RFC 3339)", DefaultWindow: fiveMinutes},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		// Event subscriptions (zen:event-type:...); trigger webhooks send the body
		// the trigger defines.
		EventType: EventTypeInfo{JSONField: "type"},
		HMAC: &HMACRecipe{
			Header: "X-Zendesk-Webhook-Signature", Algorithm: "sha256", Encoding: "base64",
			SignedContent: "{timestamp}{body}", TimestampHeader: "X-Zendesk-Webhook-Signature-Timestamp", TimestampFormat: "rfc3339",
		},
	},
	{
		Name: "pagerduty", DisplayName: "PagerDuty (v3 webhooks)", Scheme: SchemeHMAC,
		Docs:       "https://developer.pagerduty.com/docs/ZG9jOjExMDI5NTkz-verifying-signatures",
		Signature:  SignatureInfo{Headers: []string{"X-PagerDuty-Signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "v1=<hex>, comma-separated"},
		DeliveryID: DeliveryIDInfo{Source: "body event.id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{JSONField: "event.event_type"},
		HMAC:       &HMACRecipe{Header: "X-PagerDuty-Signature", Prefix: "v1=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex", IDField: "event.id"},
	},
	{
		Name: "sentry", DisplayName: "Sentry integration platform", Scheme: SchemeHMAC,
		Docs:       "https://docs.sentry.io/integrations/integration-platform/webhooks/",
		Signature:  SignatureInfo{Headers: []string{"Sentry-Hook-Signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "hex"},
		DeliveryID: DeliveryIDInfo{Source: "header Request-ID"},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		// The resource (issue, event_alert, installation, ...); the body's action
		// says what happened to it.
		EventType: EventTypeInfo{Header: "Sentry-Hook-Resource"},
		HMAC:      &HMACRecipe{Header: "Sentry-Hook-Signature", Algorithm: "sha256", Encoding: "hex", IDHeader: "Request-ID"},
	},
	{
		Name: "vercel", DisplayName: "Vercel", Scheme: SchemeHMAC,
		Docs:       "https://vercel.com/docs/webhooks",
		Signature:  SignatureInfo{Headers: []string{"x-vercel-signature"}, Signed: "the body", Algorithm: "HMAC-SHA1", Encoding: "hex"},
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{JSONField: "type"},
		HMAC:       &HMACRecipe{Header: "x-vercel-signature", Algorithm: "sha1", Encoding: "hex", IDField: "id"},
	},
	{
		Name: "calendly", DisplayName: "Calendly", Scheme: SchemeHMAC,
		Docs:      "https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures",
		Signature: SignatureInfo{Headers: []string{"Calendly-Webhook-Signature"}, Signed: "t.body", Algorithm: "HMAC-SHA256", Encoding: "t=<unix>,v1=<hex>"},
		Timestamp: TimestampInfo{Source: "Calendly-Webhook-Signature t=", DefaultWindow: 3 * time.Minute},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType: EventTypeInfo{JSONField: "event"},
		HMAC: &HMACRecipe{
			Header: "Calendly-Webhook-Signature", Prefix: "v1=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "{timestamp}.{body}", TimestampParam: "t",
		},
	},
	{
		Name: "workos", DisplayName: "WorkOS", Scheme: SchemeHMAC,
		Docs:       "https://workos.com/docs/events/data-syncing/webhooks",
		Signature:  SignatureInfo{Headers: []string{"WorkOS-Signature"}, Signed: "t.body", Algorithm: "HMAC-SHA256", Encoding: "t=<unix ms>, v1=<hex>"},
		Timestamp:  TimestampInfo{Source: "WorkOS-Signature t= (ms)", DefaultWindow: 3 * time.Minute},
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{JSONField: "event"},
		HMAC: &HMACRecipe{
			Header: "WorkOS-Signature", Prefix: "v1=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "{timestamp}.{body}", TimestampParam: "t", TimestampFormat: "unix-ms", IDField: "id",
		},
	},
	{
		Name: "buildkite", DisplayName: "Buildkite (signature)", Scheme: SchemeHMAC,
		Docs:      "https://buildkite.com/docs/apis/webhooks/pipelines",
		Signature: SignatureInfo{Headers: []string{"X-Buildkite-Signature"}, Signed: "timestamp.body", Algorithm: "HMAC-SHA256", Encoding: "timestamp=<unix>,signature=<hex>"},
		Timestamp: TimestampInfo{Source: "X-Buildkite-Signature timestamp=", DefaultWindow: fiveMinutes},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType: EventTypeInfo{Header: "X-Buildkite-Event", JSONField: "event"},
		HMAC: &HMACRecipe{
			Header: "X-Buildkite-Signature", Prefix: "signature=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "{timestamp}.{body}", TimestampParam: "timestamp",
		},
	},
	{
		Name: "buildkite-token", DisplayName: "Buildkite (token)", Scheme: SchemeToken,
		Docs:      "https://buildkite.com/docs/apis/webhooks/pipelines",
		Signature: SignatureInfo{Headers: []string{"X-Buildkite-Token"}, Signed: "nothing (the webhook's token)", Algorithm: "none", Encoding: "the token as the whole header value"},
		Key:       KeyInfo{Kind: KeyToken, Format: KeyFormatRaw},
		EventType: EventTypeInfo{Header: "X-Buildkite-Event", JSONField: "event"},
		Token:     &TokenRecipe{Header: "X-Buildkite-Token"},
	},
	{
		Name: "orb", DisplayName: "Orb", Scheme: SchemeHMAC,
		Docs:       "https://github.com/orbcorp/orb-go/blob/main/webhook.go",
		Signature:  SignatureInfo{Headers: []string{"X-Orb-Signature"}, Signed: "v1:timestamp:body", Algorithm: "HMAC-SHA256", Encoding: "v1=<hex>"},
		Timestamp:  TimestampInfo{Source: "header X-Orb-Timestamp (ISO 8601, UTC)", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType:  EventTypeInfo{JSONField: "type"},
		HMAC: &HMACRecipe{
			Header: "X-Orb-Signature", Prefix: "v1=", Algorithm: "sha256", Encoding: "hex", IDField: "id",
			SignedContent: "v1:{timestamp}:{body}", TimestampHeader: "X-Orb-Timestamp", TimestampFormat: "iso8601-utc",
		},
	},
	{
		Name: "tiktok", DisplayName: "TikTok for Developers", Scheme: SchemeHMAC,
		Docs:      "https://developers.tiktok.com/doc/webhooks-verification",
		Signature: SignatureInfo{Headers: []string{"Tiktok-Signature"}, Signed: "t.body", Algorithm: "HMAC-SHA256", Encoding: "t=<unix>,s=<hex>"},
		Timestamp: TimestampInfo{Source: "Tiktok-Signature t=", DefaultWindow: fiveMinutes},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		EventType: EventTypeInfo{JSONField: "event"},
		HMAC: &HMACRecipe{
			Header: "Tiktok-Signature", Prefix: "s=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "{timestamp}.{body}", TimestampParam: "t",
		},
	},
	{
		Name: "postmark", DisplayName: "Postmark", Scheme: SchemeToken,
		Docs:      "https://postmarkapp.com/developer/webhooks/webhooks-overview#protecting-your-webhook",
		Signature: SignatureInfo{Headers: []string{"Authorization"}, Signed: "nothing (credentials)", Algorithm: "none", Encoding: "Basic base64(user:password), from https://user:password@ in the webhook URL"},
		Key:       KeyInfo{Kind: KeyBasic, Format: KeyFormatUserPassword},
		EventType: EventTypeInfo{JSONField: "RecordType"},
		Token:     &TokenRecipe{AllowBasic: true},
	},
	// Standard Webhooks / Svix instances: the same verifier, each its own
	// named entry; the signature header says which header family is sent.
	{
		Name: "resend", DisplayName: "Resend", Scheme: SchemeStandardWebhooks,
		Docs:       "https://resend.com/docs/webhooks/verify-webhooks-requests",
		Signature:  svixSignature,
		Timestamp:  TimestampInfo{Source: "header svix-timestamp", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "header svix-id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatWhsec},
		EventType:  EventTypeInfo{JSONField: "type"},
	},
	{
		Name: "clerk", DisplayName: "Clerk", Scheme: SchemeStandardWebhooks,
		Docs:       "https://clerk.com/docs/integrations/webhooks/sync-data",
		Signature:  svixSignature,
		Timestamp:  TimestampInfo{Source: "header svix-timestamp", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "header svix-id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatWhsec},
		EventType:  EventTypeInfo{JSONField: "type"},
	},
	{
		Name: "openai", DisplayName: "OpenAI", Scheme: SchemeStandardWebhooks,
		Docs:       "https://platform.openai.com/docs/guides/webhooks",
		Signature:  standardSignature,
		Timestamp:  TimestampInfo{Source: "header webhook-timestamp", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "header webhook-id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatWhsec},
		EventType:  EventTypeInfo{JSONField: "type"},
	},
	{
		Name: "replicate", DisplayName: "Replicate", Scheme: SchemeStandardWebhooks,
		Docs:       "https://replicate.com/docs/topics/webhooks/verify-webhook",
		Signature:  standardSignature,
		Timestamp:  TimestampInfo{Source: "header webhook-timestamp", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "header webhook-id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatWhsec},
		// No event type: the body is the prediction.
	},
}

// LookupProvider returns the table entry of p.
func LookupProvider(p Provider) (ProviderInfo, bool) {
	for _, info := range Providers {
		if info.Name == p {
			return info, true
		}
	}
	return ProviderInfo{}, false
}

// providerNames lists the names of the entries for which keep is true.
func providerNames(keep func(ProviderInfo) bool) []Provider {
	var out []Provider
	for _, info := range Providers {
		if keep(info) {
			out = append(out, info.Name)
		}
	}
	return out
}

// SignsURL reports whether the provider's signature covers the URL it
// called: its scheme says so (Signature.URL), or its HMAC recipe signs
// {url}.
func (i ProviderInfo) SignsURL() bool {
	return i.Signature.URL || (i.HMAC != nil && strings.Contains(i.HMAC.SignedContent, "{url}"))
}

// SignsURLProviders are those whose signature covers the URL, the only
// ones spec.signedURL is for (with generic-hmac when its signedContent uses
// {url}).
func SignsURLProviders() []Provider {
	return providerNames(ProviderInfo.SignsURL)
}

// AsymmetricProviders verify only with spec.publicKeys.
func AsymmetricProviders() []Provider {
	return providerNames(func(i ProviderInfo) bool { return i.Key.Kind == KeyPublicKey })
}

// PublicKeysOptionalProviders may use spec.publicKeys instead of a Secret.
func PublicKeysOptionalProviders() []Provider {
	return providerNames(func(i ProviderInfo) bool { return i.Key.PublicKeysOptional })
}

// ReceiverChoosesSecretProviders are those whose secret the controller may
// generate and rotate.
func ReceiverChoosesSecretProviders() []Provider {
	return providerNames(func(i ProviderInfo) bool { return i.Key.ReceiverChooses })
}
