package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WebhookProviderSpec is one entry of the provider table written as a
// resource: the table-driven schemes only (hmac, token, jwt), whose whole
// verification is data. The recipe types are the ones the built-in table
// uses (HMACRecipe, TokenRecipe, JWTRecipe), so a built-in table-driven
// entry converts to a WebhookProviderSpec and back unchanged
// (WebhookProviderSpecFromInfo, ProviderInfo).
// +kubebuilder:validation:XValidation:rule="self.scheme != 'hmac' || has(self.hmac)",message="scheme hmac needs spec.hmac, the signature recipe (header, algorithm, encoding, ...)"
// +kubebuilder:validation:XValidation:rule="self.scheme != 'token' || has(self.token)",message="scheme token needs spec.token: where the credential travels (header, query or allowBasic)"
// +kubebuilder:validation:XValidation:rule="self.scheme != 'jwt' || (has(self.jwt) && has(self.jwt.issuers) && size(self.jwt.issuers) > 0 && (has(self.jwt.jwksURL) || has(self.jwt.keys)))",message="scheme jwt needs spec.jwt.issuers and the issuer's keys: spec.jwt.jwksURL (https) or spec.jwt.keys"
// +kubebuilder:validation:XValidation:rule="!has(self.hmac) || self.scheme == 'hmac'",message="spec.hmac is only used by scheme hmac"
// +kubebuilder:validation:XValidation:rule="!has(self.token) || self.scheme == 'token'",message="spec.token is only used by scheme token"
// +kubebuilder:validation:XValidation:rule="!has(self.jwt) || self.scheme == 'jwt'",message="spec.jwt is only used by scheme jwt"
// +kubebuilder:validation:XValidation:rule="!has(self.key) || !has(self.key.kind) || (self.scheme == 'hmac' && self.key.kind == 'shared-secret') || (self.scheme == 'token' && self.key.kind in ['token', 'basic']) || (self.scheme == 'jwt' && self.key.kind == 'issuer-keys')",message="spec.key.kind must be shared-secret for hmac, token or basic for token, issuer-keys for jwt"
// +kubebuilder:validation:XValidation:rule="!has(self.key) || !has(self.key.format) || (self.scheme == 'hmac' && self.key.format in ['raw', 'hex', 'base64', '[verify-token:]secret']) || (self.scheme == 'token' && self.key.format in ['raw', 'hex', 'user:password']) || (self.scheme == 'jwt' && self.key.format == 'jwks')",message="spec.key.format must be raw, hex, base64 or [verify-token:]secret for hmac, raw, hex or user:password for token, jwks for jwt"
// +kubebuilder:validation:XValidation:rule="!has(self.key) || !has(self.key.receiverChooses) || !self.key.receiverChooses || (self.scheme != 'jwt' && has(self.key.format) && self.key.format == 'hex')",message="spec.key.receiverChooses needs spec.key.format hex, the form the controller generates (and is not for jwt)"
// +kubebuilder:validation:XValidation:rule="!has(self.handshake) || !has(self.handshake.kind) || (self.scheme == 'hmac' && self.handshake.kind in ['meta-subscription-verification', 'x-challenge-response-check', 'dropbox-challenge', 'head-check']) || (self.scheme == 'token' && self.handshake.kind in ['okta-verification-challenge', 'mailchimp-url-validation']) || (self.scheme == 'jwt' && self.handshake.kind == 'eventgrid-validation+cloudevents-options')",message="spec.handshake.kind is not answered by this scheme: hmac answers meta-subscription-verification, x-challenge-response-check, dropbox-challenge and head-check; token okta-verification-challenge and mailchimp-url-validation; jwt eventgrid-validation+cloudevents-options"
// +kubebuilder:validation:XValidation:rule="!has(self.handshake) || (has(self.handshake.kind) ? (has(self.handshake.method) && self.handshake.method == {'meta-subscription-verification': 'GET', 'x-challenge-response-check': 'GET', 'dropbox-challenge': 'GET', 'head-check': 'HEAD', 'okta-verification-challenge': 'GET', 'mailchimp-url-validation': 'GET', 'eventgrid-validation+cloudevents-options': 'OPTIONS'}[self.handshake.kind]) : !has(self.handshake.method))",message="spec.handshake.method must be the method the handshake arrives with: HEAD for head-check, OPTIONS for eventgrid-validation+cloudevents-options, GET for the others; and is only set with spec.handshake.kind"
// +kubebuilder:validation:XValidation:rule="!has(self.timestamp) || !has(self.timestamp.replayWindow) || (has(self.hmac) && (has(self.hmac.timestampHeader) || has(self.hmac.timestampParam)))",message="spec.timestamp.replayWindow needs a signed timestamp: spec.hmac.timestampHeader or spec.hmac.timestampParam"
type WebhookProviderSpec struct {
	// DisplayName is how the provider calls itself.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	DisplayName string `json:"displayName"`

	// Docs is the provider's own page on verifying its requests.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https'",message="spec.docs must be an https URL"
	Docs string `json:"docs,omitempty"`

	// Scheme is the verification code the entry configures: hmac (an HMAC
	// in one header, spec.hmac), token (a static credential, spec.token)
	// or jwt (a signed JWT, spec.jwt). Providers that need code of their
	// own are built in only.
	// +required
	// +kubebuilder:validation:Enum=hmac;token;jwt
	Scheme Scheme `json:"scheme"`

	// Signature describes, in words, what proves a request (docs only).
	// +optional
	Signature SignatureInfo `json:"signature,omitempty"`

	// Timestamp describes the signed send time and its replay window.
	// +optional
	Timestamp ProviderTimestamp `json:"timestamp,omitempty"`

	// DeliveryID describes, in words, where the dedupe key comes from.
	// +optional
	DeliveryID DeliveryIDInfo `json:"deliveryID,omitempty"`

	// Key describes the key material and who chooses it.
	// +optional
	Key KeyInfo `json:"key,omitempty"`

	// Handshake is the verification exchange the receiver answers, if any.
	// +optional
	Handshake HandshakeInfo `json:"handshake,omitempty"`

	// EventType says where the provider names the type of its events, the
	// ce-type of each delivery. Unset: the type is the WebhookProvider's
	// name.
	// +optional
	EventType EventTypeInfo `json:"eventType,omitempty"`

	// HMAC is the recipe of scheme hmac.
	// +optional
	HMAC *HMACRecipe `json:"hmac,omitempty"`

	// Token is the recipe of scheme token.
	// +optional
	Token *TokenRecipe `json:"token,omitempty"`

	// JWT is the recipe of scheme jwt: issuers and keys are required,
	// audiences, claims and algorithms optional (an endpoint's spec.jwt
	// adds audiences and claims).
	// +optional
	JWT *JWTRecipe `json:"jwt,omitempty"`
}

