package v1alpha1

// Schemes, key kinds and handshakes of the providers in this file.
const (
	// SchemeJWT verifies a signed JWT (an OIDC ID token or an OAuth access
	// token) carried in a header: signature with the issuer's public keys,
	// iss, aud, exp/nbf/iat and exact claims. ProviderInfo.JWT fixes what
	// the provider fixes; spec.jwt says the rest.
	SchemeJWT Scheme = "jwt"
	// SchemeMicrosoftGraph checks the clientState of every change
	// notification in a Microsoft Graph notification collection.
	SchemeMicrosoftGraph Scheme = "microsoft-graph"
	// SchemeStrava is Strava's unsigned events and its subscription
	// validation GET.
	SchemeStrava Scheme = "strava"
	// SchemeSNS is Amazon SNS's RSA signature (SignatureVersion 1,
	// SHA1withRSA, or 2, SHA256withRSA) over its canonical string, with the
	// certificate fetched from an https sns.<region>.amazonaws.com URL.
	SchemeSNS Scheme = "aws-sns"
)

// KeyIssuerKeys: the provider signs with a private key and publishes the
// public keys (a JWKS, an X.509 certificate) at an https URL that the
// provider table or the endpoint's spec fixes, never the request. The
// endpoint needs no Secret and the receiver holds the keys itself.
const KeyIssuerKeys KeyKind = "issuer-keys"

// KeyVerifyToken: the key is a token the receiver chose that the provider
// echoes in its subscription handshake only. Events carry no credential
// and no signature: anyone who knows the URL can send one, so the
// endpoint's unguessable path and spec.sourceRanges are what protect it.
const KeyVerifyToken KeyKind = "verify-token"

const (
	// KeyFormatJWKS is the issuer's JWK Set, fetched from spec.jwt.jwksURL
	// or the provider's URL, or PEM / JWK keys listed in spec.jwt.keys.
	KeyFormatJWKS KeyFormat = "jwks"
	// KeyFormatX509URL is an X.509 certificate fetched from the provider's
	// own host (Amazon SNS's SigningCertURL).
	KeyFormatX509URL KeyFormat = "x509-url"
)

const (
	// HandshakeEventGrid is Azure Event Grid's validation: a POSTed
	// Microsoft.EventGrid.SubscriptionValidationEvent (Event Grid schema),
	// answered {"validationResponse": <validationCode>} or, with
	// spec.eventGrid.validation URL, by a GET of its validationUrl after a
	// 200 without the code, and the CloudEvents
	// webhook abuse-protection OPTIONS (CloudEvents schema), answered with
	// WebHook-Allowed-Origin. Both only when the request's token verifies.
	HandshakeEventGrid Handshake = "eventgrid-validation+cloudevents-options"
	// HandshakeGraphValidation is Microsoft Graph's notification URL
	// validation: a POST with ?validationToken=<t>, answered 200 text/plain
	// with the token.
	HandshakeGraphValidation Handshake = "graph-validation-token"
	// HandshakeSNSConfirm is Amazon SNS's SubscriptionConfirmation: once its
	// signature verifies and its TopicArn is allowed, the receiver confirms
	// by a GET of its SubscribeURL.
	HandshakeSNSConfirm Handshake = "sns-subscription-confirmation"
	// HandshakeDropboxChallenge is Dropbox's verification GET
	// ?challenge=<c>, echoed as text/plain with X-Content-Type-Options:
	// nosniff.
	HandshakeDropboxChallenge Handshake = "dropbox-challenge"
	// HandshakeStravaSubscribe is Strava's callback validation: a GET with
	// hub.mode=subscribe, hub.verify_token and hub.challenge, answered 200
	// application/json {"hub.challenge": "<challenge>"} when the verify
	// token is the endpoint's.
	HandshakeStravaSubscribe Handshake = "strava-subscription-validation"
	// HandshakeAsanaHookSecret is Asana's webhook handshake: the first POST
	// carries X-Hook-Secret, which the receiver echoes in the response
	// header and keeps as the signing secret of later events. It is
	// accepted only while the endpoint is armed (AnnotationArmHandshake).
	HandshakeAsanaHookSecret Handshake = "asana-x-hook-secret"
)

