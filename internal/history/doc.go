// Package history keeps the history of every WebhookEndpoint: each
// request the receiver answered (accepted, duplicate, rejected and why,
// handshake, error) and each delivery attempt of each accepted event, for
// the events API (internal/eventsapi) and kubectl hookgate. The wire
// types are eventsv1 (api/events/v1alpha1); an endpoint's policy is its
// spec.history (Policy, PolicyFor).
//
// # Layout
//
// One JetStream stream, HOOKGATE_HISTORY (Ensure), beside the queue's,
// with limits retention and file storage. Each record is one message,
// the JSON of an eventsv1.Event or eventsv1.Attempt:
//
//	hookgate.history.<uid>.req.<id>            a request (Attempts empty)
//	hookgate.history.<uid>.att.<id>.<target>   an attempt at a target, or an action (Retried)
//
// <uid> is the endpoint's UID, <id> the event's id (a nuid for requests
// that were not stored), <target> the target's name as a subject token
// (TargetToken). A listing is an ordered consumer over
// hookgate.history.<uid>.req.*; the latest attempt of each (event, target)
// is the last message on its subject, so an event's status needs no
// state beside the records: a page's statuses are one multi_last direct
// get, an event's attempts one batched direct get.
//
// # Retention
//
// Every record carries Nats-TTL, its endpoint's spec.history.retention,
// so endpoints with different retentions share one stream and each record
// expires on its own, with no sweeper; the stream's MaxAge (30 days and
// an hour by default) is only a backstop, and its MaxBytes, when set,
// drops the oldest records of any endpoint first. spec.history.maxEvents
// is kept by Trim (a caller runs it every minute); Purge removes an
// endpoint's history when the endpoint is deleted.
//
// # What is never stored
//
// Credentials (Authorization, Cookie, GitLab's token) are already dropped
// upstream, before a request's headers reach the queue or the history. A
// request that was not accepted keeps no headers and no body: only what
// happened (outcome, reason, code, source, size). An accepted event's
// headers and body are redacted when they are written (Policy.Redact:
// spec.history.redactHeaders and redactFields, body Omit, maxBodyBytes),
// so what the policy leaves out never reaches the disk. Records of
// rejected and failed requests have a per-endpoint budget, so a flood of
// bad requests does not flood the history.
//
// # Cost on the ingest path
//
// Recorder.Request costs the redaction (nothing without redactHeaders or
// redactFields), one hand-written JSON encoding into a single buffer, and
// one asynchronous JetStream publish on the history's own connection; it
// never waits for the network. Acks are handled by the publisher's
// callbacks (no goroutine per record); past MaxPending records awaiting
// their ack a record is dropped and counted
// (hookgate_history_dropped_total), never waited for.
package history
