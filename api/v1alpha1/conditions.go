package v1alpha1

// Condition types.
const (
	// ConditionReady is True when the endpoint accepts and delivers events.
	ConditionReady = "Ready"
	// ConditionSecretReady is True when the signing Secret and key exist.
	ConditionSecretReady = "SecretReady"
	// ConditionTargetReady is True when the target Service exists and has the port.
	ConditionTargetReady = "TargetReady"
	// ConditionRouteReady is True when the Ingress or HTTPRoute exposing the
	// endpoint is in place (or no route is wanted).
	ConditionRouteReady = "RouteReady"
)

// Condition reasons.
const (
	// ReasonSucceeded: the step completed.
	ReasonSucceeded = "Succeeded"
	// ReasonSecretNotFound: the referenced Secret does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretKeyMissing: the Secret lacks the referenced key, or it is empty.
	ReasonSecretKeyMissing = "SecretKeyMissing"
	// ReasonServiceNotFound: the target Service does not exist.
	ReasonServiceNotFound = "ServiceNotFound"
	// ReasonServicePortMissing: the target Service does not expose the port.
	ReasonServicePortMissing = "ServicePortMissing"
	// ReasonSuspended: delivery is suspended by spec.suspend.
	ReasonSuspended = "Suspended"
	// ReasonQueueUnavailable: the JetStream queue could not be reached.
	ReasonQueueUnavailable = "QueueUnavailable"
	// ReasonProgressing: the controller is still working on the endpoint.
	ReasonProgressing = "Progressing"
	// ReasonDeadLettered: events were moved to the dead-letter stream.
	ReasonDeadLettered = "DeadLettered"
	// ReasonDeliveryFailing: attempts keep failing and nothing was delivered since.
	ReasonDeliveryFailing = "DeliveryFailing"
	// ReasonCircuitOpened and ReasonCircuitClosed: a target's circuit
	// breaker started or stopped holding its events.
	ReasonCircuitOpened = "CircuitOpened"
	ReasonCircuitClosed = "CircuitClosed"
	// ReasonTargetRemoved: a target left spec.targets; what it had queued
	// was discarded.
	ReasonTargetRemoved = "TargetRemoved"
	// ReasonInvalidExpression: a CEL expression of the spec (a filter, an
	// ordering key) does not compile; it got past admission (the webhook
	// was off or failing open).
	ReasonInvalidExpression = "InvalidExpression"
	// ReasonSecretGenerated: the controller created the signing secret.
	ReasonSecretGenerated = "SecretGenerated"
	// ReasonSecretRotated: the controller rotated the signing secret.
	ReasonSecretRotated = "SecretRotated"
	// ReasonReplayed: dead letters were put back in the queue.
	ReasonReplayed = "Replayed"
	// ReasonRouteNotSupported: the route kind's API is not installed.
	ReasonRouteNotSupported = "RouteAPINotInstalled"
	// ReasonRouteFailed: creating or updating the route failed.
	ReasonRouteFailed = "RouteFailed"
	// ReasonRouteDisabled: no route is wanted.
	ReasonRouteDisabled = "RouteDisabled"
	// ReasonQuotaExceeded: the endpoint has as many events or bytes waiting
	// for delivery as spec.limits allows; new events are answered 503.
	ReasonQuotaExceeded = "QuotaExceeded"
	// ReasonRoutePolicyViolation: spec.route sets what the platform's route policy does not allow.
	ReasonRoutePolicyViolation = "RoutePolicyViolation"
	// ReasonProviderNotFound: the WebhookProvider of spec.providerRef does not exist.
	ReasonProviderNotFound = "ProviderNotFound"
	// ReasonProviderNotReady: the WebhookProvider of spec.providerRef is
	// invalid (its recipe builds no verifier).
	ReasonProviderNotReady = "ProviderNotReady"
	// ReasonProviderMismatch: the endpoint's spec does not fit its
	// WebhookProvider (e.g. spec.rotation where the provider chooses the secret).
	ReasonProviderMismatch = "ProviderMismatch"
	// ReasonProviderInvalid: a WebhookProvider's recipe builds no verifier.
	ReasonProviderInvalid = "ProviderInvalid"
	// ReasonSecretNotManaged: spec.rotation is set but the Secret was neither
	// created by the controller for this endpoint nor labelled
	// LabelEndpointName=<endpoint name>, so the controller will not write it.
	ReasonSecretNotManaged = "SecretNotManaged"
	// ReasonPreviousKeyIgnored: the Secret holds a previous key whose expiry
	// is missing or unreadable, so it is not accepted.
	ReasonPreviousKeyIgnored = "PreviousKeyIgnored"
)

// Labels and annotations.
const (
	// PreviousKeySuffix names the Secret key that holds the key being
	// rotated out: "<secretRef.key>.previous". It is accepted beside the
	// current key until AnnotationPreviousKeyExpiresAt.
	PreviousKeySuffix = ".previous"
	// AnnotationPreviousKeyExpiresAt, on the signing Secret, is the RFC 3339
	// time at which the previous key stops being accepted. A previous key
	// without it, or with a value that is not an RFC 3339 time, is not
	// accepted at all (SecretReady says so) and does not hold up a rotation,
	// which replaces it. internal/keyring is the one reader of this layout.
	AnnotationPreviousKeyExpiresAt = "hookgate.io/previous-key-expires-at"

	// AnnotationRotate requests a rotation; any new value triggers one.
	AnnotationRotate = "hookgate.io/rotate"
	// AnnotationReplay requests a replay of the endpoint's dead letters; any
	// new value triggers one.
	AnnotationReplay = "hookgate.io/replay"
	// LabelEndpointName, LabelEndpointNamespace and LabelEndpointUID mark
	// objects the controller made for an endpoint (routes, Secrets, key
	// mirrors). LabelEndpointName=<endpoint name> on a signing Secret the
	// controller did not create hands it over for spec.rotation to write.
	LabelEndpointName      = "hookgate.io/endpoint-name"
	LabelEndpointNamespace = "hookgate.io/endpoint-namespace"
	LabelEndpointUID       = "hookgate.io/endpoint-uid"
	// Finalizer lets the controller purge the endpoint's queued data on delete.
	Finalizer = "hookgate.io/finalizer"
)