// JWTRecipe is what a SchemeJWT provider fixes; spec.jwt supplies the rest
// (audiences always; issuer, keys and claims where the provider leaves them
// to the endpoint). A WebhookProvider's spec.jwt is the same recipe, and
// may also fix keys, audiences, claims and the header.
// +kubebuilder:validation:XValidation:rule="!(has(self.jwksURL) && has(self.keys))",message="set jwt.jwksURL or jwt.keys, not both"
type JWTRecipe struct {
	// Issuers are the accepted iss values; empty: spec.jwt.issuer.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=512
	Issuers []string `json:"issuers,omitempty"`
	// JWKSURL is the issuer's JWK Set; empty: spec.jwt.jwksURL or keys.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https'",message="jwt.jwksURL must be an https URL"
	JWKSURL string `json:"jwksURL,omitempty"`
	// Keys are the issuer's public keys inline, each a PEM public key or
	// certificate, a JWK or a JWK Set; used instead of a JWKS URL.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=16384
	Keys []string `json:"keys,omitempty"`
	// Algorithms allowed; empty: spec.jwt.algorithms or every asymmetric
	// algorithm the verifier knows.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:Enum=RS256;RS384;RS512;PS256;PS384;PS512;ES256;ES384;ES512;EdDSA
	Algorithms []string `json:"algorithms,omitempty"`
	// Audiences accepted when the endpoint's spec.jwt names none; empty:
	// every endpoint names its own (spec.jwt.audiences).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=512
	Audiences []string `json:"audiences,omitempty"`
	// Claims every token must hold with exactly this string value (or, for
	// a list claim, contain), besides the endpoint's spec.jwt.claims.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	Claims map[string]string `json:"claims,omitempty"`
	// Header carrying the token when the endpoint's spec.jwt names none.
	// Defaults to Authorization, where the value is "Bearer <token>".
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	// +kubebuilder:validation:MaxLength=64
	Header string `json:"header,omitempty"`
	// CloudEventsOrigin, when set, is the WebHook-Request-Origin the
	// CloudEvents abuse-protection OPTIONS is answered for.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	CloudEventsOrigin string `json:"cloudEventsOrigin,omitempty"`
	// IDField is a JSON path of the delivery id in the body.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[^.]+(\.[^.]+)*$`
	IDField string `json:"idField,omitempty"`
}

// Entra ID signs tokens of every tenant with the keys of this set.
const entraJWKSURL = "https://login.microsoftonline.com/common/discovery/v2.0/keys"

