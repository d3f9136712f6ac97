package llm_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"paradise/internal/config"
	"paradise/internal/llm"
	"paradise/internal/llm/llmtest"
)

const key = "sk-test-0123456789abcdef"

// hello is a small conversation: persona, history, the new message.
var hello = llm.Request{Messages: []llm.Message{
	{Role: llm.RoleSystem, Content: "You are Momo, a cheerful companion."},
	{Role: llm.RoleUser, Content: "Hi"},
	{Role: llm.RoleAssistant, Content: "Hello!"},
	{Role: llm.RoleUser, Content: "How are you?"},
}}

// read collects a stream: its deltas, its one Final, and checks io.EOF
// follows.
func read(t *testing.T, st llm.Stream) ([]string, llm.Final) {
	t.Helper()
	defer st.Close()
	var deltas []string
	var final *llm.Final
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if final != nil {
			t.Fatalf("event after the Final: %+v", ev)
		}
		if ev.Delta != "" {
			deltas = append(deltas, ev.Delta)
		}
		final = ev.Final
	}
	if final == nil {
		t.Fatal("stream ended without a Final")
	}
	return deltas, *final
}

func TestOpenAIStream(t *testing.T) {
	temp := 0.7
	tests := []struct {
		name       string
		behavior   llmtest.Behavior
		req        llm.Request
		wantDeltas []string
		wantFinish string
		wantUsage  llm.Usage
		wantModel  string
		check      func(t *testing.T, r *llmtest.Request)
	}{
		{
			name:       "default reply with usage",
			req:        hello,
			wantDeltas: llmtest.DefaultTokens,
			wantFinish: "stop",
			// prompt tokens = runes of the messages (the fake's rule)
			wantUsage: llm.Usage{PromptTokens: 35 + 2 + 6 + 12, CompletionTokens: 6, TotalTokens: 55 + 6},
			wantModel: "fake-model",
			check: func(t *testing.T, r *llmtest.Request) {
				if !r.Stream || !r.IncludeUsage || !r.Authorization {
					t.Fatalf("request: stream %v, include_usage %v, authorized %v", r.Stream, r.IncludeUsage, r.Authorization)
				}
				if len(r.Messages) != 4 || r.Messages[0].Role != "system" || r.Messages[2].Content != "Hello!" || r.Messages[3].Content != "How are you?" {
					t.Fatalf("messages upstream = %+v", r.Messages)
				}
				if r.MaxTokens != 0 || r.Temperature != nil {
					t.Fatalf("max_tokens %d, temperature %v sent though unset", r.MaxTokens, r.Temperature)
				}
			},
		},
		{
			name:       "Chinese reply, length finish, max tokens and temperature and model sent",
			behavior:   llmtest.Behavior{Tokens: []string{"你好", "，", "我是", "Momo"}, FinishReason: "length", Usage: &llmtest.Usage{PromptTokens: 5, CompletionTokens: 4, TotalTokens: 9}},
			req:        llm.Request{Model: "ep-override", MaxTokens: 4, Temperature: &temp, Messages: []llm.Message{{Role: llm.RoleUser, Content: "你好"}}},
			wantDeltas: []string{"你好", "，", "我是", "Momo"},
			wantFinish: "length",
			wantUsage:  llm.Usage{PromptTokens: 5, CompletionTokens: 4, TotalTokens: 9},
			wantModel:  "ep-override",
			check: func(t *testing.T, r *llmtest.Request) {
				if r.Model != "ep-override" || r.MaxTokens != 4 || r.Temperature == nil || *r.Temperature != 0.7 {
					t.Fatalf("request: model %q, max_tokens %d, temperature %v", r.Model, r.MaxTokens, r.Temperature)
				}
			},
		},
		{
			name:       "empty reply still ends with a Final",
			behavior:   llmtest.Behavior{Tokens: []string{}, FinishReason: "content_filter", Usage: &llmtest.Usage{PromptTokens: 3, TotalTokens: 3}},
			req:        hello,
			wantDeltas: nil,
			wantFinish: "content_filter",
			wantUsage:  llm.Usage{PromptTokens: 3, TotalTokens: 3},
			wantModel:  "fake-model",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, key)
			srv.Push(tt.behavior)
			p := llm.NewOpenAI(srv.Provider("fake"))
			st, err := p.Stream(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			deltas, f := read(t, st)
			if strings.Join(deltas, "|") != strings.Join(tt.wantDeltas, "|") {
				t.Fatalf("deltas = %q, want %q", deltas, tt.wantDeltas)
			}
			if f.FinishReason != tt.wantFinish || f.CutShort || f.Err != nil {
				t.Fatalf("Final = %+v, want finish %q, not cut short", f, tt.wantFinish)
			}
			if f.Usage != tt.wantUsage {
				t.Fatalf("Usage = %+v, want %+v", f.Usage, tt.wantUsage)
			}
			if f.Provider != "fake" || f.Model != tt.wantModel || f.Latency <= 0 {
				t.Fatalf("Final = %+v, want provider fake, model %q, a latency", f, tt.wantModel)
			}
			if len(tt.wantDeltas) > 0 && (f.TimeToFirstToken <= 0 || f.TimeToFirstToken > f.Latency) {
				t.Fatalf("TimeToFirstToken = %v, Latency = %v", f.TimeToFirstToken, f.Latency)
			}
			if tt.check != nil {
				tt.check(t, srv.LastRequest())
			}
		})
	}
}

