package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Provider names the sender whose signature scheme an endpoint verifies.
// +kubebuilder:validation:Enum=github;gitlab;bitbucket;stripe;shopify;slack;twilio;standardwebhooks;svix;linear;square;paddle;discord;sendgrid;mailgun;zoom;intercom;twitch;generic-hmac;bearer;basic;okta;mailchimp;mandrill;dialogflow;braintree;travis;circleci;meta;coinbase;docusign;typeform;xero;facebook;instagram;whatsapp;x;hubspot;zendesk;pagerduty;sentry;vercel;calendly;workos;buildkite;buildkite-token;orb;tiktok;postmark;resend;clerk;openai;replicate;gitea;forgejo;gogs;bitbucket-server;jira;terraform-cloud;heroku;snyk;sonarqube;sonatype-nexus;pulumi;doppler;grafana;launchdarkly;autodesk;alchemy;razorpay;gocardless;woocommerce;lemonsqueezy;paystack;checkout;bolt;worldline;coinify;fourthwall;oracle-commerce;castle;onfido;veriff;messenger;pusher;webex;segment;clickup;calcom;helpscout;attio;shortcut;todoist;sendbird;line;viber;acuity;tally;ashby;box;mux;persona;elevenlabs;billit;ghost;frameio;customerio;webflow;telegram;xendit;flutterwave;cloudflare;revenuecat;harbor;chargebee;azure-devops;pipedrive;sparkpost;datocms;signatureapi;make;teams-outgoing;airtable;trello;jwt;google-pubsub;github-actions;azure-eventgrid;microsoft-graph;aws-sns;dropbox;strava;asana
type Provider string

const (
	// ProviderGitHub verifies X-Hub-Signature-256 (HMAC-SHA256 of the body).
	ProviderGitHub Provider = "github"
	// ProviderStandardWebhooks verifies webhook-id/webhook-timestamp/webhook-signature
	// as specified by standardwebhooks.com (also used by Svix).
	ProviderStandardWebhooks Provider = "standardwebhooks"
	// ProviderGenericHMAC verifies an HMAC of the body in a configurable header.
	ProviderGenericHMAC Provider = "generic-hmac"
	// ProviderDiscord verifies Ed25519 signatures with spec.publicKeys.
	ProviderDiscord Provider = "discord"
	// ProviderSendGrid verifies ECDSA signatures with spec.publicKeys.
	ProviderSendGrid Provider = "sendgrid"
)

// IsAsymmetric reports whether a provider verifies with public keys
// (spec.publicKeys) rather than a shared secret, as its entry in the
// provider table says.
func (p Provider) IsAsymmetric() bool {
	info, ok := LookupProvider(p)
	return ok && info.Key.Kind == KeyPublicKey
}

// Defaults mirrored by the GetX helpers below; code never re-derives them.
const (
	DefaultSecretKey        = "secret"
	DefaultMaxBodyBytes     = 1 << 20
	DefaultRetryFor         = 24 * time.Hour
	DefaultBackoffInitial   = time.Second
	DefaultBackoffMax       = 30 * time.Minute
	DefaultDeliveryTimeout  = 30 * time.Second
	DefaultDedupeWindow     = 24 * time.Hour
	DefaultReplayTolerance  = 5 * time.Minute
	DefaultTargetPath       = "/"
	DefaultGenericHeader    = "X-Signature"
	DefaultGenericAlgorithm = "sha256"
	DefaultGenericEncoding  = "hex"
	DefaultMaxQueuedEvents  = 10_000
	DefaultMaxQueuedBytes   = 64 << 20
)

