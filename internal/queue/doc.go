// Package queue is the JetStream layout that the receiver data plane
// (ingress/) and the controller (controllers/) share: stream and bucket
// names, subjects, message headers, counters. It is the data contract
// between the two halves, as the WebhookEndpoint API is; neither half
// imports the other.
//
// Layout, all keyed by the endpoint's UID so that a deleted and re-created
// endpoint never inherits old events or counts:
//
//	stream HOOKGATE_EVENTS    hookgate.events.<uid>        work queue, one durable consumer per endpoint
//	stream HOOKGATE_DLQ       hookgate.dlq.<uid>           dead letters, kept for DeadLetterMaxAge
//	stream HOOKGATE_COUNTERS  hookgate.counters.<uid>.<c>  JetStream distributed counters (Nats-Incr)
//	kv     hookgate-dedupe    <uid>.<sha256(delivery id)>  per-key TTL = the endpoint's dedupe window
//	kv     hookgate-state     <uid>.lastDelivery|lastFailure
//	kv     hookgate-edge-registry <uid>                endpoint and mirrored keys for edge receivers (manager --edge-registry)
package queue