func TestComplete(t *testing.T) {
	tests := []struct {
		name     string
		behavior llmtest.Behavior
		want     string
	}{
		{"collected stream", llmtest.Behavior{Tokens: []string{"a", "b", "c"}}, "abc"},
		{"server answering with a whole completion", llmtest.Behavior{RawContentType: "application/json",
			Raw: `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}`}, "whole"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, key)
			srv.Push(tt.behavior)
			reply, err := llm.Complete(context.Background(), llm.NewOpenAI(srv.Provider("fake")), hello)
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if reply.Text != tt.want || reply.Final.FinishReason != "stop" || reply.Final.Usage.TotalTokens == 0 {
				t.Fatalf("reply = %+v, want %q, stop, usage", reply, tt.want)
			}
		})
	}
}

// TestSSEParsing feeds transcripts byte for byte.
func TestSSEParsing(t *testing.T) {
	const (
		role  = `data: {"id":"r1","object":"chat.completion.chunk","created":1704355200,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}` + "\n\n"
		hi    = `data: {"id":"r1","object":"chat.completion.chunk","created":1704355200,"model":"m","choices":[{"index":0,"delta":{"content":"你好"},"finish_reason":"stop"}],"usage":null}` + "\n\n"
		usage = `data: {"id":"r1","object":"chat.completion.chunk","created":1704355200,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}` + "\n\n"
		done  = "data: [DONE]\n\n"
	)
	chunk := func(content string) string {
		return `data: {"choices":[{"index":0,"delta":{"content":"` + content + `"},"finish_reason":null}]}` + "\n\n"
	}
	tests := []struct {
		name      string
		raw       string
		want      string
		wantUsage llm.Usage
		// wantErr is the kind Stream fails with (before the first token);
		// wantCut the kind a cut-short Final carries (after it).
		wantErr llm.Kind
		wantCut llm.Kind
	}{
		{name: "vendors.md 6c transcript", raw: role + hi + usage + done, want: "你好", wantUsage: llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}},
		{name: "CRLF line ends", raw: strings.ReplaceAll(role+hi+usage+done, "\n", "\r\n"), want: "你好", wantUsage: llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}},
		{name: "comments, keep-alives and other fields ignored", raw: ": keep-alive\n\n" + "event: message\nid: 1\nretry: 100\n" + role + ":ping\n\n" + hi + "\n\n\n" + usage + done, want: "你好", wantUsage: llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}},
		{name: "no space after data:", raw: strings.ReplaceAll(role+hi+usage+done, "data: ", "data:"), want: "你好", wantUsage: llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}},
		{name: "one event over several data lines", raw: "data: {\"choices\":[{\"index\":0,\n" + "data: \"delta\":{\"content\":\"multi\"}}]}\n\n" + usage + done, want: "multi", wantUsage: llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}},
		{name: "chunks without blank lines between them", raw: strings.ReplaceAll(chunk("a")+chunk("b")+usage+done, "\n\n", "\n"), want: "ab", wantUsage: llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}},
		{name: "no blank line after [DONE]", raw: hi + usage + "data: [DONE]", want: "你好", wantUsage: llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}},
		{name: "finish and usage but no [DONE]", raw: hi + usage, want: "你好", wantUsage: llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}},
		{name: "reasoning content is not handed out", raw: `data: {"choices":[{"index":0,"delta":{"reasoning_content":"thinking..."}}]}` + "\n\n" + hi + usage + done, want: "你好", wantUsage: llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}},
		// hello's prompt: 4 framing tokens a message, one per 4 characters
		// (8, 1, 2, 3); "hello world": 10 characters, 3 tokens.
		{name: "no usage chunk: usage estimated", raw: chunk("hello world") + done, want: "hello world",
			wantUsage: llm.Usage{PromptTokens: 16 + 8 + 1 + 2 + 3, CompletionTokens: 3, TotalTokens: 30 + 3, Estimated: true}},
		{name: "error object before the first token", raw: role + `data: {"error":{"code":"InternalServiceError","message":"boom"}}` + "\n\n", wantErr: llm.KindServer},
		{name: "malformed chunk before the first token", raw: "data: {not json\n\n", wantErr: llm.KindServer},
		{name: "stream ends before anything", raw: role, wantErr: llm.KindServer},
		{name: "error object after a token", raw: chunk("part") + `data: {"error":{"code":"InternalServiceError","message":"boom"}}` + "\n\n", want: "part", wantCut: llm.KindServer},
		{name: "stream ends after a token without finish or [DONE]", raw: chunk("part"), want: "part", wantCut: llm.KindServer},
		{name: "line over 1 MiB", raw: "data: " + strings.Repeat("x", 1<<20+10) + "\n\n", wantErr: llm.KindServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, key)
			srv.Push(llmtest.Behavior{Raw: tt.raw})
			st, err := llm.NewOpenAI(srv.Provider("fake")).Stream(context.Background(), hello)
			if tt.wantErr != "" {
				var e *llm.Error
				if !errors.As(err, &e) || e.Kind != tt.wantErr || !e.Retryable() {
					t.Fatalf("Stream error = %v, want a retryable %s *llm.Error", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			deltas, f := read(t, st)
			if got := strings.Join(deltas, ""); got != tt.want {
				t.Fatalf("text = %q, want %q", got, tt.want)
			}
			if tt.wantCut != "" {
				var e *llm.Error
				if !f.CutShort || f.FinishReason != llm.FinishCutShort || !errors.As(f.Err, &e) || e.Kind != tt.wantCut {
					t.Fatalf("Final = %+v, want cut short by %s", f, tt.wantCut)
				}
				return
			}
			if f.CutShort || f.Usage != tt.wantUsage {
				t.Fatalf("Final = %+v, want complete with usage %+v", f, tt.wantUsage)
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		name      string
		behavior  llmtest.Behavior
		wrongKey  bool
		model     string
		wantKind  llm.Kind
		wantRetry bool
		wantIn    string
	}{
		{name: "401 wrong key", wrongKey: true, wantKind: llm.KindAuth, wantIn: "HTTP 401"},
		{name: "429 rate limited", behavior: llmtest.Behavior{Status: 429}, wantKind: llm.KindRateLimited, wantRetry: true, wantIn: "RateLimitExceeded"},
		{name: "500", behavior: llmtest.Behavior{Status: 500, ErrorMessage: "internal"}, wantKind: llm.KindServer, wantRetry: true, wantIn: "internal"},
		{name: "503", behavior: llmtest.Behavior{Status: 503}, wantKind: llm.KindServer, wantRetry: true, wantIn: "HTTP 503"},
		{name: "400", behavior: llmtest.Behavior{Status: 400, ErrorCode: "InvalidParameter", ErrorMessage: "max_tokens too large"}, wantKind: llm.KindRequest, wantIn: "InvalidParameter: max_tokens too large"},
		{name: "404 unknown model", model: "nope", wantKind: llm.KindRequest, wantIn: "InvalidEndpointOrModel.NotFound"},
		{name: "DashScope native error body", behavior: llmtest.Behavior{Status: 401, Raw: `{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"r"}`}, wantKind: llm.KindAuth, wantIn: "InvalidApiKey: Invalid API-key provided."},
		{name: "Ollama string error", behavior: llmtest.Behavior{Status: 404, Raw: `{"error":"model \"qwen\" not found, try pulling it first"}`}, wantKind: llm.KindRequest, wantIn: `model "qwen" not found`},
		{name: "502 from a proxy, not JSON", behavior: llmtest.Behavior{Status: 502, Raw: `<html>Bad Gateway</html>`}, wantKind: llm.KindServer, wantRetry: true, wantIn: "HTTP 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, key)
			srv.Models = []string{"fake-model"}
			srv.Push(tt.behavior)
			cfg := srv.Provider("fake")
			if tt.wrongKey {
				cfg.APIKey = "sk-wrong"
			}
			if tt.model != "" {
				cfg.Model = tt.model
			}
			_, err := llm.NewOpenAI(cfg).Stream(context.Background(), hello)
			var e *llm.Error
			if !errors.As(err, &e) || e.Kind != tt.wantKind || e.Retryable() != tt.wantRetry || llm.Retryable(err) != tt.wantRetry {
				t.Fatalf("error = %v, want kind %s, retryable %v", err, tt.wantKind, tt.wantRetry)
			}
			if !strings.Contains(err.Error(), tt.wantIn) || !strings.Contains(err.Error(), "fake") {
				t.Fatalf("error %q does not say %q and the provider", err, tt.wantIn)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name      string
		behavior  llmtest.Behavior
		firstTok  time.Duration
		total     time.Duration
		wantErr   bool // Stream fails (before the first token)
		wantInErr string
	}{
		{name: "no first token in time", behavior: llmtest.Behavior{Stall: time.Minute}, firstTok: 100 * time.Millisecond, total: time.Minute, wantErr: true, wantInErr: "no first token within 100ms"},
		{name: "reply not finished in time", behavior: llmtest.Behavior{Tokens: []string{"a", "b", "c"}, TokenDelay: 150 * time.Millisecond}, firstTok: time.Second, total: 250 * time.Millisecond, wantInErr: "reply not finished within 250ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, key)
			srv.Push(tt.behavior)
			cfg := srv.Provider("fake")
			cfg.FirstTokenTimeout, cfg.Timeout = tt.firstTok, tt.total
			st, err := llm.NewOpenAI(cfg).Stream(context.Background(), hello)
			var e *llm.Error
			if tt.wantErr {
				if !errors.As(err, &e) || e.Kind != llm.KindTimeout || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tt.wantInErr) {
					t.Fatalf("Stream error = %v, want a timeout saying %q", err, tt.wantInErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Stream: %v", err)
				}
				deltas, f := read(t, st)
				if !f.CutShort || !errors.As(f.Err, &e) || e.Kind != llm.KindTimeout || !strings.Contains(f.Err.Error(), tt.wantInErr) || len(deltas) == 0 {
					t.Fatalf("deltas %q, Final %+v: want some text, then cut short by a timeout", deltas, f)
				}
			}
			if !srv.LastRequest().WaitClientGone(5 * time.Second) {
				t.Fatal("the fake did not see the request end")
			}
		})
	}
}

// TestCancel checks that cancelling the context, or closing the stream,
// ends the upstream request at once, before and after the first token.
func TestCancel(t *testing.T) {
	tests := []struct {
		name     string
		behavior llmtest.Behavior
		how      string // cancel-before, cancel-after, close
	}{
		{"cancel while waiting for the first token", llmtest.Behavior{Stall: time.Minute}, "cancel-before"},
		// The first token comes at once, the second only after a minute.
		{"cancel mid-stream", llmtest.Behavior{Tokens: []string{"a", "b"}, Stall: time.Minute, StallAfter: 1}, "cancel-after"},
		{"close mid-stream", llmtest.Behavior{Tokens: []string{"a", "b"}, Stall: time.Minute, StallAfter: 1}, "close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, key)
			srv.Push(tt.behavior)
			cfg := srv.Provider("fake")
			cfg.FirstTokenTimeout, cfg.Timeout = time.Minute, time.Hour
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := llm.NewOpenAI(cfg)
			if tt.how == "cancel-before" {
				time.AfterFunc(50*time.Millisecond, cancel)
				_, err := p.Stream(ctx, hello)
				var e *llm.Error
				if !errors.As(err, &e) || e.Kind != llm.KindCanceled || llm.Retryable(err) || !errors.Is(err, context.Canceled) {
					t.Fatalf("Stream error = %v, want canceled", err)
				}
			} else {
				st, err := p.Stream(ctx, hello)
				if err != nil {
					t.Fatalf("Stream: %v", err)
				}
				if ev, _ := st.Recv(); ev.Delta != "a" {
					t.Fatalf("first event = %+v", ev)
				}
				if tt.how == "close" {
					st.Close()
				} else {
					cancel()
					ev, err := st.Recv()
					var e *llm.Error
					if err != nil || ev.Final == nil || !ev.Final.CutShort || !errors.As(ev.Final.Err, &e) || e.Kind != llm.KindCanceled {
						t.Fatalf("after cancel: %+v, %v; want a cut-short Final", ev, err)
					}
				}
			}
			if !srv.LastRequest().WaitClientGone(5 * time.Second) {
				t.Fatal("the fake did not see the client leave")
			}
		})
	}
}

func TestRequestValidation(t *testing.T) {
	tests := []struct {
		name string
		req  llm.Request
	}{
		{"no messages", llm.Request{}},
		{"unknown role", llm.Request{Messages: []llm.Message{{Role: "tool", Content: "x"}}}},
		{"negative max tokens", llm.Request{MaxTokens: -1, Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}}},
	}
	srv := llmtest.NewServer(t, key)
	chain := llm.NewChain([]llm.Provider{llm.NewOpenAI(srv.Provider("fake"))}, nil, zap.NewNop())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := chain.Stream(context.Background(), tt.req); err == nil || llm.Retryable(err) {
				t.Fatalf("Stream error = %v, want a non-retryable one", err)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d invalid requests reached the vendor", n)
	}
}

// The fake's recorded requests are what chat tests assert on.
func TestFakeChecksLikeVendor(t *testing.T) {
	srv := llmtest.NewServer(t, key)
	cfg := srv.Provider("fake")
	cfg.Model = ""
	_, err := llm.NewOpenAI(cfg).Stream(context.Background(), hello)
	var e *llm.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Code != "MissingParameter" {
		t.Fatalf("model-less request: %v, want 400 MissingParameter", err)
	}
	cfg.APIKey = ""
	cfg.Model = "m"
	_, err = llm.NewOpenAI(cfg).Stream(context.Background(), hello)
	if !errors.As(err, &e) || e.Kind != llm.KindAuth || srv.LastRequest().Authorization {
		t.Fatalf("keyless request: %v, want 401", err)
	}
}

// TestStaleConnection: a provider (or its load balancer) closes a pooled
// keep-alive connection while it sits idle; the next request on it fails
// before any response and is sent once more (here on a new connection). A
// request that fails on a new connection is not.
func TestStaleConnection(t *testing.T) {
	tests := []struct {
		name string
		// dropNth: the handler closes the connection, unanswered, on its
		// nth request (1-based).
		dropNth      int
		wantErr      bool
		wantRequests int64
	}{
		{name: "reused connection closed: retried", dropNth: 2, wantRequests: 3},
		{name: "new connection closed: not retried", dropNth: 1, wantErr: true, wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int64
			var mu sync.Mutex
			perConn := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				mu.Lock()
				perConn[r.RemoteAddr]++
				nth := perConn[r.RemoteAddr]
				mu.Unlock()
				if nth == tt.dropNth {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						conn.Close()
					}
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
			}))
			defer srv.Close()
			p := llm.NewOpenAI(config.LLMProvider{Name: "stale", BaseURL: srv.URL, Model: "m",
				FirstTokenTimeout: 5 * time.Second, Timeout: 10 * time.Second})
			var err error
			for range 2 {
				var st llm.Stream
				if st, err = p.Stream(context.Background(), hello); err != nil {
					break
				}
				if deltas, _ := read(t, st); strings.Join(deltas, "") != "hi" {
					t.Fatalf("deltas %q, want hi", deltas)
				}
				if tt.dropNth == 1 {
					t.Fatal("the first request succeeded on a connection the server closed")
				}
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if got := requests.Load(); got != tt.wantRequests {
				t.Errorf("server saw %d requests, want %d", got, tt.wantRequests)
			}
		})
	}
}
