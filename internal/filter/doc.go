// Package filter compiles and evaluates the CEL expressions that decide, per
// delivery target, whether an event is delivered (CompileFilter) and which
// ordering key it carries (CompileKey).
//
// Expressions see one variable, event, of the declared object type
// hookgate.Event, so a misspelt field (event.tpye) fails to compile rather
// than at delivery time:
//
//	event.provider    string        the endpoint's provider, "github"
//	event.type        string        the provider's event type, "push"; "" when unknown
//	event.endpoint    string        the WebhookEndpoint, "namespace/name"
//	event.deliveryID  string        the provider's delivery id, or Hookgate's
//	event.headers     map(string, string)
//	                                request headers; names lower-case, repeated
//	                                values joined with ", "
//	event.body        dyn           the body decoded as JSON; null when it is not JSON
//	event.rawBody     string        the body as text (for form-encoded bodies)
//	event.receivedAt  timestamp     when the receiver accepted the request
//
// JSON integers that fit in int64 are CEL ints and other numbers doubles;
// CEL compares the two (event.body.number == 42, event.body.ratio > 0.5).
// has(event.x) is true when the field is non-empty (has(event.body): the body
// is JSON and not null); has(event.body.a.b) is false when b is missing.
//
// Reading a missing key (event.body.nope, event.headers["nope"]) is an
// evaluation error, not false: Match and Of return it and the caller decides,
// typically counting the event as not matched. Guard with has(), "k" in
// event.headers, or optional selection: event.body.?a.?b.orValue("").
//
// Filters yield bool and keys string, int or uint (ints are written in base
// 10). A dyn result (anything read from the body) is accepted at compile time
// and its type checked at evaluation.
//
// Examples:
//
//	event.type == "push" && event.body.ref == "refs/heads/main"
//	event.headers["x-github-event"] in ["issues", "issue_comment"]
//	event.body.pull_request.merged
//	event.body.commits.exists(c, c.author.name != "dependabot[bot]")
//	has(event.body.action) && event.body.action != "deleted"
//	event.body.?repository.?full_name.orValue("").startsWith("org/")
//
// Keys:
//
//	event.body.repository.full_name
//	event.body.issue.id
//	event.provider + ":" + event.body.data.object.customer
//
// Cost: expressions longer than MaxExpressionLength characters, or whose
// estimated worst case (assuming a body of BodySizeHint bytes and headers of
// HeaderBytesHint) exceeds MaxEstimatedCost, do not compile: in practice one
// pass over a body list is admitted, a loop inside a loop over the body or a
// contains()/matches() on each element of a body list is not. An evaluation
// that spends more than RuntimeCostLimit stops with ErrCostLimitExceeded;
// MatchContext and OfContext also stop when their context is done. The
// runtime cost is metered by this package, not by cel.CostLimit, whose
// tracker is quadratic in comprehension iterations (see meter.go).
//
// The environment holds the CEL standard library and optional types, no
// extension libraries: their functions are not cost-accounted.
//
// Compiling is pure and safe for concurrent use (the one CEL environment is
// built on first use), so the admission webhook and the dispatcher call the
// same functions; a compiled Filter or Key is immutable.
package filter
