package speech_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"paradise/internal/apperr"
	"paradise/internal/speech"
)

// scripted is a provider answering from a list of errors, then success.
type scripted struct {
	name    string
	errs    []error
	formats []speech.Format
	calls   int
}

func (p *scripted) Name() string { return p.name }
func (p *scripted) Accepts(f speech.Format) bool {
	for _, g := range p.formats {
		if f == g {
			return true
		}
	}
	return len(p.formats) == 0
}
func (p *scripted) Produces(f speech.Format) bool { return p.Accepts(f) }
func (p *scripted) next() error {
	p.calls++
	if len(p.errs) == 0 {
		return nil
	}
	err := p.errs[0]
	p.errs = p.errs[1:]
	return err
}
func (p *scripted) Recognize(context.Context, speech.Audio) (speech.Transcript, error) {
	if err := p.next(); err != nil {
		return speech.Transcript{}, err
	}
	return speech.Transcript{Text: "from " + p.name, Provider: p.name}, nil
}
func (p *scripted) Synthesize(context.Context, speech.SynthesisRequest) (speech.Synthesis, error) {
	if err := p.next(); err != nil {
		return speech.Synthesis{}, err
	}
	return speech.Synthesis{Provider: p.name, Body: io.NopCloser(strings.NewReader("x"))}, nil
}

func fail(p string, k speech.Kind) error { return &speech.Error{Provider: p, Kind: k, Code: "c"} }

func TestChainFailover(t *testing.T) {
	for _, tc := range []struct {
		name      string
		a, b      []error
		want      string // provider that answers, or "" for an error
		failovers int
	}{
		{"first answers", nil, nil, "a", 0},
		{"unavailable fails over", []error{fail("a", speech.KindUnavailable)}, nil, "b", 1},
		{"timeout fails over", []error{fail("a", speech.KindTimeout)}, nil, "b", 1},
		{"rate limit fails over", []error{fail("a", speech.KindRateLimited)}, nil, "b", 1},
		{"auth fails over", []error{fail("a", speech.KindAuth)}, nil, "b", 1},
		{"bad audio does not", []error{fail("a", speech.KindBadAudio)}, nil, "", 0},
		{"empty does not", []error{fail("a", speech.KindEmpty)}, nil, "", 0},
		{"both fail", []error{fail("a", speech.KindUnavailable)}, []error{fail("b", speech.KindUnavailable)}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &scripted{name: "a", errs: tc.a}
			b := &scripted{name: "b", errs: tc.b}
			failovers, calls := 0, 0
			c := speech.NewChain([]speech.Recognizer{a, b}, nil, speech.Observer{
				Call:     func(string, string, time.Duration, error) { calls++ },
				Failover: func(string, string) { failovers++ },
			}, "")
			tr, err := c.Recognize(context.Background(), speech.Audio{Format: speech.PCM})
			if tc.want == "" {
				if err == nil {
					t.Fatalf("answered by %s", tr.Provider)
				}
			} else if err != nil || tr.Provider != tc.want {
				t.Fatalf("got %+v, %v; want %s", tr, err, tc.want)
			}
			if failovers != tc.failovers || calls != a.calls+b.calls {
				t.Fatalf("failovers %d (want %d), observed calls %d (made %d)", failovers, tc.failovers, calls, a.calls+b.calls)
			}
		})
	}
}

func TestChainFormatsAndMissing(t *testing.T) {
	wavOnly := &scripted{name: "w", formats: []speech.Format{speech.WAV}}
	c := speech.NewChain([]speech.Recognizer{wavOnly}, []speech.Synthesizer{wavOnly}, speech.Observer{}, "")
	_, err := c.Recognize(context.Background(), speech.Audio{Format: speech.MP3})
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != speech.CodeUnsupportedFormat {
		t.Fatalf("mp3 to a wav-only chain: %v", err)
	}
	empty := speech.NewChain(nil, nil, speech.Observer{}, "espeak-ng is not installed")
	_, err = empty.Synthesize(context.Background(), speech.SynthesisRequest{Format: speech.WAV})
	if !errors.As(err, &ae) || ae.Code != speech.CodeEngineMissing || ae.Status != http.StatusServiceUnavailable || !strings.Contains(ae.Message, "espeak-ng") {
		t.Fatalf("no engine: %v", err)
	}
}
