package verify

// Svix signs with the scheme that became the Standard Webhooks
// specification, under svix-id, svix-timestamp and svix-signature header
// names and with "whsec_" signing secrets
// (https://docs.svix.com/receiving/verifying-payloads/how-manual). The
// Standard Webhooks verifiers already read the svix-* names when the
// webhook-* ones are absent, so "svix" is the same verifier under the name
// users look for.
//
// The provider table (hookv1.Providers) therefore gives svix the Standard
// Webhooks scheme: NewStandardWebhooksWithOptions, so that spec.publicKeys,
// which the API accepts for svix, selects the asymmetric (v1a) scheme
// instead of being silently ignored. Without public keys the two are
// identical.