// WebhookEndpointSpec declares where a provider's webhooks are received, how
// they are verified, and where they are delivered.
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || self.provider in ['discord', 'sendgrid', 'travis', 'jwt', 'google-pubsub', 'github-actions', 'azure-eventgrid', 'aws-sns'] || has(self.secretRef) || (self.provider in ['standardwebhooks', 'svix'] && has(self.publicKeys))",message="spec.secretRef is required for this provider (standardwebhooks and svix may use spec.publicKeys instead)"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || !(self.provider in ['discord', 'sendgrid', 'travis']) || (has(self.publicKeys) && size(self.publicKeys) > 0)",message="spec.publicKeys is required for discord, sendgrid and travis"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || !has(self.publicKeys) || self.provider in ['discord', 'sendgrid', 'travis', 'standardwebhooks', 'svix']",message="spec.publicKeys is only used by discord, sendgrid, travis, standardwebhooks and svix"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || !has(self.github) || self.provider == 'github'",message="spec.github may only be set when provider is github"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || !has(self.rotation) || self.provider in ['github', 'gitlab', 'standardwebhooks', 'generic-hmac', 'bearer', 'okta', 'mailchimp', 'dialogflow', 'circleci', 'typeform', 'gitea', 'forgejo', 'gogs', 'bitbucket-server', 'jira', 'terraform-cloud', 'heroku', 'snyk', 'sonarqube', 'sonatype-nexus', 'pulumi', 'doppler', 'grafana', 'autodesk', 'razorpay', 'woocommerce', 'lemonsqueezy', 'webex', 'segment', 'calcom', 'helpscout', 'tally', 'telegram', 'flutterwave', 'cloudflare', 'revenuecat', 'harbor', 'strava']",message="spec.rotation is only possible where the receiver chooses the secret: github, gitlab, standardwebhooks, generic-hmac, bearer, okta, mailchimp, dialogflow, circleci, typeform, gitea, forgejo, gogs, bitbucket-server, jira, terraform-cloud, heroku, snyk, sonarqube, sonatype-nexus, pulumi, doppler, grafana, autodesk, razorpay, woocommerce, lemonsqueezy, webex, segment, calcom, helpscout, tally, telegram, flutterwave, cloudflare, revenuecat, harbor, strava"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || self.provider != 'generic-hmac' || has(self.genericHMAC)",message="spec.genericHMAC is required when provider is generic-hmac"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || self.provider == 'generic-hmac' || !has(self.genericHMAC)",message="spec.genericHMAC may only be set when provider is generic-hmac"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || !(self.provider in ['jwt', 'google-pubsub', 'github-actions', 'azure-eventgrid']) || has(self.jwt)",message="spec.jwt (at least spec.jwt.audiences) is required for jwt, google-pubsub, github-actions and azure-eventgrid"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || !has(self.jwt) || self.provider in ['jwt', 'google-pubsub', 'github-actions', 'azure-eventgrid']",message="spec.jwt is only used by jwt, google-pubsub, github-actions and azure-eventgrid"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || !(self.provider in ['jwt', 'azure-eventgrid']) || (has(self.jwt) && has(self.jwt.issuer))",message="spec.jwt.issuer is required for jwt and azure-eventgrid"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || !has(self.jwt) || !has(self.jwt.issuer) || self.provider in ['jwt', 'azure-eventgrid']",message="spec.jwt.issuer may only be set for jwt and azure-eventgrid: the other providers' issuer is fixed"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || self.provider != 'jwt' || (has(self.jwt) && (has(self.jwt.jwksURL) || has(self.jwt.keys)))",message="provider jwt needs spec.jwt.jwksURL or spec.jwt.keys"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || self.provider == 'jwt' || !has(self.jwt) || (!has(self.jwt.jwksURL) && !has(self.jwt.keys))",message="spec.jwt.jwksURL and spec.jwt.keys are only for provider jwt: the other providers' keys are the issuer's"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || self.provider != 'aws-sns' || has(self.sns)",message="spec.sns.topicARNs is required for aws-sns"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || self.provider == 'aws-sns' || !has(self.sns)",message="spec.sns may only be set when provider is aws-sns"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || self.provider == 'azure-eventgrid' || !has(self.eventGrid)",message="spec.eventGrid may only be set when provider is azure-eventgrid"
// +kubebuilder:validation:XValidation:rule="has(self.providerRef) || !has(self.signedURL) || self.provider in ['twilio', 'square', 'mandrill', 'hubspot', 'trello'] || (self.provider == 'generic-hmac' && has(self.genericHMAC) && has(self.genericHMAC.signedContent) && self.genericHMAC.signedContent.contains('{url}'))",message="spec.signedURL is only used by providers that sign the URL: twilio, square, mandrill, hubspot, trello, and generic-hmac when spec.genericHMAC.signedContent uses {url}"
// +kubebuilder:validation:XValidation:rule="has(self.target) != has(self.targets)",message="set exactly one of spec.target and spec.targets"
// +kubebuilder:validation:XValidation:rule="has(self.provider) != has(self.providerRef)",message="set exactly one of spec.provider (a built-in provider) and spec.providerRef (a WebhookProvider)"
// +kubebuilder:validation:XValidation:rule="!has(self.providerRef) || !(has(self.publicKeys) || has(self.github) || has(self.genericHMAC) || has(self.sns) || (has(self.jwt) && (has(self.jwt.issuer) || has(self.jwt.jwksURL) || has(self.jwt.keys))))",message="with spec.providerRef the WebhookProvider is the recipe: spec.publicKeys, spec.github, spec.genericHMAC, spec.sns and spec.jwt.issuer, jwksURL and keys are not used (spec.jwt.audiences and claims are)"
type WebhookEndpointSpec struct {
	// Provider is the built-in sender whose signature scheme is verified
	// (docs/providers.md). Set it or spec.providerRef.
	// +optional
	Provider Provider `json:"provider,omitempty"`

	// ProviderRef names a WebhookProvider, a provider the platform defined
	// (a table-driven HMAC, token or JWT recipe), instead of spec.provider.
	// Until it exists and is valid the endpoint is not Ready
	// (ProviderNotFound, ProviderNotReady) and requests are answered 503.
	// +optional
	ProviderRef *ProviderReference `json:"providerRef,omitempty"`

	// SecretRef points at the Secret, in the endpoint's namespace, that holds
	// the signing secret shared with the provider. Not used by providers
	// that sign with a private key (discord, sendgrid, travis; see
	// docs/providers.md), which need publicKeys instead.
	// +optional
	SecretRef *SecretKeyRef `json:"secretRef,omitempty"`

	// PublicKeys verify providers that sign with a private key, in the
	// provider's published encoding: discord (hex Ed25519 application public
	// key), sendgrid (base64 DER ECDSA P-256 key from the Event Webhook
	// settings), travis (PEM RSA key from Travis CI's /config API),
	// standardwebhooks and svix (whpk_... keys for v1a signatures). Every
	// listed key is accepted, so a new key can be added before the old one
	// is removed.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=1024
	PublicKeys []string `json:"publicKeys,omitempty"`

	// GitHub settings.
	// +optional
	GitHub *GitHubSpec `json:"github,omitempty"`

	// GenericHMAC configures the generic-hmac provider.
	// +optional
	GenericHMAC *GenericHMACSpec `json:"genericHMAC,omitempty"`

	// JWT configures the providers that verify a signed JWT (an OIDC ID
	// token or an OAuth access token): jwt, google-pubsub, github-actions
	// and azure-eventgrid.
	// +optional
	JWT *JWTSpec `json:"jwt,omitempty"`

	// SNS configures the aws-sns provider.
	// +optional
	SNS *SNSSpec `json:"sns,omitempty"`

	// EventGrid configures how the azure-eventgrid provider (or a
	// WebhookProvider with Event Grid's handshake) completes Event Grid's
	// subscription validation.
	// +optional
	EventGrid *EventGridSpec `json:"eventGrid,omitempty"`

	// SignedURL is the URL the provider was given, for providers whose
	// signature covers the URL they call (twilio, square, mandrill,
	// hubspot, trello; generic-hmac with {url}): scheme, host, port and
	// path exactly as configured at the provider, with no query or
	// fragment. The query the request arrives with is appended, as the
	// provider signs it (Twilio adds bodySHA256). Set it when a proxy,
	// ingress or load balancer changes what the receiver sees (host, port,
	// path prefix); only this URL is then tried. Unset: status.url when
	// the controller publishes one, then the URL rebuilt from the request
	// (trusted forwarding headers).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (url(self).getScheme() == 'https' || (url(self).getScheme() == 'http' && url(self).getHostname() in ['localhost', '127.0.0.1'])) && url(self).getHostname() != ''",message="spec.signedURL must be an absolute https URL (http only for localhost or 127.0.0.1)"
	// +kubebuilder:validation:XValidation:rule="!self.contains('#') && !self.contains('?')",message="spec.signedURL must have no fragment and no query: the request's query is appended as it arrives"
	SignedURL string `json:"signedURL,omitempty"`

	// ReplayTolerance is how far a signed timestamp may be from the
	// receiver's clock before the request is refused, for providers that
	// sign a timestamp. Defaults to the provider's documented window (5m for
	// most, 60s Linear, 5s Paddle, 10m Twitch, 8h Mailgun; see
	// docs/providers.md) and 5m for generic-hmac.
	// +optional
	ReplayTolerance *metav1.Duration `json:"replayTolerance,omitempty"`

	// SourceRanges is an allowlist of client CIDRs (IPv4 or IPv6). Requests
	// from other addresses are refused with 403. Empty allows every address.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c))",message="every sourceRanges entry must be a CIDR such as 192.0.2.0/24 or 2001:db8::/32"
	SourceRanges []string `json:"sourceRanges,omitempty"`

	// Target is where verified events are delivered. Set it or
	// spec.targets.
	// +optional
	Target *TargetSpec `json:"target,omitempty"`

	// Targets fan each event out to several targets, each with its own
	// delivery policy, attempts, dead letters, counters and status
	// (status.targets): one failing target does not delay another. Set it
	// or spec.target.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:XValidation:rule="self.all(t, self.exists_one(u, (has(u.name) ? u.name : u.service.name) == (has(t.name) ? t.name : t.service.name)))",message="spec.targets must have distinct names (a target's name defaults to its Service's)"
	Targets []TargetSpec `json:"targets,omitempty"`

	// Priority of the endpoint's deliveries: under a backlog, when a
	// receiver has more attempts to make than its --delivery-slots, High
	// ones get the free slots first (at least four in five, so Normal ones
	// are never starved). A target's own priority overrides it. Defaults
	// to Normal.
	// +optional
	Priority Priority `json:"priority,omitempty"`

	// Delivery is the retry policy towards the targets; a target's own
	// delivery overrides it field by field.
	// +optional
	Delivery DeliverySpec `json:"delivery,omitempty"`

	// Dedupe controls how provider redeliveries are recognised.
	// +optional
	Dedupe DedupeSpec `json:"dedupe,omitempty"`

	// Limits bound what one endpoint may send.
	// +optional
	Limits LimitsSpec `json:"limits,omitempty"`

	// History is what the receiver keeps of this endpoint's requests and
	// delivery attempts, for the events API and `kubectl hookgate`:
	// for how long, how many, and which personal data it leaves out.
	// +optional
	History HistorySpec `json:"history,omitempty"`

	// Suspend stops delivery to the target; received events stay queued
	// until it is set back to false. Receiving goes on.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Route overrides how this endpoint is exposed; the manager's defaults
	// (from the Helm chart's values) apply otherwise.
	// +optional
	Route *RouteSpec `json:"route,omitempty"`

	// Rotation lets the controller generate the signing secret and rotate
	// it, for providers where the receiver chooses the secret (the
	// "key" column of docs/providers.md says which). The controller writes
	// only a Secret it created for this endpoint or one labelled
	// hookgate.io/endpoint-name=<endpoint name>; with any other Secret
	// SecretReady is False (SecretNotManaged) and the Secret is left alone.
	// +optional
	Rotation *RotationSpec `json:"rotation,omitempty"`
}

