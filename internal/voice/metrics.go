package voice

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"paradise/internal/metrics"
	"paradise/internal/speech"
)

// Metrics are the speech instruments. Labels are bounded: provider names,
// the two operations, fixed outcomes and the vendors' documented codes.
type Metrics struct {
	// Requests counts speech requests by operation (recognize,
	// synthesize, voice_chat) and outcome (ok, invalid, rejected, failed).
	Requests *prometheus.CounterVec
	// AudioSeconds counts seconds of audio heard and spoken, by operation.
	AudioSeconds *prometheus.CounterVec
	// VendorLatency observes each vendor call by provider and operation.
	VendorLatency *prometheus.HistogramVec
	// Failovers counts providers given up for the next, by provider.
	Failovers *prometheus.CounterVec
	// VendorErrors counts vendor failures by provider and vendor code.
	VendorErrors *prometheus.CounterVec
}

// NewMetrics creates the speech metrics and registers them.
func NewMetrics(m *metrics.Metrics) *Metrics {
	s := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_speech_requests_total",
			Help: "Speech requests by operation (recognize, synthesize, voice_chat) and outcome (ok, invalid, rejected, failed).",
		}, []string{"op", "outcome"}),
		AudioSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_speech_audio_seconds_total",
			Help: "Seconds of audio recognized (recognize) and synthesized (synthesize).",
		}, []string{"op"}),
		VendorLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "paradise_speech_vendor_seconds",
			Help:    "Latency of speech vendor calls (to the response headers for synthesis), by provider and operation.",
			Buckets: []float64{.05, .1, .25, .5, .75, 1, 1.5, 2, 3, 5, 8, 15},
		}, []string{"provider", "op"}),
		Failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_speech_failovers_total",
			Help: "Speech providers given up for the next one, by the provider that failed and operation.",
		}, []string{"provider", "op"}),
		VendorErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_speech_vendor_errors_total",
			Help: "Speech vendor failures by provider and the vendor's error code (40000001, 3011, AuthFailure.SignatureFailure, http_503, timeout, ...).",
		}, []string{"provider", "code"}),
	}
	m.MustRegister(s.Requests, s.AudioSeconds, s.VendorLatency, s.Failovers, s.VendorErrors)
	return s
}

// observer feeds the chain's vendor calls into the metrics.
func (m *Metrics) observer() speech.Observer {
	return speech.Observer{
		Call: func(provider, op string, took time.Duration, err error) {
			m.VendorLatency.WithLabelValues(provider, op).Observe(took.Seconds())
			var se *speech.Error
			if errors.As(err, &se) {
				code := se.Code
				if len(code) > 48 {
					code = code[:48]
				}
				m.VendorErrors.WithLabelValues(provider, code).Inc()
			}
		},
		Failover: func(provider, op string) { m.Failovers.WithLabelValues(provider, op).Inc() },
	}
}
