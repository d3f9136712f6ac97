package llm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"paradise/internal/config"
	"paradise/internal/llm"
	"paradise/internal/llm/llmtest"
	"paradise/internal/metrics"
)

// refused is a provider whose port accepts no connection.
func refused(t *testing.T) config.LLMProvider {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/v1"
	srv.Close()
	return config.LLMProvider{Name: "primary", BaseURL: url, APIKey: key, Model: "m", FirstTokenTimeout: time.Second, Timeout: 10 * time.Second}
}

func TestFailoverBeforeFirstToken(t *testing.T) {
	tests := []struct {
		name     string
		primary  llmtest.Behavior
		down     bool // the primary refuses connections
		wantKind llm.Kind
	}{
		{name: "connection refused", down: true, wantKind: llm.KindConnect},
		{name: "no first token in time", primary: llmtest.Behavior{Stall: time.Minute}, wantKind: llm.KindTimeout},
		{name: "429", primary: llmtest.Behavior{Status: 429}, wantKind: llm.KindRateLimited},
		{name: "500", primary: llmtest.Behavior{Status: 500}, wantKind: llm.KindServer},
		{name: "503", primary: llmtest.Behavior{Status: 503}, wantKind: llm.KindServer},
		{name: "error in the stream before any text", primary: llmtest.Behavior{ErrorMid: true, ErrorAfter: 0}, wantKind: llm.KindServer},
		{name: "connection cut before any text", primary: llmtest.Behavior{Cut: true, CutAfter: 0}, wantKind: llm.KindConnect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, second := llmtest.NewServer(t, key), llmtest.NewServer(t, "sk-second-key")
			first.Push(tt.primary)
			second.Push(llmtest.Behavior{Tokens: []string{"from", " second"}})
			cfg1 := first.Provider("primary")
			cfg1.FirstTokenTimeout = 150 * time.Millisecond
			if tt.down {
				cfg1 = refused(t)
			}
			cfg2 := second.Provider("secondary")
			cfg2.Model = "second-model"
			m := metrics.New()
			core, logs := observer.New(zap.InfoLevel)
			chain := llm.New(config.LLM{Providers: []config.LLMProvider{cfg1, cfg2}}, m, zap.New(core))

			req := hello
			req.Model = "primary-only-model"
			st, err := chain.Stream(context.Background(), req)
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			deltas, f := read(t, st)
			if strings.Join(deltas, "") != "from second" || f.Provider != "secondary" || f.Failovers != 1 || f.CutShort {
				t.Fatalf("deltas %q, Final %+v: want the second provider's full reply after 1 failover", deltas, f)
			}
			if got := second.LastRequest().Model; got != "second-model" {
				t.Fatalf("second provider asked for model %q, want its own (the override is the primary's)", got)
			}
			if !tt.down && first.LastRequest().Model != "primary-only-model" {
				t.Fatalf("primary asked for model %q, want the override", first.LastRequest().Model)
			}
			if f.TimeToFirstToken <= 0 || f.Latency < f.TimeToFirstToken {
				t.Fatalf("timings = %v, %v", f.TimeToFirstToken, f.Latency)
			}
			if got := metric(t, m, `paradise_llm_failovers_total{provider="primary"}`); got != 1 {
				t.Fatalf("failovers{primary} = %v, want 1", got)
			}
			if got := metric(t, m, `paradise_llm_requests_total{outcome="failed",provider="primary"}`); got != 1 {
				t.Fatalf("requests{primary,failed} = %v, want 1", got)
			}
			if got := metric(t, m, `paradise_llm_requests_total{outcome="ok",provider="secondary"}`); got != 1 {
				t.Fatalf("requests{secondary,ok} = %v, want 1", got)
			}
			logged := false
			for _, e := range logs.FilterMessage("Dependency unavailable").All() {
				logged = logged || strings.Contains(fmt.Sprint(e.ContextMap()), "llm_primary_"+string(tt.wantKind))
			}
			if !logged {
				t.Fatalf("no outage line for llm_primary_%s in %v", tt.wantKind, logs.All())
			}
		})
	}
}