// RouteKind selects the kind of route that exposes an endpoint.
// +kubebuilder:validation:Enum=Ingress;HTTPRoute;None
type RouteKind string

const (
	// RouteIngress exposes the endpoint with a networking.k8s.io/v1 Ingress.
	RouteIngress RouteKind = "Ingress"
	// RouteHTTPRoute exposes the endpoint with a Gateway API HTTPRoute.
	RouteHTTPRoute RouteKind = "HTTPRoute"
	// RouteNone creates no route: the receiver is exposed some other way.
	RouteNone RouteKind = "None"
)

// RouteSpec overrides the manager's route defaults for one endpoint. The
// route is written in the platform's namespace, so every field other than
// kind may differ from the defaults only as far as the platform's route
// policy allows (the chart's route.tenantPolicy); otherwise the endpoint
// gets no route and RouteReady=False with reason RoutePolicyViolation.
type RouteSpec struct {
	// Kind of route. Defaults to the manager's --route-kind.
	// +optional
	Kind RouteKind `json:"kind,omitempty"`

	// Host is the public host name. Defaults to the manager's --route-host.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Host string `json:"host,omitempty"`

	// IngressClassName of the Ingress. Defaults to the manager's --ingress-class.
	// +optional
	IngressClassName string `json:"ingressClassName,omitempty"`

	// TLSSecretName is the Secret, in the receiver's namespace, with the
	// Ingress TLS certificate. Defaults to the manager's --ingress-tls-secret.
	// +optional
	TLSSecretName string `json:"tlsSecretName,omitempty"`

	// ClusterIssuer, when set, asks cert-manager for the certificate
	// (cert-manager.io/cluster-issuer annotation).
	// +optional
	ClusterIssuer string `json:"clusterIssuer,omitempty"`

	// Annotations added to the route.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// ParentRefs of the HTTPRoute (Gateway API), as "namespace/name" of a
	// Gateway. Defaults to the manager's --gateway.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	ParentRefs []string `json:"parentRefs,omitempty"`
}

