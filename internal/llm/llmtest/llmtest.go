// Package llmtest is a fake OpenAI-compatible chat completions server for
// tests: it checks requests the way Volcengine Ark and DashScope's
// compatible mode do (Bearer key, model, messages), streams server-sent
// events exactly like them (docs/vendors.md §6c: a role chunk, content
// chunks, the finish reason on the last one, a usage chunk with empty
// choices when stream_options.include_usage is set, then data: [DONE]),
// records every request, and can be told to fail, stall, pace, cut or
// break its replies. Other packages' tests (chat) use it through
// Server.Provider and llm.New.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"paradise/internal/config"
)

// DefaultTokens is the reply streamed when a Behavior names none.
var DefaultTokens = []string{"Hello", " from", " the", " fake", " model", "."}

// Usage is the usage chunk's counts.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Behavior is how the server answers one request. The zero value streams
// DefaultTokens at once and finishes with "stop".
type Behavior struct {
	// Status, when set, fails the request with this HTTP status and an
	// OpenAI-style error body ({"error":{code,message,type}}) before any
	// streaming. ErrorCode and ErrorMessage fill the body (defaults by
	// status).
	Status       int
	ErrorCode    string
	ErrorMessage string
	// EchoAuthorization puts the request's Authorization header into the
	// error message (of Status, of a failed key check, and of ErrorMid),
	// as careless servers do: the client must not pass it on.
	EchoAuthorization bool
	// Stall, after the headers and the role chunk are sent, waits this
	// long (or until the client leaves) before token StallAfter (default
	// 0: before the first token).
	Stall      time.Duration
	StallAfter int
	// Tokens is the reply, one content chunk each.
	Tokens []string
	// TokenDelay is the pause before each token.
	TokenDelay time.Duration
	// Cut aborts the connection after CutAfter tokens: no finish reason,
	// no usage, no [DONE].
	Cut      bool
	CutAfter int
	// ErrorMid sends an error chunk (data: {"error":{...}}) after
	// ErrorAfter tokens and ends the stream.
	ErrorMid   bool
	ErrorAfter int
	// FinishReason is sent on the last token's chunk (default "stop").
	FinishReason string
	// Usage overrides the usage chunk (default: prompt tokens = runes of
	// all messages, completion tokens = tokens sent).
	Usage *Usage
	// Raw, when set, is written verbatim as the text/event-stream body
	// (after the request checks), for parser edge cases; with Status, it
	// is the error body.
	Raw string
	// RawContentType overrides Raw's Content-Type.
	RawContentType string
}

// Message is one recorded message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is one request the server received.
type Request struct {
	Model         string
	Messages      []Message
	Stream        bool
	IncludeUsage  bool
	MaxTokens     int
	Temperature   *float64
	Authorization bool // the Bearer key was present and right

	done chan struct{} // closed when the handler returned
	gone chan struct{} // closed when the client left before the reply ended
}

// Done is closed when the server finished with the request.
func (r *Request) Done() <-chan struct{} { return r.done }

// ClientGone is closed when the request's context ended (the client
// disconnected or cancelled) before the server finished the reply.
func (r *Request) ClientGone() <-chan struct{} { return r.gone }

// WaitClientGone reports whether the client left within d.
func (r *Request) WaitClientGone(d time.Duration) bool {
	select {
	case <-r.gone:
		return true
	case <-time.After(d):
		return false
	}
}

// Server is the fake. Its zero Behavior queue answers every request with
// the default Behavior.
type Server struct {
	// URL is the base URL (ending in /v1); requests go to URL + "/chat/completions".
	URL string
	// Key is the API key the server accepts.
	Key string
	// Models, when set, are the only model names accepted (others: 404).
	Models []string

	srv      *httptest.Server
	mu       sync.Mutex
	script   []Behavior
	fallback Behavior
	requests []*Request
}