// ProviderTimestamp describes a signed send time.
type ProviderTimestamp struct {
	// Source is where the timestamp is read, in words (docs only).
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Source string `json:"source,omitempty"`

	// ReplayWindow is how far a signed timestamp may be from the
	// receiver's clock when an endpoint sets no spec.replayTolerance.
	// Defaults to 5m when the recipe signs a timestamp.
	// +optional
	ReplayWindow *metav1.Duration `json:"replayWindow,omitempty"`
}

// ProviderReference names a WebhookProvider.
type ProviderReference struct {
	// Name of the WebhookProvider (cluster-scoped).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// WebhookProviderStatus is what the controller observed.
type WebhookProviderStatus struct {
	// ObservedGeneration is the generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, True when the recipe builds a verifier.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Endpoints is how many WebhookEndpoints reference this provider.
	// +optional
	Endpoints int32 `json:"endpoints"`
}

// WebhookProvider is a provider defined by the platform rather than built
// into Hookgate: a table-driven recipe (hmac, token or jwt) that
// WebhookEndpoints reference with spec.providerRef.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=whp,categories=hookgate
// +kubebuilder:printcolumn:name="Scheme",type=string,JSONPath=`.spec.scheme`
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Endpoints",type=integer,JSONPath=`.status.endpoints`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WebhookProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec WebhookProviderSpec `json:"spec"`
	// +optional
	Status WebhookProviderStatus `json:"status,omitempty"`
}

// WebhookProviderList contains a list of WebhookProvider.
// +kubebuilder:object:root=true
type WebhookProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WebhookProvider `json:"items"`
}

func init() {
	SchemeBuilder.Register(&WebhookProvider{}, &WebhookProviderList{})
}