// RotationSpec controls secret generation and rotation.
// +kubebuilder:validation:XValidation:rule="!has(self.interval) || !has(self.gracePeriod) || duration(self.gracePeriod) < duration(self.interval)",message="rotation.gracePeriod must be shorter than rotation.interval"
type RotationSpec struct {
	// Generate creates a strong random secret in the referenced Secret when
	// the Secret or key is absent.
	// +optional
	Generate bool `json:"generate,omitempty"`

	// Interval between automatic rotations. No automatic rotation when
	// unset; a rotation can still be requested with the
	// hookgate.io/rotate annotation.
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// GracePeriod is how long the previous key stays valid after a
	// rotation, so that requests signed before the provider was updated
	// still verify. Defaults to 24h.
	// +optional
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`
}

// GitHubSpec holds GitHub-only settings.
type GitHubSpec struct {
	// AllowSHA1 accepts X-Hub-Signature (HMAC-SHA1) when a request carries no
	// X-Hub-Signature-256. Only for old GitHub Enterprise Server versions.
	// +optional
	AllowSHA1 bool `json:"allowSHA1,omitempty"`
}

// LimitsSpec bounds one endpoint's traffic.
type LimitsSpec struct {
	// MaxBodyBytes is the largest accepted body; larger requests get 413.
	// Defaults to 1048576 (1 MiB); at most 67108864 (64 MiB). Bodies over
	// the receiver's --inline-body-max (256 KiB) are stored by reference
	// in a JetStream object store; the receiver's --max-body-bytes caps
	// every endpoint.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=67108864
	MaxBodyBytes *int64 `json:"maxBodyBytes,omitempty"`

	// RequestsPerSecond is the sustained ingest rate allowed per receiver
	// replica; excess requests get 429 with Retry-After. Unlimited when unset.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	RequestsPerSecond *int32 `json:"requestsPerSecond,omitempty"`

	// Burst is how many requests may arrive at once above the sustained
	// rate. Defaults to RequestsPerSecond.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	Burst *int32 `json:"burst,omitempty"`

	// MaxQueuedEvents is this endpoint's storage quota in events waiting
	// for delivery (queued, in flight or in backoff). Over it, new events
	// are answered 503 with Retry-After, so the provider retries later,
	// and other endpoints are unaffected. Defaults to 10000; the platform
	// may set a lower ceiling on the receiver.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	MaxQueuedEvents *int64 `json:"maxQueuedEvents,omitempty"`

	// MaxQueuedBytes is this endpoint's storage quota in bytes of bodies
	// waiting for delivery; over it, new events are answered 503 with
	// Retry-After. Defaults to 67108864 (64 MiB); the platform may set a
	// lower ceiling on the receiver.
	// +optional
	// +kubebuilder:validation:Minimum=1048576
	// +kubebuilder:validation:Maximum=68719476736
	MaxQueuedBytes *int64 `json:"maxQueuedBytes,omitempty"`
}

// SecretKeyRef selects a key of a Secret in the endpoint's namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key in the Secret's data that holds the signing secret. Defaults to "secret".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// GenericHMACSpec configures an HMAC signature in one header.
// +kubebuilder:validation:XValidation:rule="!has(self.timestampHeader) || (has(self.signedContent) && self.signedContent.contains('{timestamp}'))",message="signedContent must include {timestamp} when timestampHeader is set, otherwise the timestamp is not signed"
// +kubebuilder:validation:XValidation:rule="!has(self.signedContent) || self.signedContent.contains('{body}')",message="signedContent must include {body}"
// +kubebuilder:validation:XValidation:rule="!has(self.signedContent) || !self.signedContent.contains('{id}') || has(self.idHeader)",message="signedContent uses {id}: set idHeader"
type GenericHMACSpec struct {
	// Header carrying the signature. Defaults to X-Signature.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	Header string `json:"header,omitempty"`

	// Algorithm of the HMAC. Defaults to sha256.
	// +optional
	// +kubebuilder:validation:Enum=sha1;sha256;sha512
	Algorithm string `json:"algorithm,omitempty"`

	// Encoding of the signature in the header. Defaults to hex.
	// +optional
	// +kubebuilder:validation:Enum=hex;base64
	Encoding string `json:"encoding,omitempty"`

	// Prefix before the encoded signature, e.g. "sha256=".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Prefix string `json:"prefix,omitempty"`

	// IDHeader names a header holding a unique delivery id, used to dedupe
	// redeliveries. Without it, generic-hmac events are not deduplicated.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	IDHeader string `json:"idHeader,omitempty"`

	// TimestampHeader names a header holding the send time in Unix seconds;
	// when set, requests outside spec.replayTolerance are refused.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	TimestampHeader string `json:"timestampHeader,omitempty"`

	// SignedContent is the template of the signed bytes, built from
	// {body}, {timestamp}, {id}, {url} and {method}. Defaults to "{body}".
	// +optional
	// +kubebuilder:validation:MaxLength=256
	SignedContent string `json:"signedContent,omitempty"`
}

// JWTAlgorithm is a JWS algorithm with a public key. none and the HMAC
// algorithms (HS256, ...) are not accepted: a public key is no secret.
// +kubebuilder:validation:Enum=RS256;RS384;RS512;PS256;PS384;PS512;ES256;ES384;ES512;EdDSA
type JWTAlgorithm string

// JWTSpec says which tokens an endpoint accepts. A token proves who sent
// the request (and to whom), not what the body is: it may be replayed with
// another body until it expires.
// +kubebuilder:validation:XValidation:rule="!(has(self.jwksURL) && has(self.keys))",message="set spec.jwt.jwksURL or spec.jwt.keys, not both"
type JWTSpec struct {
	// Issuer is the exact iss claim accepted, e.g.
	// https://login.microsoftonline.com/<tenant id>/v2.0 for
	// azure-eventgrid. Required for jwt and azure-eventgrid; fixed by the
	// provider otherwise (accounts.google.com,
	// token.actions.githubusercontent.com).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Issuer string `json:"issuer,omitempty"`

	// Audiences are the accepted aud values: a token must name one of them.
	// Pub/Sub's default audience is the push endpoint's URL; GitHub's is the
	// repository owner's URL unless the workflow asks for another.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=512
	Audiences []string `json:"audiences"`

	// JWKSURL is the issuer's JWK Set (provider jwt only), fetched by the
	// receiver over https, cached for its Cache-Control max-age (5m to 24h,
	// 1h when it says none) and refetched at most every 30s when a token
	// names an unknown kid. Never a URL from the request.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https'",message="spec.jwt.jwksURL must be an https URL"
	JWKSURL string `json:"jwksURL,omitempty"`

	// Keys are the issuer's public keys inline (provider jwt only), each a
	// PEM public key or certificate, a JWK or a JWK Set.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=16384
	Keys []string `json:"keys,omitempty"`

	// Algorithms accepted. Defaults to the provider's (RS256 for Google,
	// GitHub and Entra ID) and, for jwt, to every listed algorithm; a key is
	// only ever used with the algorithm of its type.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	Algorithms []JWTAlgorithm `json:"algorithms,omitempty"`

	// Claims must each be present in the token with exactly this string
	// value, e.g. email: my-push@project.iam.gserviceaccount.com (Pub/Sub),
	// repository: org/repo (GitHub Actions), or, for a list claim, contain
	// it.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	Claims map[string]string `json:"claims,omitempty"`

	// Header carrying the token. Defaults to Authorization, where the value
	// is "Bearer <token>"; in any other header the value is the token.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	// +kubebuilder:validation:MaxLength=64
	Header string `json:"header,omitempty"`
}

// SNSSpec configures an Amazon SNS HTTP/S subscription.
type SNSSpec struct {
	// TopicARNs are the topics whose messages are accepted and whose
	// SubscriptionConfirmation the receiver confirms (by a GET of its
	// SubscribeURL, after its signature verified). Exact ARNs, no wildcards.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$`
	TopicARNs []string `json:"topicARNs"`
}

