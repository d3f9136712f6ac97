package llm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"paradise/internal/config"
	"paradise/internal/metrics"
	"paradise/internal/outage"
)

// Provider is one source of replies in a Chain.
type Provider interface {
	Client
	// Name is the provider's configured name: a metrics label and what
	// logs and Final.Provider say.
	Name() string
}

// Chain is the Client the service uses: the configured providers in
// failover order, or the development provider when none is configured.
type Chain struct {
	providers []Provider
	metrics   *metrics.Metrics
	log       *zap.Logger
	outages   *outage.Log
}

// New builds the chain cfg describes and logs which providers are active.
// m may be nil (no metrics).
func New(cfg config.LLM, m *metrics.Metrics, log *zap.Logger) *Chain {
	var providers []Provider
	for _, p := range cfg.Providers {
		providers = append(providers, NewOpenAI(p))
	}
	if len(providers) == 0 {
		providers = append(providers, NewDev(cfg.DevDelay))
	}
	c := NewChain(providers, m, log)
	if len(cfg.Providers) == 0 {
		c.log.Warn("No LLM provider configured (PARADISE_LLM_PROVIDERS): replies come from the development provider, a canned echo")
	} else {
		c.log.Info("LLM providers", zap.String("providers", c.Describe()))
	}
	return c
}

// NewChain returns a chain trying providers in order; tests build one
// from their own providers.
func NewChain(providers []Provider, m *metrics.Metrics, log *zap.Logger) *Chain {
	log = log.Named("llm")
	return &Chain{providers: providers, metrics: m, log: log, outages: outage.NewLog(log)}
}

// Providers are the active providers' names in failover order.
func (c *Chain) Providers() []string {
	names := make([]string, len(c.providers))
	for i, p := range c.providers {
		names[i] = p.Name()
	}
	return names
}

// Describe says which providers answer, for the startup log and /readyz
// details: "ark(model ep-1) -> dashscope(model qwen-plus)", or the
// development provider's warning label.
func (c *Chain) Describe() string {
	parts := make([]string, len(c.providers))
	for i, p := range c.providers {
		switch m := p.(type) {
		case *Dev:
			parts[i] = p.Name() + " (no LLM provider configured: canned replies)"
		case interface{ Model() string }:
			parts[i] = fmt.Sprintf("%s(model %s)", p.Name(), m.Model())
		default:
			parts[i] = p.Name()
		}
	}
	return strings.Join(parts, " -> ")
}

// Development reports whether replies come from the development provider.
func (c *Chain) Development() bool {
	_, dev := c.providers[0].(*Dev)
	return len(c.providers) == 1 && dev
}

// Stream tries the providers in order until one produces its first token.
// It fails over on a connection error, a timeout, 429 or 5xx (Retryable
// errors), never once a token was handed out: then the stream ends with a
// cut-short Final instead. Request.Model applies to the first provider
// only.
func (c *Chain) Stream(ctx context.Context, req Request) (Stream, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	var errs []error
	for i, p := range c.providers {
		r := req
		if i > 0 {
			r.Model = ""
		}
		attempt := time.Now()
		st, err := p.Stream(ctx, r)
		if err == nil {
			return &chainStream{Stream: st, chain: c, provider: p.Name(), offset: attempt.Sub(start), failovers: i}, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			c.count(p.Name(), "canceled")
			return nil, fmt.Errorf("llm: %s: %w", p.Name(), context.Cause(ctx))
		}
		c.count(p.Name(), "failed")
		var e *Error
		retryable := errors.As(err, &e) && e.Retryable()
		kind := "invalid"
		if e != nil {
			kind = string(e.Kind)
		}
		// Once a minute per provider and kind: during a vendor outage
		// every request fails the same way.
		c.outages.Report("llm_"+p.Name()+"_"+kind, err)
		if !retryable || i == len(c.providers)-1 {
			break
		}
		if c.metrics != nil {
			c.metrics.LLMFailovers.WithLabelValues(p.Name()).Inc()
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, fmt.Errorf("llm: no provider answered: %w", errors.Join(errs...))
}

func (c *Chain) count(provider, outcome string) {
	if c.metrics != nil {
		c.metrics.LLMRequests.WithLabelValues(provider, outcome).Inc()
	}
}

// chainStream shifts the provider's timings to the chain's start, counts
// the reply's outcome and tokens, and logs replies cut short.
type chainStream struct {
	Stream
	chain     *Chain
	provider  string
	offset    time.Duration
	failovers int
	done      bool
}

func (s *chainStream) Recv() (Event, error) {
	ev, err := s.Stream.Recv()
	if ev.Final == nil || s.done {
		return ev, err
	}
	s.done = true
	f := *ev.Final
	outcome := "ok"
	if f.CutShort {
		outcome = "cut_short"
		var e *Error
		if errors.As(f.Err, &e) && e.Kind == KindCanceled {
			outcome = "canceled"
		} else {
			s.chain.outages.Report("llm_"+s.provider+"_cut_short", f.Err)
		}
	}
	s.chain.count(s.provider, outcome)
	if m := s.chain.metrics; m != nil {
		if f.TimeToFirstToken > 0 {
			m.LLMFirstToken.WithLabelValues(s.provider).Observe(f.TimeToFirstToken.Seconds())
		}
		m.LLMTokens.WithLabelValues(s.provider, "prompt").Add(float64(f.Usage.PromptTokens))
		m.LLMTokens.WithLabelValues(s.provider, "completion").Add(float64(f.Usage.CompletionTokens))
	}
	f.Latency += s.offset
	if f.TimeToFirstToken > 0 {
		f.TimeToFirstToken += s.offset
	}
	f.Failovers = s.failovers
	ev.Final = &f
	return ev, err
}

// Close counts a reply the caller abandoned before its end as cancelled.
func (s *chainStream) Close() error {
	if !s.done {
		s.done = true
		s.chain.count(s.provider, "canceled")
	}
	return s.Stream.Close()
}