func TestNoFailover(t *testing.T) {
	tests := []struct {
		name     string
		primary  llmtest.Behavior
		wantText string
		wantCut  bool     // a stream that ends cut short
		wantErr  llm.Kind // or an error from Stream
	}{
		{name: "connection cut after two tokens", primary: llmtest.Behavior{Tokens: []string{"one", " two", " three"}, Cut: true, CutAfter: 2}, wantText: "one two", wantCut: true},
		{name: "error chunk after a token", primary: llmtest.Behavior{Tokens: []string{"one", " two"}, ErrorMid: true, ErrorAfter: 1}, wantText: "one", wantCut: true},
		{name: "401 is the primary's configuration, not an outage", primary: llmtest.Behavior{Status: 401}, wantErr: llm.KindAuth},
		{name: "400 would fail everywhere", primary: llmtest.Behavior{Status: 400}, wantErr: llm.KindRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, second := llmtest.NewServer(t, key), llmtest.NewServer(t, key)
			first.Push(tt.primary)
			m := metrics.New()
			chain := llm.New(config.LLM{Providers: []config.LLMProvider{first.Provider("primary"), second.Provider("secondary")}}, m, zap.NewNop())
			st, err := chain.Stream(context.Background(), hello)
			if tt.wantErr != "" {
				var e *llm.Error
				if !errors.As(err, &e) || e.Kind != tt.wantErr || llm.Retryable(err) {
					t.Fatalf("Stream error = %v, want a non-retryable %s", err, tt.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Stream: %v", err)
				}
				deltas, f := read(t, st)
				if got := strings.Join(deltas, ""); got != tt.wantText {
					t.Fatalf("text = %q, want %q", got, tt.wantText)
				}
				if !f.CutShort || f.Err == nil || f.FinishReason != llm.FinishCutShort || f.Provider != "primary" || !f.Usage.Estimated || f.Usage.CompletionTokens == 0 {
					t.Fatalf("Final = %+v, want cut short by the primary, usage estimated", f)
				}
				if got := metric(t, m, `paradise_llm_requests_total{outcome="cut_short",provider="primary"}`); got != 1 {
					t.Fatalf("requests{primary,cut_short} = %v, want 1", got)
				}
			}
			if n := len(second.Requests()); n != 0 {
				t.Fatalf("the second provider got %d requests, want none", n)
			}
		})
	}
}

func TestAllProvidersFail(t *testing.T) {
	first, second := llmtest.NewServer(t, key), llmtest.NewServer(t, key)
	first.Push(llmtest.Behavior{Status: 503})
	second.Push(llmtest.Behavior{Status: 429})
	chain := llm.New(config.LLM{Providers: []config.LLMProvider{first.Provider("primary"), second.Provider("secondary")}}, nil, zap.NewNop())
	_, err := chain.Stream(context.Background(), hello)
	if err == nil || !llm.Retryable(err) || !strings.Contains(err.Error(), "primary") || !strings.Contains(err.Error(), "secondary") {
		t.Fatalf("error = %v, want a retryable one naming both providers", err)
	}
}

