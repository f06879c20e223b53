package v1alpha1

// Headers every delivery to a target carries (docs/api.md, "Headers on
// every delivery"), besides the provider's own request headers: the
// dispatcher sets them, and `kubectl hookgate listen` sets the same on what
// it forwards, so a target's code sees one contract.
const (
	// DeliveryHeaderDeliveryID is the provider's delivery id.
	DeliveryHeaderDeliveryID = "Hookgate-Delivery-Id"
	// DeliveryHeaderAttempt is which attempt this is (1 for the first).
	DeliveryHeaderAttempt = "Hookgate-Attempt"
	// DeliveryHeaderEndpoint is the WebhookEndpoint, namespace/name.
	DeliveryHeaderEndpoint = "Hookgate-Endpoint"
	// DeliveryHeaderProvider is the endpoint's provider.
	DeliveryHeaderProvider = "Hookgate-Provider"
	// DeliveryHeaderEventSeq is the event's sequence in its queue.
	DeliveryHeaderEventSeq = "Hookgate-Event-Sequence"
	// DeliveryHeaderReceivedAt is when the receiver stored the event (RFC 3339).
	DeliveryHeaderReceivedAt = "Hookgate-Received-At"
	// DeliveryHeaderIdempotencyKey is the event's own id, the same on every
	// attempt, in every target's copy and after a replay.
	DeliveryHeaderIdempotencyKey = "Idempotency-Key"
)
