package v1alpha1

import "time"

// GetKey returns the Secret key holding the signing secret.
func (s SecretKeyRef) GetKey() string {
	if s.Key == "" {
		return DefaultSecretKey
	}
	return s.Key
}

// GetPath returns the HTTP path on the target.
func (t ServiceTarget) GetPath() string {
	if t.Path == "" {
		return DefaultTargetPath
	}
	return t.Path
}

// GetMaxAttempts returns how many attempts an event gets; 0: no bound
// other than GetRetryFor.
func (d DeliverySpec) GetMaxAttempts() int {
	if d.MaxAttempts == nil {
		return 0
	}
	return int(*d.MaxAttempts)
}

// GetRetryFor returns how long an event is retried before it is
// dead-lettered.
func (d DeliverySpec) GetRetryFor() time.Duration {
	if d.RetryFor == nil || d.RetryFor.Duration <= 0 {
		return DefaultRetryFor
	}
	return d.RetryFor.Duration
}

// GetTimeout returns the per-attempt timeout.
func (d DeliverySpec) GetTimeout() time.Duration {
	if d.Timeout == nil || d.Timeout.Duration <= 0 {
		return DefaultDeliveryTimeout
	}
	return d.Timeout.Duration
}

// GetInitial returns the first backoff delay.
func (b BackoffSpec) GetInitial() time.Duration {
	if b.Initial == nil || b.Initial.Duration <= 0 {
		return DefaultBackoffInitial
	}
	return b.Initial.Duration
}

// GetMax returns the longest backoff delay.
func (b BackoffSpec) GetMax() time.Duration {
	if b.Max == nil || b.Max.Duration <= 0 {
		return DefaultBackoffMax
	}
	return b.Max.Duration
}

// GetWindow returns how long delivery ids are remembered.
func (d DedupeSpec) GetWindow() time.Duration {
	if d.Window == nil || d.Window.Duration <= 0 {
		return DefaultDedupeWindow
	}
	return d.Window.Duration
}

// Defaults of HistorySpec.
const (
	DefaultHistoryRetention    = 7 * 24 * time.Hour
	MaxHistoryRetention        = 30 * 24 * time.Hour
	DefaultHistoryMaxEvents    = 10000
	DefaultHistoryMaxBodyBytes = 64 << 10
)

// GetRetention returns how long history records are kept.
func (h HistorySpec) GetRetention() time.Duration {
	if h.Retention == nil || h.Retention.Duration <= 0 {
		return DefaultHistoryRetention
	}
	return min(h.Retention.Duration, MaxHistoryRetention)
}

// GetMaxEvents returns the most requests kept.
func (h HistorySpec) GetMaxEvents() int64 {
	if h.MaxEvents == nil || *h.MaxEvents <= 0 {
		return DefaultHistoryMaxEvents
	}
	return int64(*h.MaxEvents)
}

// GetMaxBodyBytes returns the most of a body kept.
func (h HistorySpec) GetMaxBodyBytes() int {
	if h.MaxBodyBytes == nil || *h.MaxBodyBytes < 0 {
		return DefaultHistoryMaxBodyBytes
	}
	return int(*h.MaxBodyBytes)
}

// KeepsBody reports whether bodies are kept.
func (h HistorySpec) KeepsBody() bool { return h.Body != HistoryBodyOmit }

// GetReplayTolerance returns the replay window for signed timestamps.
func (s WebhookEndpointSpec) GetReplayTolerance() time.Duration {
	if s.ReplayTolerance == nil || s.ReplayTolerance.Duration <= 0 {
		return DefaultReplayTolerance
	}
	return s.ReplayTolerance.Duration
}

// GetDeliveries returns the counters, zero when not yet read.
func (s *WebhookEndpointStatus) GetDeliveries() DeliveryCounters {
	if s.Deliveries == nil {
		return DeliveryCounters{}
	}
	return *s.Deliveries
}

// GetMaxBodyBytes returns the body limit.
func (l LimitsSpec) GetMaxBodyBytes() int64 {
	if l.MaxBodyBytes == nil || *l.MaxBodyBytes <= 0 {
		return DefaultMaxBodyBytes
	}
	return *l.MaxBodyBytes
}

// GetBurst returns the burst of the rate limit, 0 when unlimited.
func (l LimitsSpec) GetBurst() int {
	switch {
	case l.RequestsPerSecond == nil:
		return 0
	case l.Burst != nil && *l.Burst > 0:
		return int(*l.Burst)
	default:
		return int(*l.RequestsPerSecond)
	}
}

// DefaultGracePeriod is how long a rotated-out key stays valid.
const DefaultGracePeriod = 24 * time.Hour

// GetGracePeriod returns how long the previous key stays valid.
func (r *RotationSpec) GetGracePeriod() time.Duration {
	if r == nil || r.GracePeriod == nil || r.GracePeriod.Duration <= 0 {
		return DefaultGracePeriod
	}
	return r.GracePeriod.Duration
}

// ReceiverChoosesSecret reports whether the provider lets the receiving side
// choose the signing secret, so the controller may generate and rotate it.
func (p Provider) ReceiverChoosesSecret() bool {
	info, ok := LookupProvider(p)
	return ok && info.Key.ReceiverChooses
}