// NewServer starts a fake accepting key; it stops when the test ends.
func NewServer(t testing.TB, key string) *Server {
	t.Helper()
	s := &Server{Key: key}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/v1"
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, cutting open streams.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Provider is a configuration pointing at this server under name, with
// the key, model "fake-model" and short timeouts (1s to the first token,
// 10s in all); change what a test needs.
func (s *Server) Provider(name string) config.LLMProvider {
	return config.LLMProvider{Name: name, BaseURL: s.URL, APIKey: s.Key, Model: "fake-model",
		FirstTokenTimeout: time.Second, Timeout: 10 * time.Second}
}

// Push queues behaviours for the next requests, one each, in order.
func (s *Server) Push(b ...Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, b...)
}

// SetDefault sets the behaviour of requests when the queue is empty.
func (s *Server) SetDefault(b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = b
}

// Requests are the requests received so far, in order (also those that
// failed the checks).
func (s *Server) Requests() []*Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Request(nil), s.requests...)
}

// LastRequest is the latest request, or nil.
func (s *Server) LastRequest() *Request {
	rs := s.Requests()
	if len(rs) == 0 {
		return nil
	}
	return rs[len(rs)-1]
}

func (s *Server) next() Behavior {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) > 0 {
		b := s.script[0]
		s.script = s.script[1:]
		return b
	}
	return s.fallback
}

// wire shapes of the request

type wireRequest struct {
	Model         string    `json:"model"`
	Messages      []Message `json:"messages"`
	Stream        bool      `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens   int      `json:"max_tokens"`
	Temperature *float64 `json:"temperature"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := &Request{done: make(chan struct{}), gone: make(chan struct{})}
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	defer close(rec.done)
	b := s.next()

	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		writeError(w, http.StatusNotFound, "NotFound", "no such endpoint: "+r.Method+" "+r.URL.Path, "")
		return
	}
	auth := r.Header.Get("Authorization")
	rec.Authorization = auth == "Bearer "+s.Key
	echo := ""
	if b.EchoAuthorization {
		echo = " (Authorization: " + auth + ")"
	}
	if !rec.Authorization {
		writeError(w, http.StatusUnauthorized, "AuthenticationError", "The API key in the request is missing or invalid."+echo, "Unauthorized")
		return
	}
	var req wireRequest
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeError(w, http.StatusBadRequest, "InvalidParameter", "Content-Type must be application/json", "BadRequest")
		return
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidParameter", "The request body is not valid JSON: "+err.Error(), "BadRequest")
		return
	}
	rec.Model, rec.Messages, rec.Stream = req.Model, req.Messages, req.Stream
	rec.IncludeUsage = req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	rec.MaxTokens, rec.Temperature = req.MaxTokens, req.Temperature
	if msg := s.check(req); msg != "" {
		status, code := http.StatusBadRequest, "MissingParameter"
		if strings.HasPrefix(msg, "model ") {
			status, code = http.StatusNotFound, "InvalidEndpointOrModel.NotFound"
		}
		writeError(w, status, code, msg, "BadRequest")
		return
	}
	if b.Status != 0 && b.Raw != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(b.Status)
		_, _ = io.WriteString(w, b.Raw)
		return
	}
	if b.Status != 0 {
		code, msg := b.ErrorCode, b.ErrorMessage
		if code == "" {
			code = defaultCode(b.Status)
		}
		if msg == "" {
			msg = http.StatusText(b.Status)
		}
		writeError(w, b.Status, code, msg+echo, "")
		return
	}
	if b.Raw != "" {
		ct := b.RawContentType
		if ct == "" {
			ct = "text/event-stream"
		}
		w.Header().Set("Content-Type", ct)
		_, _ = io.WriteString(w, b.Raw)
		return
	}
	if !req.Stream {
		s.complete(w, req, b)
		return
	}
	s.stream(w, r, rec, req, b, echo)
}