// Cancelling before the first token must not fail over: the caller is
// gone, and the next provider would answer nobody.
func TestCancelDoesNotFailOver(t *testing.T) {
	first, second := llmtest.NewServer(t, key), llmtest.NewServer(t, key)
	first.Push(llmtest.Behavior{Stall: time.Minute})
	cfg := first.Provider("primary")
	cfg.FirstTokenTimeout = time.Minute
	m := metrics.New()
	chain := llm.New(config.LLM{Providers: []config.LLMProvider{cfg, second.Provider("secondary")}}, m, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := chain.Stream(ctx, hello)
	if !errors.Is(err, context.Canceled) || llm.Retryable(err) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if !first.LastRequest().WaitClientGone(5 * time.Second) {
		t.Fatal("the primary did not see the client leave")
	}
	if n := len(second.Requests()); n != 0 {
		t.Fatalf("the second provider got %d requests", n)
	}
	if got := metric(t, m, `paradise_llm_requests_total{outcome="canceled",provider="primary"}`); got != 1 {
		t.Fatalf("requests{primary,canceled} = %v, want 1", got)
	}
}

func TestChainMetrics(t *testing.T) {
	srv := llmtest.NewServer(t, key)
	srv.Push(llmtest.Behavior{Usage: &llmtest.Usage{PromptTokens: 11, CompletionTokens: 6, TotalTokens: 17}})
	m := metrics.New()
	chain := llm.New(config.LLM{Providers: []config.LLMProvider{srv.Provider("ark")}}, m, zap.NewNop())
	if _, err := llm.Complete(context.Background(), chain, hello); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"requests ok", metric(t, m, `paradise_llm_requests_total{outcome="ok",provider="ark"}`), 1},
		{"prompt tokens", metric(t, m, `paradise_llm_tokens_total{kind="prompt",provider="ark"}`), 11},
		{"completion tokens", metric(t, m, `paradise_llm_tokens_total{kind="completion",provider="ark"}`), 6},
		{"first-token observations", metric(t, m, `paradise_llm_first_token_seconds_count{provider="ark"}`), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestKeysNeverLeak makes the vendor echo the Authorization header in
// every error it can send and checks errors, logs and metrics.
func TestKeysNeverLeak(t *testing.T) {
	tests := []struct {
		name     string
		behavior llmtest.Behavior
		wrongKey bool
		midway   bool // the error comes after a token
	}{
		{name: "401 echoing a wrong key", behavior: llmtest.Behavior{EchoAuthorization: true}, wrongKey: true},
		{name: "500 echoing the key", behavior: llmtest.Behavior{Status: 500, EchoAuthorization: true}},
		{name: "429 echoing the key", behavior: llmtest.Behavior{Status: 429, EchoAuthorization: true}},
		{name: "error chunk echoing the key before any text", behavior: llmtest.Behavior{ErrorMid: true, EchoAuthorization: true}},
		{name: "error chunk echoing the key mid-stream", behavior: llmtest.Behavior{ErrorMid: true, ErrorAfter: 1, EchoAuthorization: true}, midway: true},
		{name: "malformed chunk quoting the key", behavior: llmtest.Behavior{Raw: "data: {\"oops\": \"Bearer " + key + "\"\n\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, "sk-the-server-key")
			if !tt.wrongKey {
				srv.Key = key
			}
			srv.Push(tt.behavior)
			m := metrics.New()
			core, logs := observer.New(zap.DebugLevel)
			cfg := srv.Provider("ark")
			cfg.APIKey = key
			chain := llm.New(config.LLM{Providers: []config.LLMProvider{cfg}}, m, zap.New(core))
			var errText string
			st, err := chain.Stream(context.Background(), hello)
			if tt.midway {
				if err != nil {
					t.Fatalf("Stream: %v", err)
				}
				_, f := read(t, st)
				if f.Err == nil {
					t.Fatal("no error mid-stream")
				}
				errText = f.Err.Error()
			} else {
				if err == nil {
					t.Fatal("Stream succeeded, want an error")
				}
				errText = err.Error()
			}
			if !strings.Contains(errText, "[redacted]") {
				t.Fatalf("error %q: the echo was not redacted (or not sent)", errText)
			}
			var out strings.Builder
			out.WriteString(errText)
			out.WriteString(chain.Describe())
			for _, e := range logs.All() {
				fmt.Fprint(&out, e.Message, e.ContextMap())
			}
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			body, _ := io.ReadAll(rec.Body)
			out.Write(body)
			if strings.Contains(out.String(), key) || strings.Contains(out.String(), key[3:15]) {
				t.Fatalf("the key leaked: %s", out.String())
			}
		})
	}
}

func TestDevelopmentProvider(t *testing.T) {
	tests := []struct {
		name       string
		req        llm.Request
		wantText   string
		wantFinish string
		wantWords  int
	}{
		{
			name:       "echoes the last user message",
			req:        hello,
			wantText:   "[development reply: no LLM provider is configured] You said: “How are you?”. This conversation has 2 earlier messages.",
			wantFinish: "stop",
			wantWords:  18,
		},
		{
			name:       "Chinese streams a character at a time",
			req:        llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "你好呀"}}},
			wantText:   "[development reply: no LLM provider is configured] You said: “你好呀”. This conversation has 0 earlier messages.",
			wantFinish: "stop",
			wantWords:  9 + 1 + 3 + 1 + 6, // words, "“", 你 好 呀, "”. ", words
		},
		{
			name:       "max tokens cuts at that many words",
			req:        llm.Request{MaxTokens: 3, Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}},
			wantText:   "[development reply: no ",
			wantFinish: "length",
			wantWords:  3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New()
			chain := llm.New(config.LLM{DevDelay: 0}, m, zap.NewNop())
			for range 2 { // the same request gets the same reply
				st, err := chain.Stream(context.Background(), tt.req)
				if err != nil {
					t.Fatalf("Stream: %v", err)
				}
				deltas, f := read(t, st)
				if got := strings.Join(deltas, ""); got != tt.wantText || len(deltas) != tt.wantWords {
					t.Fatalf("reply = %q in %d deltas, want %q in %d", got, len(deltas), tt.wantText, tt.wantWords)
				}
				u := f.Usage
				if f.Provider != llm.DevName || f.Model != llm.DevName || f.FinishReason != tt.wantFinish || u.PromptTokens == 0 || u.CompletionTokens == 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
					t.Fatalf("Final = %+v", f)
				}
			}
			if got := metric(t, m, `paradise_llm_requests_total{outcome="ok",provider="development"}`); got != 2 {
				t.Fatalf("requests{development,ok} = %v, want 2", got)
			}
		})
	}
}

