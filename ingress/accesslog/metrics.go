package accesslog

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the access log. Records plus Failed is every request that
// finished; compare with hookgate_receiver_requests_total.
type Metrics struct {
	Records prometheus.Counter
	Failed  prometheus.Counter
	Waits   prometheus.Counter
}

// NewMetrics registers the access log metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookgate_access_records_total",
			Help: "Access records written, one per webhook request.",
		}),
		Failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookgate_access_record_failures_total",
			Help: "Access records lost because writing them to the destination failed.",
		}),
		Waits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookgate_access_record_waits_total",
			Help: "Requests that waited for the access log writer because its buffer was full.",
		}),
	}
	reg.MustRegister(m.Records, m.Failed, m.Waits)
	return m
}