// EventGridValidation is how the receiver completes an Event Grid
// subscription validation.
// +kubebuilder:validation:Enum=Code;URL
type EventGridValidation string

const (
	// EventGridValidationCode answers the validation event synchronously
	// with {"validationResponse": "<validationCode>"}.
	EventGridValidationCode EventGridValidation = "Code"
	// EventGridValidationURL answers the validation event 200 without a
	// validation response (Event Grid then waits, AwaitingManualAction)
	// and confirms the subscription by a GET of the event's validationUrl.
	EventGridValidationURL EventGridValidation = "URL"
)

// EventGridSpec configures Azure Event Grid's subscription validation
// handshake (Event Grid schema). Either way the validation event is
// answered only after the request's Entra ID token verified, and it is
// never stored as an event.
type EventGridSpec struct {
	// Validation is how a Microsoft.EventGrid.SubscriptionValidationEvent
	// is answered. Code (the default): synchronously, with the event's
	// validationCode. URL (the asynchronous, manual handshake): 200 with no
	// validation response, then, in the background and within the URL's
	// 10 minutes, a GET of the event's validationUrl, which must be https
	// on eventgrid.azure.net or one of its subdomains (any port, no
	// userinfo); any other validationUrl is answered 400 and never
	// fetched. With Code, an event that carries a validationUrl but no
	// validationCode is confirmed as with URL.
	// +optional
	// +kubebuilder:default=Code
	Validation EventGridValidation `json:"validation,omitempty"`
}

// GetValidation returns the validation mode, Code when unset.
func (e *EventGridSpec) GetValidation() EventGridValidation {
	if e == nil || e.Validation == "" {
		return EventGridValidationCode
	}
	return e.Validation
}

// GetHeader returns the header carrying the token.
func (j *JWTSpec) GetHeader() string {
	if j == nil || j.Header == "" {
		return DefaultJWTHeader
	}
	return j.Header
}

// DefaultJWTHeader carries a JWT as "Bearer <token>".
const DefaultJWTHeader = "Authorization"

// TargetSpec says where events go, and how that target is protected.
type TargetSpec struct {
	// Name identifies the target in status, metrics and Events. Defaults
	// to the Service's name. Changing it (or removing a target of
	// spec.targets) discards the events still waiting for that target.
	// +optional
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name,omitempty"`

	// Service in the endpoint's namespace that receives the events.
	// +required
	Service ServiceTarget `json:"service"`

	// Delivery overrides spec.delivery for this target, field by field.
	// +optional
	Delivery *DeliverySpec `json:"delivery,omitempty"`

	// Limits protect the target: at most this many requests per second
	// and in flight, counted across all receiver replicas.
	// +optional
	Limits *TargetLimits `json:"limits,omitempty"`

	// CircuitBreaker stops sending to a target that keeps failing, without
	// using up the events' attempts. On by default.
	// +optional
	CircuitBreaker *CircuitBreakerSpec `json:"circuitBreaker,omitempty"`

	// Filter is a CEL expression over the event (event.provider,
	// event.type, event.headers, event.body, ...; docs/api.md, "Filters")
	// that decides whether this target receives it: false drops it for
	// this target, counted in status as dropped. An expression that does
	// not compile, or whose worst case costs too much, is refused when the
	// endpoint is applied. Unset: every event.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Filter string `json:"filter,omitempty"`

	// Format of the request to the target. Raw (the default) forwards the
	// provider's request: its body and headers. CloudEvents sends the same
	// body as a CloudEvents 1.0 binary-mode message: ce-specversion, ce-id
	// (the event's id), ce-source (the endpoint), ce-type (the provider's
	// event type, or the provider's name), ce-time (when it was received).
	// +optional
	// +kubebuilder:validation:Enum=Raw;CloudEvents
	Format TargetFormat `json:"format,omitempty"`

	// Priority overrides the endpoint's spec.priority for this target.
	// +optional
	Priority Priority `json:"priority,omitempty"`

	// Ordering delivers this target's events one at a time, in the order
	// they were stored, instead of in parallel (the default). The cost is
	// head-of-line blocking: an event in backoff holds up every later one
	// of its sequence until it is delivered or dead-lettered.
	// +optional
	Ordering *OrderingSpec `json:"ordering,omitempty"`
}

