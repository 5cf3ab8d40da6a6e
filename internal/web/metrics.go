package web

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico/portico/internal/db"
)

// Metrics are the HTTP request metrics, labelled by route pattern (never by
// raw path, which would carry IDs and grow without bound).
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	denied   *prometheus.CounterVec
	faults   *prometheus.CounterVec
}

// NewMetrics registers the HTTP metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_http_requests_total",
			Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portico_http_request_duration_seconds",
			Help:    "HTTP request duration by method, route pattern and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route", "status"}),
	}
	m.denied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_http_denied_total",
		Help: "Requests refused by the authorization check, by route pattern and reason (permission or step-up).",
	}, []string{"route", "reason"})
	m.faults = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_storage_faults_total",
		Help: "Requests whose changes the database could not save, by fault (disk full, read-only, I/O error).",
	}, []string{"fault"})
	reg.MustRegister(m.requests, m.duration, m.denied, m.faults)
	return m
}

func (m *Metrics) observe(method, route string, status int, d time.Duration) {
	method = boundedMethod(method)
	s := strconv.Itoa(status)
	m.requests.WithLabelValues(method, route, s).Inc()
	m.duration.WithLabelValues(method, route, s).Observe(d.Seconds())
}

// boundedMethod keeps the method label to a known set: a client can send
// any token as a method.
func boundedMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "OTHER"
}

// deny counts a refused request (CP-4.2: every decision is observable;
// the role x route test reads this counter). A nil Metrics counts nothing.
func (m *Metrics) deny(route, reason string) {
	if m == nil {
		return
	}
	m.denied.WithLabelValues(route, reason).Inc()
}

// storageFault counts a request refused by a storage fault (MTL-1.1): the
// metric to alert on, since /readyz stays ready while reads work. A nil
// Metrics counts nothing.
func (m *Metrics) storageFault(f db.Fault) {
	if m == nil {
		return
	}
	m.faults.WithLabelValues(string(f)).Inc()
}