// check validates the request as the vendors do; "" means fine.
func (s *Server) check(req wireRequest) string {
	if req.Model == "" {
		return "The parameter `model` is required."
	}
	if len(s.Models) > 0 {
		found := false
		for _, m := range s.Models {
			found = found || m == req.Model
		}
		if !found {
			return "model " + req.Model + " does not exist or you do not have access to it."
		}
	}
	if len(req.Messages) == 0 {
		return "The parameter `messages` must not be empty."
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "user", "assistant", "tool":
		default:
			return fmt.Sprintf("messages[%d].role %q is not supported.", i, m.Role)
		}
	}
	return ""
}

func defaultCode(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "RateLimitExceeded.EndpointRPMExceeded"
	case status >= 500:
		return "InternalServiceError"
	case status == http.StatusUnauthorized:
		return "AuthenticationError"
	}
	return "InvalidParameter"
}

func writeError(w http.ResponseWriter, status int, code, message, typ string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": code, "message": message, "param": "", "type": typ, "request_id": "fake-request-id"}})
}

// chunk shapes, in the vendors' field order

type delta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content"`
}

type choice struct {
	Index        int     `json:"index"`
	Delta        delta   `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

type chunk struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	Usage   *Usage   `json:"usage"`
}

func (b Behavior) tokens() []string {
	if b.Tokens != nil {
		return b.Tokens
	}
	return DefaultTokens
}

func (b Behavior) usage(req wireRequest, completion int) Usage {
	if b.Usage != nil {
		return *b.Usage
	}
	prompt := 0
	for _, m := range req.Messages {
		prompt += utf8.RuneCountInString(m.Content)
	}
	return Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, rec *Request, req wireRequest, b Behavior, echo string) {
	flusher := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(v any) {
		data, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", data)
		flusher.Flush()
	}
	// wait pauses d; false means the client left.
	wait := func(d time.Duration) bool {
		if d <= 0 {
			select {
			case <-r.Context().Done():
				close(rec.gone)
				return false
			default:
				return true
			}
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-r.Context().Done():
			close(rec.gone)
			return false
		}
	}
	base := chunk{ID: "fake-1", Object: "chat.completion.chunk", Created: 1704355200, Model: req.Model}
	c := base
	c.Choices = []choice{{Delta: delta{Role: "assistant"}}}
	send(c)
	tokens := b.tokens()
	finish := b.FinishReason
	if finish == "" {
		finish = "stop"
	}
	for i, tok := range tokens {
		if b.Cut && i == b.CutAfter {
			panic(http.ErrAbortHandler) // drops the connection mid-response
		}
		if b.ErrorMid && i == b.ErrorAfter {
			send(map[string]any{"error": map[string]any{"code": "InternalServiceError",
				"message": "The service encountered an unexpected internal error." + echo, "type": "InternalServerError"}})
			return
		}
		if i == b.StallAfter && !wait(b.Stall) {
			return
		}
		if !wait(b.TokenDelay) {
			return
		}
		c := base
		c.Choices = []choice{{Delta: delta{Content: tok}}}
		if i == len(tokens)-1 {
			c.Choices[0].FinishReason = &finish
		}
		send(c)
	}
	if b.Cut && b.CutAfter >= len(tokens) {
		panic(http.ErrAbortHandler)
	}
	if b.ErrorMid && b.ErrorAfter >= len(tokens) {
		send(map[string]any{"error": map[string]any{"code": "InternalServiceError", "message": "late error" + echo}})
		return
	}
	if len(tokens) == 0 {
		c := base
		c.Choices = []choice{{Delta: delta{}, FinishReason: &finish}}
		send(c)
	}
	if rec.IncludeUsage {
		u := b.usage(req, len(tokens))
		c := base
		c.Choices = []choice{}
		c.Usage = &u
		send(c)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	flusher.Flush()
}

// complete answers "stream": false with a whole completion.
func (s *Server) complete(w http.ResponseWriter, req wireRequest, b Behavior) {
	tokens := b.tokens()
	finish := b.FinishReason
	if finish == "" {
		finish = "stop"
	}
	u := b.usage(req, len(tokens))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "fake-1", "object": "chat.completion", "created": 1704355200, "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": strings.Join(tokens, "")}, "finish_reason": finish}},
		"usage":   u,
	})
}