// keyPairProviders sign with tokens (JWT/OIDC), certificates or key
// pairs; each scheme has a small verifier in ingress/verify.
var keyPairProviders = []ProviderInfo{
	{
		Name: "jwt", DisplayName: "JWT / OIDC bearer token", Scheme: SchemeJWT,
		Docs:      "https://www.rfc-editor.org/rfc/rfc7519",
		Signature: SignatureInfo{Headers: []string{"Authorization"}, Signed: "the token's claims (iss, aud, exp; not the body)", Algorithm: "RS256/384/512, PS256/384/512, ES256/384/512, EdDSA", Encoding: "Bearer <compact JWS>"},
		Timestamp: TimestampInfo{Source: "token exp/nbf/iat (60s leeway)"},
		Key:       KeyInfo{Kind: KeyIssuerKeys, Format: KeyFormatJWKS},
		JWT:       &JWTRecipe{},
	},
	{
		Name: "google-pubsub", DisplayName: "Google Cloud Pub/Sub push", Scheme: SchemeJWT,
		Docs:       "https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions",
		Signature:  SignatureInfo{Headers: []string{"Authorization"}, Signed: "the OIDC token's claims (iss accounts.google.com, aud, email; not the body)", Algorithm: "RS256", Encoding: "Bearer <compact JWS>"},
		Timestamp:  TimestampInfo{Source: "token exp/nbf/iat (60s leeway)"},
		DeliveryID: DeliveryIDInfo{Source: "body message.messageId"},
		Key:        KeyInfo{Kind: KeyIssuerKeys, Format: KeyFormatJWKS},
		// No event type: message attributes are the publisher's own.
		JWT: &JWTRecipe{
			Issuers: []string{"https://accounts.google.com", "accounts.google.com"},
			JWKSURL: "https://www.googleapis.com/oauth2/v3/certs", Algorithms: []string{"RS256"},
			IDField: "message.messageId",
		},
	},
	{
		Name: "github-actions", DisplayName: "GitHub Actions OIDC", Scheme: SchemeJWT,
		Docs:      "https://docs.github.com/en/actions/reference/security/oidc",
		Signature: SignatureInfo{Headers: []string{"Authorization"}, Signed: "the OIDC token's claims (iss token.actions.githubusercontent.com, aud, repository, ...; not the body)", Algorithm: "RS256", Encoding: "Bearer <compact JWS>"},
		Timestamp: TimestampInfo{Source: "token exp/nbf/iat (60s leeway)"},
		Key:       KeyInfo{Kind: KeyIssuerKeys, Format: KeyFormatJWKS},
		JWT: &JWTRecipe{
			Issuers: []string{"https://token.actions.githubusercontent.com"},
			JWKSURL: "https://token.actions.githubusercontent.com/.well-known/jwks", Algorithms: []string{"RS256"},
		},
	},
	{
		Name: "azure-eventgrid", DisplayName: "Azure Event Grid (Microsoft Entra ID)", Scheme: SchemeJWT,
		Docs:       "https://learn.microsoft.com/en-us/azure/event-grid/secure-webhook-delivery",
		Signature:  SignatureInfo{Headers: []string{"Authorization"}, Signed: "the Entra ID access token's claims (iss of spec.jwt.issuer, aud; not the body)", Algorithm: "RS256", Encoding: "Bearer <compact JWS>"},
		Timestamp:  TimestampInfo{Source: "token exp/nbf/iat (60s leeway)"},
		DeliveryID: DeliveryIDInfo{Source: "body id (one event) or header ce-id"},
		Key:        KeyInfo{Kind: KeyIssuerKeys, Format: KeyFormatJWKS},
		Handshake:  HandshakeInfo{Kind: HandshakeEventGrid, Method: "OPTIONS"},
		// CloudEvents schema, binary or structured; the Event Grid schema is a
		// batch and names none.
		EventType: EventTypeInfo{Header: "ce-type", JSONField: "type"},
		JWT: &JWTRecipe{
			JWKSURL: entraJWKSURL, Algorithms: []string{"RS256"},
			CloudEventsOrigin: "eventgrid.azure.net",
		},
	},
	{
		Name: "microsoft-graph", DisplayName: "Microsoft Graph change notifications", Scheme: SchemeMicrosoftGraph,
		Docs:      "https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks",
		Signature: SignatureInfo{Headers: []string{"body value[].clientState"}, Signed: "nothing (the clientState you gave the subscription)", Algorithm: "none", Encoding: "the clientState of every notification"},
		Key:       KeyInfo{Kind: KeyToken, Format: KeyFormatRaw},
		Handshake: HandshakeInfo{Kind: HandshakeGraphValidation},
		// No event type: each request is a batch of notifications.
	},
	{
		Name: "aws-sns", DisplayName: "Amazon SNS (HTTP/S subscription)", Scheme: SchemeSNS,
		Docs:       "https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html",
		Signature:  SignatureInfo{Headers: []string{"body Signature"}, Signed: "the canonical string of Message, MessageId, Subject, SubscribeURL, Timestamp, Token, TopicArn, Type", Algorithm: "SHA1withRSA (v1) or SHA256withRSA (v2)", Encoding: "base64"},
		DeliveryID: DeliveryIDInfo{Source: "body MessageId", Signed: true},
		Key:        KeyInfo{Kind: KeyIssuerKeys, Format: KeyFormatX509URL},
		Handshake:  HandshakeInfo{Kind: HandshakeSNSConfirm},
		// No event type: Type (Notification, ...) is SNS's own; the event is the
		// publisher's Message.
	},
	{
		Name: "dropbox", DisplayName: "Dropbox", Scheme: SchemeHMAC,
		Docs:      "https://www.dropbox.com/developers/reference/webhooks",
		Signature: SignatureInfo{Headers: []string{"X-Dropbox-Signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "hex"},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		Handshake: HandshakeInfo{Kind: HandshakeDropboxChallenge, Method: "GET"},
		// No event type: the notification only lists changed accounts.
		HMAC: &HMACRecipe{Header: "X-Dropbox-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "strava", DisplayName: "Strava Webhook Events", Scheme: SchemeStrava,
		Docs:       "https://developers.strava.com/docs/webhooks/",
		Signature:  SignatureInfo{Headers: []string{"query hub.verify_token (subscription GET only)"}, Signed: "nothing (Strava does not sign events)", Algorithm: "none", Encoding: "the verify token you gave Strava, echoed on the validation GET only"},
		DeliveryID: DeliveryIDInfo{Source: "sha256 of the body (Strava retries the same body)"},
		Key:        KeyInfo{Kind: KeyVerifyToken, Format: KeyFormatHex, ReceiverChooses: true},
		Handshake:  HandshakeInfo{Kind: HandshakeStravaSubscribe, Method: "GET"},
		// No event type: it is split over object_type and aspect_type.
	},
	{
		Name: "asana", DisplayName: "Asana", Scheme: SchemeHMAC,
		Docs:      "https://developers.asana.com/docs/webhooks-guide",
		Signature: SignatureInfo{Headers: []string{"X-Hook-Signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "hex"},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		Handshake: HandshakeInfo{Kind: HandshakeAsanaHookSecret},
		// No event type: each request is a batch of events.
		HMAC: &HMACRecipe{Header: "X-Hook-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
}

// JWTProviders verify a JWT and take spec.jwt.
func JWTProviders() []Provider {
	return providerNames(func(i ProviderInfo) bool { return i.Scheme == SchemeJWT })
}

// JWTIssuerFromSpecProviders are JWT providers whose issuer the endpoint
// names in spec.jwt.issuer.
func JWTIssuerFromSpecProviders() []Provider {
	return providerNames(func(i ProviderInfo) bool { return i.Scheme == SchemeJWT && i.JWT != nil && len(i.JWT.Issuers) == 0 })
}

// NoSecretProviders need no spec.secretRef: they verify with public keys
// from the spec or from the issuer.
func NoSecretProviders() []Provider {
	return providerNames(func(i ProviderInfo) bool { return i.Key.Kind == KeyPublicKey || i.Key.Kind == KeyIssuerKeys })
}

// CapturesHandshakeSecret reports whether the provider hands the receiver
// its signing secret in a handshake (Asana's X-Hook-Secret), which the
// receiver accepts only while the endpoint is armed.
func (p Provider) CapturesHandshakeSecret() bool {
	info, ok := LookupProvider(p)
	return ok && info.Handshake.Kind == HandshakeAsanaHookSecret
}

// KeysFromIssuer reports whether the provider's keys come from its issuer
// (a JWKS, a certificate URL) or spec.jwt, not from a Secret or
// spec.publicKeys.
func (p Provider) KeysFromIssuer() bool {
	info, ok := LookupProvider(p)
	return ok && info.Key.Kind == KeyIssuerKeys
}
