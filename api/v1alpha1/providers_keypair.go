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
	// answered {"validationResponse": <validationCode>}, and the CloudEvents
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
)

// JWTRecipe is what a SchemeJWT provider fixes; spec.jwt supplies the rest
// (audiences always; issuer, keys and claims where the provider leaves them
// to the endpoint).
// +kubebuilder:object:generate=false
type JWTRecipe struct {
	// Issuers are the accepted iss values; empty: spec.jwt.issuer.
	Issuers []string
	// JWKSURL is the issuer's JWK Set; empty: spec.jwt.jwksURL or keys.
	JWKSURL string
	// Algorithms allowed; empty: spec.jwt.algorithms or every asymmetric
	// algorithm the verifier knows.
	Algorithms []string
	// CloudEventsOrigin, when set, is the WebHook-Request-Origin the
	// CloudEvents abuse-protection OPTIONS is answered for.
	CloudEventsOrigin string
	// IDField is a JSON path of the delivery id in the body.
	IDField string
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
	},
	{
		Name: "aws-sns", DisplayName: "Amazon SNS (HTTP/S subscription)", Scheme: SchemeSNS,
		Docs:       "https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html",
		Signature:  SignatureInfo{Headers: []string{"body Signature"}, Signed: "the canonical string of Message, MessageId, Subject, SubscribeURL, Timestamp, Token, TopicArn, Type", Algorithm: "SHA1withRSA (v1) or SHA256withRSA (v2)", Encoding: "base64"},
		DeliveryID: DeliveryIDInfo{Source: "body MessageId", Signed: true},
		Key:        KeyInfo{Kind: KeyIssuerKeys, Format: KeyFormatX509URL},
		Handshake:  HandshakeInfo{Kind: HandshakeSNSConfirm},
	},
	{
		Name: "dropbox", DisplayName: "Dropbox", Scheme: SchemeHMAC,
		Docs:      "https://www.dropbox.com/developers/reference/webhooks",
		Signature: SignatureInfo{Headers: []string{"X-Dropbox-Signature"}, Signed: "the body", Algorithm: "HMAC-SHA256", Encoding: "hex"},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw},
		Handshake: HandshakeInfo{Kind: HandshakeDropboxChallenge, Method: "GET"},
		HMAC:      &HMACRecipe{Header: "X-Dropbox-Signature", Algorithm: "sha256", Encoding: "hex"},
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

// KeysFromIssuer reports whether the provider's keys come from its issuer
// (a JWKS, a certificate URL) or spec.jwt, not from a Secret or
// spec.publicKeys.
func (p Provider) KeysFromIssuer() bool {
	info, ok := LookupProvider(p)
	return ok && info.Key.Kind == KeyIssuerKeys
}
