// Package eventsapi serves Hookgate's events API (api/events/v1alpha1): the
// history of one WebhookEndpoint's requests and delivery attempts, and the
// actions on its dead letters. The manager mounts Server.Handler under
// eventsv1.PathPrefix on its webhook server (TLS); kubectl-hookgate reaches
// it directly or through the API server's service proxy.
//
// # API
//
// Every path is under eventsv1.EndpointPath(namespace, name):
//
//	GET  .../events            list: an EventList (Query from URL parameters)
//	GET  .../events?watch=true WatchEvents as JSON lines, one flushed per line,
//	                           until the client goes away
//	GET  .../events/<id>       one Event, with its attempts
//	POST .../retry             RetryRequest  -> ActionResult
//	POST .../replay            ReplayRequest -> ActionResult
//
// Successful answers are the eventsv1 types as JSON; every error is a
// metav1.Status (apiVersion v1, kind Status) with the code, reason and
// message the API server would give, so kubectl-hookgate prints them as
// kubectl prints the API server's.
//
// URL parameters of a list (eventsv1.Param*): outcome (accepted,
// duplicate, ...), status (Pending, ..., Failed; both case-insensitive),
// since and until (RFC 3339, or a Go duration such as 90m meaning that long
// ago), delivery, type, q (text search), limit (1..eventsv1.MaxLimit,
// default eventsv1.DefaultLimit) and continue. A watch takes the same
// filters except status (a watch shows each attempt as it happens), applies
// them to each new event and passes the attempts of the events it let
// through (all attempts when no filter is set); limit and continue mean
// nothing to a watch and are ignored. A parameter given twice, or with a
// bad value, is answered 400 naming it.
//
// # Authentication and authorization
//
// The API is not served by the API server, yet its callers are Kubernetes
// users, and who may read an endpoint's history is a question for RBAC.
// So each request is authenticated and authorized by the API server, as an
// aggregated API server or kube-rbac-proxy would do it:
//
//  1. The caller's bearer token is read from X-Hookgate-Authorization
//     (eventsv1.AuthorizationHeader) or Authorization, both "Bearer <token>".
//     The API server's service proxy authenticates the caller and then drops
//     Authorization, so through the proxy the token travels in the
//     X-Hookgate header; a direct request may use either. When both are set
//     and differ, X-Hookgate-Authorization wins: it is the header the client
//     set for this API, while Authorization may be a proxy's own.
//  2. A TokenReview asks the API server who the token belongs to. The token
//     is used for nothing else: it is never logged, never stored (the cache
//     is keyed by its SHA-256) and never sent anywhere but the TokenReview.
//  3. A SubjectAccessReview asks whether that user (name, UID, groups and
//     extra as the TokenReview returned them) may act on a subresource of
//     the endpoint: apiGroup hookgate.io, resource webhookendpoints,
//     subresource events (verbs list, watch, get) or replay (verb create).
//     Roles grant them like any other subresource.
//
// What needs which verb:
//
//   - list events: list on webhookendpoints/events; watch: watch.
//   - headers, bodies and target responses (list, watch, one event): also
//     get. Without it they are left out and each event says Hidden.
//   - one event: get, or list (then Hidden).
//   - the text search q: get, since its matches would reveal the bodies.
//   - retry and replay: create on webhookendpoints/replay; a replay with a
//     text filter also get on webhookendpoints/events.
//
// The caller is authorized before the endpoint is read, so whoever may not
// see an endpoint cannot learn whether it exists. Reviews are cached
// briefly (a token 10 s, a refused token 2 s, a decision 10 s, each cache
// bounded), so a revoked permission or token takes effect within seconds.
//
// # Cost
//
// A list passes its Query to the history, which bounds its scan
// (eventsv1.MaxScan); a retry or replay moves at most eventsv1.MaxRetryIDs
// events; request bodies are bounded (1 MiB); and each user may hold a
// bounded number of watches at once (429 beyond it).
package eventsapi

// The manager's RBAC for the events API (make manifests collects it into
// config/rbac/role.yaml; the chart's ClusterRole mirrors it).
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