// VerifiesWithPublicKeysOnly reports whether the endpoint needs no Secret:
// its provider signs with a private key (whose public keys are in the spec
// or published by the issuer, KeysFromIssuer), or its provider may verify
// with public keys and it lists some and no Secret (Standard Webhooks v1a).
// An endpoint with spec.providerRef is answered by
// ProviderInfo.VerifiesWithPublicKeysOnly of the entry it resolved to.
func (s *WebhookEndpointSpec) VerifiesWithPublicKeysOnly() bool {
	info, _ := LookupProvider(s.Provider)
	return info.VerifiesWithPublicKeysOnly(s)
}

// GetMaxQueuedEvents returns the endpoint's quota of waiting events.
func (l LimitsSpec) GetMaxQueuedEvents() int64 {
	if l.MaxQueuedEvents == nil || *l.MaxQueuedEvents <= 0 {
		return DefaultMaxQueuedEvents
	}
	return *l.MaxQueuedEvents
}

// GetMaxQueuedBytes returns the endpoint's quota of waiting body bytes.
func (l LimitsSpec) GetMaxQueuedBytes() int64 {
	if l.MaxQueuedBytes == nil || *l.MaxQueuedBytes <= 0 {
		return DefaultMaxQueuedBytes
	}
	return *l.MaxQueuedBytes
}

// Circuit breaker defaults.
const (
	DefaultCircuitConsecutiveFailures = 10
	DefaultCircuitOpenFor             = 30 * time.Second
)

// DeliveryTargets returns the endpoint's targets, spec.target or
// spec.targets, each with its name set (the Service's by default).
func (s *WebhookEndpointSpec) DeliveryTargets() []TargetSpec {
	var ts []TargetSpec
	if s.Target != nil {
		ts = []TargetSpec{*s.Target}
	} else {
		ts = append(ts, s.Targets...)
	}
	for i := range ts {
		ts[i].Name = ts[i].GetName()
	}
	return ts
}

// GetName returns the target's name, its Service's by default.
func (t TargetSpec) GetName() string {
	if t.Name == "" {
		return t.Service.Name
	}
	return t.Name
}

// TargetDelivery is the delivery policy of target t: its own fields, then
// the endpoint's.
func (s *WebhookEndpointSpec) TargetDelivery(t TargetSpec) DeliverySpec {
	d := s.Delivery
	o := t.Delivery
	if o == nil {
		return d
	}
	if o.MaxAttempts != nil {
		d.MaxAttempts = o.MaxAttempts
	}
	if o.RetryFor != nil {
		d.RetryFor = o.RetryFor
	}
	if o.Timeout != nil {
		d.Timeout = o.Timeout
	}
	if o.Backoff.Initial != nil {
		d.Backoff.Initial = o.Backoff.Initial
	}
	if o.Backoff.Max != nil {
		d.Backoff.Max = o.Backoff.Max
	}
	return d
}

// GetRequestsPerSecond returns the target's rate limit, 0 when unlimited.
func (l *TargetLimits) GetRequestsPerSecond() int {
	if l == nil || l.RequestsPerSecond == nil {
		return 0
	}
	return int(*l.RequestsPerSecond)
}

// GetMaxConcurrency returns the target's concurrency limit across
// replicas, 0 when only the receiver's own bounds it.
func (l *TargetLimits) GetMaxConcurrency() int {
	if l == nil || l.MaxConcurrency == nil {
		return 0
	}
	return int(*l.MaxConcurrency)
}

// DefaultOrderingPartitions is how many ordered sequences a keyed target has.
const DefaultOrderingPartitions = 8

// GetPartitions returns how many ordered sequences a target with an
// ordering key has; 0 when it has no key (one sequence, or unordered).
func (o *OrderingSpec) GetPartitions() int {
	switch {
	case o == nil || o.Key == "":
		return 0
	case o.Partitions == nil:
		return DefaultOrderingPartitions
	}
	return int(*o.Partitions)
}

// Enabled reports whether the circuit breaker is on (the default).
func (c *CircuitBreakerSpec) Enabled() bool { return c == nil || !c.Disabled }

// GetConsecutiveFailures returns how many failures in a row open the circuit.
func (c *CircuitBreakerSpec) GetConsecutiveFailures() int {
	if c == nil || c.ConsecutiveFailures == nil {
		return DefaultCircuitConsecutiveFailures
	}
	return int(*c.ConsecutiveFailures)
}

// GetFailureRatio returns the failure ratio (0 to 1) over GetMinRequests
// attempts that opens the circuit; 0: none.
func (c *CircuitBreakerSpec) GetFailureRatio() (ratio float64, window int) {
	if c == nil || c.FailureRatio == nil || c.MinRequests == nil {
		return 0, 0
	}
	return float64(*c.FailureRatio) / 100, int(*c.MinRequests)
}

// GetOpenFor returns how long an open circuit waits before a probe.
func (c *CircuitBreakerSpec) GetOpenFor() time.Duration {
	if c == nil || c.OpenFor == nil || c.OpenFor.Duration <= 0 {
		return DefaultCircuitOpenFor
	}
	return c.OpenFor.Duration
}

// GetPending returns the pending count, 0 when not yet read.
func (c *TargetCounters) GetPending() int64 {
	if c == nil {
		return 0
	}
	return c.Pending
}