func TestDevelopmentProviderChosenOnlyWithoutProviders(t *testing.T) {
	srv := llmtest.NewServer(t, key)
	tests := []struct {
		name      string
		cfg       config.LLM
		wantDev   bool
		wantNames []string
		wantDesc  string
	}{
		{"none configured", config.LLM{}, true, []string{llm.DevName}, "development (no LLM provider configured"},
		{"one configured", config.LLM{Providers: []config.LLMProvider{srv.Provider("ark")}}, false, []string{"ark"}, "ark(model fake-model)"},
		{"two configured", config.LLM{Providers: []config.LLMProvider{srv.Provider("ark"), srv.Provider("dashscope")}}, false, []string{"ark", "dashscope"}, "ark(model fake-model) -> dashscope(model fake-model)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			chain := llm.New(tt.cfg, nil, zap.New(core))
			if chain.Development() != tt.wantDev || strings.Join(chain.Providers(), ",") != strings.Join(tt.wantNames, ",") || !strings.Contains(chain.Describe(), tt.wantDesc) {
				t.Fatalf("Development %v, Providers %v, Describe %q", chain.Development(), chain.Providers(), chain.Describe())
			}
			if logs.Len() != 1 {
				t.Fatalf("startup log lines = %v, want one", logs.All())
			}
			if !tt.wantDev {
				reply, err := llm.Complete(context.Background(), chain, hello)
				if err != nil || reply.Final.Provider != "ark" || strings.Contains(reply.Text, "development") {
					t.Fatalf("reply %+v, %v: want the configured provider's", reply, err)
				}
			}
		})
	}
}

func TestDevelopmentProviderPacingAndCancel(t *testing.T) {
	chain := llm.New(config.LLM{DevDelay: time.Hour}, nil, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := chain.Stream(ctx, hello); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream error = %v, want context.Canceled while waiting for the first word", err)
	}

	chain = llm.New(config.LLM{DevDelay: 5 * time.Millisecond}, nil, zap.NewNop())
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	st, err := chain.Stream(ctx, hello)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if ev, _ := st.Recv(); ev.Delta == "" {
		t.Fatalf("first event = %+v", ev)
	}
	cancel()
	ev, err := st.Recv()
	if err != nil || ev.Final == nil || !ev.Final.CutShort || !errors.Is(ev.Final.Err, context.Canceled) {
		t.Fatalf("after cancel: %+v, %v; want a cut-short Final", ev, err)
	}
	if f := ev.Final; f.TimeToFirstToken < 5*time.Millisecond {
		t.Fatalf("TimeToFirstToken = %v, want at least the pacing delay", f.TimeToFirstToken)
	}
}

// metric reads one sample from the metrics' text exposition; 0 when it
// is absent.
func metric(t *testing.T, m *metrics.Metrics, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return f
		}
	}
	return 0
}
