package v1alpha1

// keyPairProviders sign with tokens (JWT/OIDC), certificates or key
// pairs; each scheme has a small verifier in ingress/verify.
var keyPairProviders = []ProviderInfo{}
