// Package metrics holds the service's Prometheus metrics, served at
// /metrics on PARADISE_METRICS_ADDR. Label values are bounded: operation ids, route patterns, close
// codes and error codes, never ids or paths from requests.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"
)

// Module provides the metrics and serves them on their own address.
var Module = fx.Module("metrics", fx.Provide(New, NewServer), fx.Invoke(func(*Server) {}))

// Metrics are the service's instruments, on their own registry (not the
// global one, so tests can run several services in one process).
type Metrics struct {
	registry *prometheus.Registry

	// HTTPRequests counts REST and docs requests by route and status.
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration observes request latency by route.
	HTTPDuration *prometheus.HistogramVec

	// HubConnections is the number of open hub sessions by role.
	HubConnections *prometheus.GaugeVec
	// HubFrames counts frames clients sent that the hub accepted, by type.
	HubFrames *prometheus.CounterVec
	// HubRejected counts frames answered with an error frame, by code.
	HubRejected *prometheus.CounterVec
	// HubClosed counts sessions the server closed, by close code.
	HubClosed *prometheus.CounterVec
	// HubPublished counts relayed frames this instance published to
	// Redis for other instances' members.
	HubPublished prometheus.Counter

	// LLMRequests counts LLM replies by provider and outcome (ok,
	// cut_short, failed, canceled).
	LLMRequests *prometheus.CounterVec
	// LLMFailovers counts providers given up before their first token, by
	// the provider that failed.
	LLMFailovers *prometheus.CounterVec
	// LLMFirstToken observes the time to the first token by provider.
	LLMFirstToken *prometheus.HistogramVec
	// LLMTokens counts tokens by provider and kind (prompt, completion).
	LLMTokens *prometheus.CounterVec

	// ChatRequests counts chat requests by channel (rest, sse, hub) and
	// outcome (ok, cut_short, rejected, invalid, canceled,
	// model_unavailable, failed).
	ChatRequests *prometheus.CounterVec
	// ChatQuotaRejections counts chat requests refused by a budget, by
	// kind (messages, tokens, streams).
	ChatQuotaRejections *prometheus.CounterVec

	// RateLimitRejections counts requests refused by a rate limit or the
	// login lockout, by limit (login_ip, device_login_mac, lockout, ...).
	RateLimitRejections *prometheus.CounterVec
	// Commands counts persistent device commands by event (queued, sent,
	// acknowledged, failed, expired).
	Commands *prometheus.CounterVec
}

// New creates and registers the metrics, with Go runtime and process
// collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_http_requests_total",
			Help: "HTTP requests by route (operation id or pattern), method and status.",
		}, []string{"route", "method", "status"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "paradise_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		HubConnections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "paradise_hub_connections",
			Help: "Open device hub sessions on this instance by role (device, app).",
		}, []string{"role"}),
		HubFrames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_hub_frames_total",
			Help: "Frames clients sent that the hub accepted, by type.",
		}, []string{"type"}),
		HubRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_hub_frames_rejected_total",
			Help: "Frames answered with an error frame, by error code.",
		}, []string{"code"}),
		HubClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_hub_closed_total",
			Help: "Hub sessions the server closed, by WebSocket close code (1008 slow consumer or rate limit, 4002 replaced, 4003 rebound, ...).",
		}, []string{"code"}),
		HubPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paradise_hub_published_total",
			Help: "Relayed frames published to Redis because another instance had members of the group (an instance alone with a group relays without Redis).",
		}),
		LLMRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_llm_requests_total",
			Help: "LLM replies by provider (configured name, or development) and outcome (ok, cut_short, failed, canceled).",
		}, []string{"provider", "outcome"}),
		LLMFailovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_llm_failovers_total",
			Help: "LLM providers given up before their first token (the next one was tried), by the provider that failed.",
		}, []string{"provider"}),
		LLMFirstToken: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "paradise_llm_first_token_seconds",
			Help:    "Time from sending an LLM request to its first token, by provider.",
			Buckets: []float64{.1, .25, .5, .75, 1, 1.5, 2, 3, 5, 8, 13},
		}, []string{"provider"}),
		LLMTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_llm_tokens_total",
			Help: "LLM tokens by provider and kind (prompt, completion), as the provider reported them (estimated from the text when it did not, e.g. for a reply cut short).",
		}, []string{"provider", "kind"}),
		ChatRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_chat_requests_total",
			Help: "Chat requests by channel (rest, sse, hub) and outcome (ok, cut_short, rejected, invalid, canceled, model_unavailable, failed).",
		}, []string{"channel", "outcome"}),
		ChatQuotaRejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_chat_quota_rejections_total",
			Help: "Chat requests refused by a per-user budget, by kind (messages per day, tokens per day, concurrent streams).",
		}, []string{"kind"}),
		RateLimitRejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_ratelimit_rejections_total",
			Help: "Requests refused with 429 by a rate limit or the login lockout, by limit (login_ip, login_username, register_ip, device_login_ip, device_login_mac, bind_user, claim_ip, push_user, push_device, lockout).",
		}, []string{"limit"}),
		Commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paradise_device_commands_total",
			Help: "Persistent device command events: queued, sent (each delivery attempt), acknowledged, failed, expired.",
		}, []string{"event"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPDuration,
		m.HubConnections, m.HubFrames, m.HubRejected, m.HubClosed, m.HubPublished,
		m.LLMRequests, m.LLMFailovers, m.LLMFirstToken, m.LLMTokens,
		m.ChatRequests, m.ChatQuotaRejections,
		m.RateLimitRejections, m.Commands,
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// MustRegister adds a module's own collectors (internal/voice's speech
// metrics) to the registry; label values must stay bounded.
func (m *Metrics) MustRegister(cs ...prometheus.Collector) { m.registry.MustRegister(cs...) }
