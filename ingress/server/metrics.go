package server

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the receiver's HTTP side.
type Metrics struct {
	Requests       *prometheus.CounterVec
	EnqueueSeconds prometheus.Histogram
	BodyBytes      prometheus.Histogram
}

// NewMetrics registers the receiver metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookgate_receiver_requests_total",
			Help: "Webhook requests by endpoint, outcome (accepted, duplicate, rejected, error) and reason.",
		}, []string{"endpoint", "outcome", "reason"}),
		EnqueueSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookgate_receiver_enqueue_seconds",
			Help:    "Time to store a verified event durably in JetStream.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		BodyBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookgate_receiver_body_bytes",
			Help:    "Size of webhook bodies that passed the size limit.",
			Buckets: prometheus.ExponentialBuckets(256, 4, 9),
		}),
	}
	reg.MustRegister(m.Requests, m.EnqueueSeconds, m.BodyBytes)
	return m
}