// OrderingSpec says which of a target's events must keep their order.
type OrderingSpec struct {
	// Key is a CEL expression over the event (the variables of filters)
	// yielding a string or integer, e.g. event.body.repository.full_name:
	// events with the same key are delivered in order, one at a time, and
	// different keys in parallel, spread over the partitions. An event
	// whose key cannot be evaluated goes with the key "". Unset: all the
	// target's events are one sequence.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Key string `json:"key,omitempty"`

	// Partitions is how many sequences run in parallel with a key (keys
	// are hashed onto them, so two keys may share one). Defaults to 8.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16
	Partitions *int32 `json:"partitions,omitempty"`
}

// Priority is how an endpoint's or target's deliveries are scheduled
// under a backlog.
// +kubebuilder:validation:Enum=High;Normal
type Priority string

const (
	PriorityHigh   Priority = "High"
	PriorityNormal Priority = "Normal"
)

// TargetFormat is how events are sent to a target.
type TargetFormat string

const (
	FormatRaw         TargetFormat = "Raw"
	FormatCloudEvents TargetFormat = "CloudEvents"
)

// TargetLimits bound what the receivers send to one target, all replicas
// together: each live receiver replica takes an equal share (see
// docs/operations.md, "Protecting a target").
type TargetLimits struct {
	// RequestsPerSecond is the most delivery attempts per second.
	// Unlimited when unset.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	RequestsPerSecond *int32 `json:"requestsPerSecond,omitempty"`

	// MaxConcurrency is the most attempts in flight at once. Defaults to
	// the receiver's --delivery-concurrency per replica.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	MaxConcurrency *int32 `json:"maxConcurrency,omitempty"`
}

// CircuitBreakerSpec opens a target's circuit after consecutive failures
// (connection failures, timeouts, 5xx and 429 answers; other 4xx answers
// blame the event, not the target) or a failure ratio. While it is open no
// event is sent to the target and none uses an attempt; after openFor one
// receiver sends one event as a probe (half-open): success closes the
// circuit, failure opens it again.
// +kubebuilder:validation:XValidation:rule="!has(self.failureRatio) || has(self.minRequests)",message="circuitBreaker.failureRatio needs circuitBreaker.minRequests"
type CircuitBreakerSpec struct {
	// Disabled turns the circuit breaker off: every event is attempted
	// on its own schedule.
	// +optional
	Disabled bool `json:"disabled,omitempty"`

	// ConsecutiveFailures opens the circuit. Defaults to 10.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	ConsecutiveFailures *int32 `json:"consecutiveFailures,omitempty"`

	// FailureRatio, in percent, of the last minRequests attempts (on one
	// receiver replica) opens the circuit. Unset: only consecutive
	// failures do.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	FailureRatio *int32 `json:"failureRatio,omitempty"`

	// MinRequests is the window of attempts the failure ratio is taken over.
	// +optional
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=1000
	MinRequests *int32 `json:"minRequests,omitempty"`

	// OpenFor is how long the circuit stays open before a probe. Defaults
	// to 30s.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('1h')",message="circuitBreaker.openFor must be between 1s and 1h"
	OpenFor *metav1.Duration `json:"openFor,omitempty"`
}

// CircuitState is a target's circuit: Closed (delivering), Open (holding
// events) or HalfOpen (one probe in flight).
type CircuitState string

const (
	CircuitClosed   CircuitState = "Closed"
	CircuitOpen     CircuitState = "Open"
	CircuitHalfOpen CircuitState = "HalfOpen"
)

