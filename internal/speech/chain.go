package speech

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Observer is told about every vendor call, for metrics; every field is
// optional.
type Observer struct {
	// Call reports one provider's attempt: op is "recognize" or
	// "synthesize", err nil on success.
	Call func(provider, op string, took time.Duration, err error)
	// Failover reports a provider given up for the next one.
	Failover func(provider, op string)
}

// Chain tries providers in order: a provider that fails for its own
// reasons (Error.Failover) hands the request to the next; bad input ends
// the request at once. It implements Recognizer and Synthesizer.
type Chain struct {
	recognizers  []Recognizer
	synthesizers []Synthesizer
	obs          Observer
	// missing describes why there is no provider, when there is none.
	missing string
}

// NewChain returns a chain over the providers, in failover order.
// missing is what to tell the client when no provider can serve
// ("espeak-ng is not installed").
func NewChain(recognizers []Recognizer, synthesizers []Synthesizer, obs Observer, missing string) *Chain {
	return &Chain{recognizers: recognizers, synthesizers: synthesizers, obs: obs, missing: missing}
}

// Name implements Recognizer: the providers' names joined with "->".
func (c *Chain) Name() string {
	names := make([]string, 0, len(c.recognizers))
	for _, r := range c.recognizers {
		names = append(names, r.Name())
	}
	return strings.Join(names, "->")
}

// Accepts implements Recognizer: some provider takes f.
func (c *Chain) Accepts(f Format) bool {
	for _, r := range c.recognizers {
		if r.Accepts(f) {
			return true
		}
	}
	return false
}

// Produces implements Synthesizer: some provider makes f.
func (c *Chain) Produces(f Format) bool {
	for _, s := range c.synthesizers {
		if s.Produces(f) {
			return true
		}
	}
	return false
}

func (c *Chain) call(provider, op string, start time.Time, err error) {
	if c.obs.Call != nil {
		c.obs.Call(provider, op, time.Since(start), err)
	}
}

func (c *Chain) failover(provider, op string) {
	if c.obs.Failover != nil {
		c.obs.Failover(provider, op)
	}
}

// Recognize implements Recognizer.
func (c *Chain) Recognize(ctx context.Context, a Audio) (Transcript, error) {
	var last error
	tried, prev := 0, ""
	for _, r := range c.recognizers {
		if !r.Accepts(a.Format) {
			continue
		}
		if tried > 0 {
			c.failover(prev, "recognize")
		}
		prev = r.Name()
		tried++
		start := time.Now()
		t, err := r.Recognize(ctx, a)
		c.call(r.Name(), "recognize", start, err)
		if err == nil {
			return t, nil
		}
		last = err
		var se *Error
		if !errors.As(err, &se) || !se.Failover() || ctx.Err() != nil {
			return Transcript{}, err
		}
	}
	if tried == 0 {
		if len(c.recognizers) == 0 {
			return Transcript{}, EngineMissing(c.missing)
		}
		return Transcript{}, UnsupportedFormat(string(a.Format))
	}
	return Transcript{}, last
}

// Synthesize implements Synthesizer.
func (c *Chain) Synthesize(ctx context.Context, r SynthesisRequest) (Synthesis, error) {
	var last error
	tried, prev := 0, ""
	for _, s := range c.synthesizers {
		if !s.Produces(r.Format) {
			continue
		}
		if tried > 0 {
			c.failover(prev, "synthesize")
		}
		prev = s.Name()
		tried++
		start := time.Now()
		out, err := s.Synthesize(ctx, r)
		c.call(s.Name(), "synthesize", start, err)
		if err == nil {
			return out, nil
		}
		last = err
		var se *Error
		if !errors.As(err, &se) || !se.Failover() || ctx.Err() != nil {
			return Synthesis{}, err
		}
	}
	if tried == 0 {
		if len(c.synthesizers) == 0 {
			return Synthesis{}, EngineMissing(c.missing)
		}
		return Synthesis{}, UnsupportedFormat(string(r.Format))
	}
	return Synthesis{}, last
}
