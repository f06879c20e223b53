package v1alpha1

// catalogProviders are table-driven entries (SchemeHMAC, SchemeToken,
// SchemeStandardWebhooks instances) that need no code of their own.
var catalogProviders = []ProviderInfo{}