// ServiceTarget is an HTTP Service in the endpoint's namespace.
type ServiceTarget struct {
	// Name of the Service.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// Port of the Service to send to.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// Path on the target that receives the POST. Defaults to "/".
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/`
	Path string `json:"path,omitempty"`
}

// DeliverySpec is the retry policy towards the target. By default an event
// is retried for 24 hours (spec.delivery.retryFor), with backoff from 1s
// doubling up to 30m, before it is dead-lettered: long enough to ride out a
// night's outage of the target, the way providers themselves retry for a
// day or more. See docs/operations.md, "Delivery policy".
type DeliverySpec struct {
	// MaxAttempts, when set, also bounds how many times an event is
	// offered to the target before it is dead-lettered, whichever of it and
	// retryFor comes first. Unset: only retryFor bounds the retries.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxAttempts *int32 `json:"maxAttempts,omitempty"`

	// RetryFor is how long an event is retried, counted from when it was
	// stored (or replayed): an attempt that fails after this is the last,
	// and the event is dead-lettered. The last retry is scheduled at
	// retryFor, so an event gets at least this long. Defaults to 24h; at
	// most 168h (7 days).
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('168h')",message="delivery.retryFor must be between 1s and 168h"
	RetryFor *metav1.Duration `json:"retryFor,omitempty"`

	// Backoff between attempts.
	// +optional
	Backoff BackoffSpec `json:"backoff,omitempty"`

	// Timeout of one attempt. Defaults to 30s.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// BackoffSpec is an exponential backoff with full jitter.
// +kubebuilder:validation:XValidation:rule="!has(self.initial) || !has(self.max) || duration(self.initial) <= duration(self.max)",message="backoff.initial must not exceed backoff.max"
type BackoffSpec struct {
	// Initial delay after the first failure. Defaults to 1s.
	// +optional
	Initial *metav1.Duration `json:"initial,omitempty"`

	// Max is the longest delay between attempts. Defaults to 30m: a longer
	// cap costs the target fewer attempts during an outage and delivers
	// later after it ends.
	// +optional
	Max *metav1.Duration `json:"max,omitempty"`
}

// HistoryBody says whether the history keeps an accepted event's body.
// +kubebuilder:validation:Enum=Keep;Omit
type HistoryBody string

// History body policies.
const (
	// HistoryBodyKeep keeps the body (redacted, up to maxBodyBytes).
	HistoryBodyKeep HistoryBody = "Keep"
	// HistoryBodyOmit keeps headers and metadata only.
	HistoryBodyOmit HistoryBody = "Omit"
)

// HistorySpec is the endpoint's event history: every request (accepted,
// duplicate, rejected and why, handshake) and every delivery attempt, kept
// in JetStream beside the queue. It is redacted when it is written, so
// what is left out here is never stored.
// +kubebuilder:validation:XValidation:rule="!has(self.redactFields) || size(self.redactFields) == 0 || !has(self.body) || self.body == 'Keep'",message="redactFields needs body: Keep (with body: Omit there is no body to redact)"
type HistorySpec struct {
	// Disabled keeps no history for this endpoint; counters and status
	// still work.
	// +optional
	Disabled bool `json:"disabled,omitempty"`

	// Retention is how long records are kept. Defaults to 168h (7 days);
	// at most 720h (30 days).
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('720h')",message="history.retention must be between 1m and 720h"
	// +optional
	Retention *metav1.Duration `json:"retention,omitempty"`

	// MaxEvents is the most requests kept; the oldest are removed first
	// (checked every minute, so the count may briefly exceed it).
	// Defaults to 10000.
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	MaxEvents *int32 `json:"maxEvents,omitempty"`

	// Body says whether accepted events' bodies are kept: Keep (the
	// default) or Omit, for payloads with personal data.
	// +optional
	Body HistoryBody `json:"body,omitempty"`

	// MaxBodyBytes is the most of a body kept; a longer one is truncated
	// (and marked so). Defaults to 65536.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1048576
	// +optional
	MaxBodyBytes *int32 `json:"maxBodyBytes,omitempty"`

	// RedactHeaders are request header names whose values are replaced by
	// "[REDACTED]". Credentials (Authorization, Cookie, GitLab's token)
	// are never stored at all.
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +optional
	RedactHeaders []string `json:"redactHeaders,omitempty"`

	// RedactFields are body fields whose values are replaced by
	// "[REDACTED]": dot-separated paths into a JSON body
	// (customer.email, data.object.billing_details; a path goes through
	// arrays, * matches any key) or field names of a form body (Slack,
	// Twilio). A body that is neither JSON nor a form is omitted.
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +optional
	RedactFields []string `json:"redactFields,omitempty"`
}

// DedupeSpec controls redelivery detection.
type DedupeSpec struct {
	// Window is how long a provider's delivery id is remembered. A
	// redelivery inside the window is answered 2xx but not forwarded again.
	// Defaults to 24h.
	// +optional
	Window *metav1.Duration `json:"window,omitempty"`
}

// WebhookEndpointStatus is what the controller and receiver observed.
type WebhookEndpointStatus struct {
	// ObservedGeneration is the generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, SecretReady, TargetReady.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// WebhookPath is the receiver path assigned to this endpoint. It is
	// random, stable for the life of the endpoint, and unguessable.
	// +optional
	WebhookPath string `json:"webhookPath,omitempty"`

	// URL is the full public URL providers should call, when the receiver's
	// public base URL is known.
	// +optional
	URL string `json:"url,omitempty"`

	// Deliveries counts what happened to this endpoint's events. Absent
	// until the controller has read the counters from the queue.
	// +optional
	Deliveries *DeliveryCounters `json:"deliveries,omitempty"`

	// LastDeliveryTime is when an event was last delivered to the target.
	// +optional
	LastDeliveryTime *metav1.Time `json:"lastDeliveryTime,omitempty"`

	// LastFailure is the last failed delivery attempt.
	// +optional
	LastFailure *DeliveryFailure `json:"lastFailure,omitempty"`

	// Secret describes the signing key's life when the controller manages it.
	// +optional
	Secret *SecretStatus `json:"secret,omitempty"`

	// Replay reports the last dead-letter replay.
	// +optional
	Replay *ReplayStatus `json:"replay,omitempty"`

	// Route names the object that exposes the endpoint.
	// +optional
	Route *RouteStatus `json:"route,omitempty"`

	// Targets is each target's deliveries and circuit. status.deliveries
	// and lastFailure are their totals and latest.
	// +optional
	// +listType=map
	// +listMapKey=name
	Targets []TargetStatus `json:"targets,omitempty"`
}

// TargetStatus is what happened to one target's events.
type TargetStatus struct {
	// Name of the target.
	Name string `json:"name"`
	// Service it delivers to.
	Service string `json:"service"`
	// Circuit is Closed, Open (events held, no attempts used) or HalfOpen.
	// +optional
	Circuit CircuitState `json:"circuit,omitempty"`
	// CircuitReason is why the circuit last opened, e.g. HTTP503.
	// +optional
	CircuitReason string `json:"circuitReason,omitempty"`
	// CircuitChangedTime is when the circuit last changed.
	// +optional
	CircuitChangedTime *metav1.Time `json:"circuitChangedTime,omitempty"`
	// NextProbeTime is when an open circuit is probed.
	// +optional
	NextProbeTime *metav1.Time `json:"nextProbeTime,omitempty"`
	// ThrottledUntil is set while the target asked (429 or 503) to be
	// left alone: no attempt is sent before it.
	// +optional
	ThrottledUntil *metav1.Time `json:"throttledUntil,omitempty"`
	// Deliveries counts this target's events.
	// +optional
	Deliveries *TargetCounters `json:"deliveries,omitempty"`
	// LastDeliveryTime is when an event was last delivered to this target.
	// +optional
	LastDeliveryTime *metav1.Time `json:"lastDeliveryTime,omitempty"`
	// LastFailure is this target's last failed attempt.
	// +optional
	LastFailure *DeliveryFailure `json:"lastFailure,omitempty"`
	// Partitions is how many ordered sequences the target's queue is
	// split into (spec ordering.key); absent when it is not.
	// +optional
	Partitions int32 `json:"partitions,omitempty"`
}

// SecretStatus is the state of a managed signing key.
type SecretStatus struct {
	// CreatedAt is when the current key was generated.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// PreviousExpiresAt is when the previous key stops being accepted.
	// +optional
	PreviousExpiresAt *metav1.Time `json:"previousExpiresAt,omitempty"`
	// NextRotationAt is when the key is rotated next.
	// +optional
	NextRotationAt *metav1.Time `json:"nextRotationAt,omitempty"`
	// LastRotateToken is the last handled hookgate.io/rotate annotation value.
	// +optional
	LastRotateToken string `json:"lastRotateToken,omitempty"`
}

// ReplayStatus is the result of the last hookgate.io/replay request.
type ReplayStatus struct {
	// Token is the handled hookgate.io/replay annotation value.
	Token string `json:"token"`
	// Replayed is how many dead letters were put back in the queue.
	Replayed int64 `json:"replayed"`
	// Time of the replay.
	Time metav1.Time `json:"time"`
}

// RouteStatus names the route object.
type RouteStatus struct {
	// Kind is Ingress or HTTPRoute.
	Kind string `json:"kind"`
	// Namespace and Name of the route object.
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// DeliveryCounters are totals kept in JetStream, correct across receiver
// replicas and restarts.
type DeliveryCounters struct {
	// Received is how many events were verified and durably stored.
	// +optional
	// +kubebuilder:default=0
	Received int64 `json:"received"`
	// Rejected is how many requests were refused (signature, allowlist, size).
	// +optional
	// +kubebuilder:default=0
	Rejected int64 `json:"rejected"`
	// Duplicates is how many provider redeliveries were recognised and not forwarded again.
	// +optional
	// +kubebuilder:default=0
	Duplicates int64 `json:"duplicates"`
	// Delivered is how many events the target accepted with a 2xx.
	// +optional
	// +kubebuilder:default=0
	Delivered int64 `json:"delivered"`
	// Retries is how many delivery attempts failed and were retried.
	// +optional
	// +kubebuilder:default=0
	Retries int64 `json:"retries"`
	// Pending is how many events are queued or being retried.
	// +optional
	// +kubebuilder:default=0
	Pending int64 `json:"pending"`
	// DeadLettered is how many events exhausted their attempts.
	// +optional
	// +kubebuilder:default=0
	DeadLettered int64 `json:"deadLettered"`
	// Dropped is how many events a target's filter did not want.
	// +optional
	Dropped int64 `json:"dropped,omitempty"`
	// QueuedBytes is the bytes of bodies waiting for delivery, counted
	// against spec.limits.maxQueuedBytes.
	// +optional
	QueuedBytes int64 `json:"queuedBytes,omitempty"`
}

// TargetCounters are one target's totals, kept in JetStream like the
// endpoint's.
type TargetCounters struct {
	// Received is how many events were routed to the target (dropped
	// ones included).
	Received int64 `json:"received"`
	// Delivered is how many events the target accepted with a 2xx.
	Delivered int64 `json:"delivered"`
	// Retries is how many attempts failed and were retried.
	Retries int64 `json:"retries"`
	// Pending is how many events wait for the target: queued, in flight,
	// in backoff or held by its circuit.
	Pending int64 `json:"pending"`
	// DeadLettered is how many events exhausted their attempts.
	DeadLettered int64 `json:"deadLettered"`
	// Dropped is how many events the target's filter did not want.
	// +optional
	Dropped int64 `json:"dropped,omitempty"`
	// QueuedBytes is the bytes of the target's waiting bodies.
	// +optional
	QueuedBytes int64 `json:"queuedBytes,omitempty"`
}

// DeliveryFailure describes a failed attempt.
type DeliveryFailure struct {
	// Time of the failure.
	Time metav1.Time `json:"time"`
	// Reason is a short machine-readable cause, e.g. HTTP503 or Timeout.
	Reason string `json:"reason"`
	// Message is a human-readable cause.
	// +optional
	Message string `json:"message,omitempty"`
	// DeliveryID is the provider's delivery id of the event, when it has one.
	// +optional
	DeliveryID string `json:"deliveryID,omitempty"`
	// EventID is Hookgate's id of the event (its Idempotency-Key): what
	// `kubectl hookgate show <endpoint> <eventID>` takes.
	// +optional
	EventID string `json:"eventID,omitempty"`
	// Attempt is which attempt at the event this was (1 for the first).
	// +optional
	Attempt int32 `json:"attempt,omitempty"`
	// NextAttemptTime is when the event will be tried again; absent when
	// this attempt was its last and it was dead-lettered.
	// +optional
	NextAttemptTime *metav1.Time `json:"nextAttemptTime,omitempty"`
}

// WebhookEndpoint receives a provider's webhooks, verifies them, stores them
// durably and delivers them to a Service.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=whe;wep,categories=hookgate
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`,priority=0
// +kubebuilder:printcolumn:name="Path",type=string,JSONPath=`.status.webhookPath`,priority=1
// +kubebuilder:printcolumn:name="Received",type=integer,JSONPath=`.status.deliveries.received`
// +kubebuilder:printcolumn:name="Delivered",type=integer,JSONPath=`.status.deliveries.delivered`
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.status.deliveries.pending`,priority=1
// +kubebuilder:printcolumn:name="Dead",type=integer,JSONPath=`.status.deliveries.deadLettered`
// +kubebuilder:printcolumn:name="Open",type=string,JSONPath=`.status.targets[?(@.circuit=="Open")].name`,description="Targets whose circuit is open"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WebhookEndpoint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec WebhookEndpointSpec `json:"spec"`
	// +optional
	Status WebhookEndpointStatus `json:"status,omitempty"`
}

// WebhookEndpointList contains a list of WebhookEndpoint.
// +kubebuilder:object:root=true
type WebhookEndpointList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WebhookEndpoint `json:"items"`
}

func init() {
	SchemeBuilder.Register(&WebhookEndpoint{}, &WebhookEndpointList{})
}
