package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strings"
	"sync"
	"time"

	"paradise/internal/config"
)

// OpenAI is one OpenAI-compatible chat completions provider: POST
// {base}/chat/completions with "stream": true, read as server-sent events.
// Ark, DashScope's compatible mode, DeepSeek, OpenAI, Ollama and vLLM all
// speak it.
type OpenAI struct {
	name              string
	url               string
	key               string
	model             string
	firstTokenTimeout time.Duration
	timeout           time.Duration
	http              *http.Client
}

// NewOpenAI returns the provider p describes, with its own connection
// pool.
func NewOpenAI(p config.LLMProvider) *OpenAI {
	transport := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// The dial is bounded again by the first-token timeout; this only
		// keeps one hung dial from using all of it on a slow DNS answer.
		DialContext:       (&net.Dialer{Timeout: p.FirstTokenTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2: true,
		// Over HTTP/1.1 (a local server, a fake) every concurrent stream
		// is a connection of its own; a small idle pool made most chats
		// dial again under load, so keep as many as are in use.
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     30 * time.Second,
		// A stream is read one chunk of a few hundred bytes at a time and
		// a request is written once: the default 4 KiB buffers each way
		// were a sixth of a stream's memory.
		ReadBufferSize:        1 << 10,
		WriteBufferSize:       1 << 10,
		TLSHandshakeTimeout:   p.FirstTokenTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &OpenAI{
		name:              p.Name,
		url:               strings.TrimRight(p.BaseURL, "/") + "/chat/completions",
		key:               p.APIKey,
		model:             p.Model,
		firstTokenTimeout: p.FirstTokenTimeout,
		timeout:           p.Timeout,
		// No client timeout: the stream's context carries both timeouts,
		// and a client timeout would cut long replies mid-stream.
		http: &http.Client{Transport: transport},
	}
}

// Name is the provider's configured name.
func (o *OpenAI) Name() string { return o.name }

// Model is the provider's configured model.
func (o *OpenAI) Model() string { return o.model }

// Causes of the stream context's cancellation, told apart afterwards.
var (
	errFirstTokenTimeout = errors.New("first-token timeout")
	errTimeout           = errors.New("overall timeout")
	errClosed            = errors.New("stream closed")
)

// wire types of the OpenAI chat completions API

type wireMessage struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

type wireStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type wireRequest struct {
	Model         string             `json:"model"`
	Messages      []wireMessage      `json:"messages"`
	Stream        bool               `json:"stream"`
	StreamOptions *wireStreamOptions `json:"stream_options,omitempty"`
	MaxTokens     int                `json:"max_tokens,omitempty"`
	Temperature   *float64           `json:"temperature,omitempty"`
}

type wireUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type wireText struct {
	Content          string `json:"content"`
	ReasoningContent string `json:"reasoning_content"`
}

type wireChoice struct {
	Index        int       `json:"index"`
	Delta        *wireText `json:"delta"`
	Message      *wireText `json:"message"`
	FinishReason *string   `json:"finish_reason"`
}

// wireChunk is a stream chunk, a non-streamed completion, or an error
// body: the vendors use one shape for all three.
type wireChunk struct {
	Model   string          `json:"model"`
	Choices []wireChoice    `json:"choices"`
	Usage   *wireUsage      `json:"usage"`
	Error   json.RawMessage `json:"error"`
	// DashScope's native API (and some gateways) put code and message at
	// the top level instead of under "error".
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
}

type wireError struct {
	Code    json.RawMessage `json:"code"`
	Type    string          `json:"type"`
	Message string          `json:"message"`
}

// Stream sends req and returns when the first token arrived, the reply
// ended without text, or the provider failed (a *Error).
func (o *OpenAI) Stream(ctx context.Context, req Request) (Stream, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	body, err := json.Marshal(o.wireRequest(req))
	if err != nil {
		return nil, fmt.Errorf("llm: %s: encode request: %w", o.name, err)
	}
	sctx, cancel := context.WithCancelCause(ctx)
	s := &openaiStream{
		p: o, parent: ctx, ctx: sctx, cancel: cancel, start: start, promptTokens: estimatePrompt(req), model: o.modelFor(req),
		firstTimer: time.AfterFunc(o.firstTokenTimeout, func() { cancel(errFirstTokenTimeout) }),
		totalTimer: time.AfterFunc(o.timeout, func() { cancel(errTimeout) }),
	}
	resp, err := o.post(sctx, body)
	if err != nil {
		e := s.transportError(err)
		s.Close()
		return nil, e
	}
	s.body = resp.Body
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := o.statusError(resp)
		s.Close()
		return nil, e
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType == "application/json" {
		// A server that ignored "stream": true answered with the whole
		// completion; hand it out as one delta.
		err = s.readWhole()
	} else {
		s.sse = newSSEReader(resp.Body)
		err = s.readFirst()
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// post sends the request body. A request that failed on a pooled
// keep-alive connection, before any response, is sent once more: the
// provider (or a load balancer in front of it) closed that connection
// while it sat idle, and the transport replays a POST on its own only
// when it knows nothing was written. Nothing was answered, so nothing was
// streamed, and the one retry stays within the first-token timeout of ctx.
func (o *OpenAI) post(ctx context.Context, body []byte) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		var reused bool
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
		hr, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, o.url, &releasingReader{b: body})
		if err != nil {
			return nil, fmt.Errorf("llm: %s: %w", o.name, err)
		}
		// The transport keeps the request for as long as the reply
		// streams: the reader lets go of the history it carries once
		// sent (body itself lives only until Stream returns).
		hr.ContentLength = int64(len(body))
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("Accept", "text/event-stream")
		if o.key != "" {
			hr.Header.Set("Authorization", "Bearer "+o.key)
		}
		resp, err := o.http.Do(hr)
		if err == nil || !reused || attempt > 0 || ctx.Err() != nil {
			return resp, err
		}
	}
}

func (o *OpenAI) modelFor(req Request) string {
	if req.Model != "" {
		return req.Model
	}
	return o.model
}

func (o *OpenAI) wireRequest(req Request) wireRequest {
	w := wireRequest{
		Model:         o.modelFor(req),
		Messages:      make([]wireMessage, len(req.Messages)),
		Stream:        true,
		StreamOptions: &wireStreamOptions{IncludeUsage: true},
		MaxTokens:     req.MaxTokens,
		Temperature:   req.Temperature,
	}
	for i, m := range req.Messages {
		w.Messages[i] = wireMessage(m)
	}
	return w
}

// statusError reads a non-2xx answer's error body. 429 and 5xx are worth
// another provider; 401/403 mean a wrong key, other 4xx a wrong request
// or model.
func (o *OpenAI) statusError(resp *http.Response) *Error {
	e := &Error{Provider: o.name, Status: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
	case resp.StatusCode >= 500:
		e.Kind = KindServer
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		e.Kind = KindAuth
	default:
		e.Kind = KindRequest
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var c wireChunk
	if json.Unmarshal(raw, &c) == nil {
		e.Code, e.Message = o.vendorError(c)
	}
	return e
}

// vendorError extracts code and message from an error body or chunk,
// with anything that looks like the key removed: some servers echo the
// request's Authorization header in their messages.
func (o *OpenAI) vendorError(c wireChunk) (code, message string) {
	switch {
	case len(c.Error) > 0 && c.Error[0] == '{':
		var we wireError
		if json.Unmarshal(c.Error, &we) == nil {
			code, message = jsonScalar(we.Code), we.Message
			if code == "" {
				code = we.Type
			}
		}
	case len(c.Error) > 0 && c.Error[0] == '"':
		_ = json.Unmarshal(c.Error, &message) // Ollama: {"error": "model not found"}
	default:
		code, message = jsonScalar(c.Code), c.Message
	}
	return o.redact(truncate(code, 100)), o.redact(truncate(message, 500))
}

// bearer matches a bearer credential quoted in a vendor's message.
var bearer = regexp.MustCompile(`(?i)(bearer\s+)\S+`)

func (o *OpenAI) redact(s string) string {
	if o.key != "" {
		s = strings.ReplaceAll(s, o.key, "[redacted]")
	}
	return bearer.ReplaceAllString(s, "${1}[redacted]")
}

func jsonScalar(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw) // a number
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]>>6 == 2 { // not inside a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}

// openaiStream is one reply being read. Recv reads the body directly (no
// goroutine): cancelling its context makes the pending read fail at once
// and closes the connection, which is what stops the vendor generating.
type openaiStream struct {
	p          *OpenAI
	parent     context.Context
	ctx        context.Context
	cancel     context.CancelCauseFunc
	firstTimer *time.Timer
	totalTimer *time.Timer
	body       io.ReadCloser
	sse        *sseReader
	start      time.Time
	// promptTokens is the request's estimated prompt size, for a reply
	// whose usage the provider does not report; the request itself is
	// not kept while the reply streams.
	promptTokens int

	queue   []string // deltas read but not yet handed out
	text    strings.Builder
	first   time.Duration // time to the first token; 0 until then
	model   string
	finish  string
	usage   *wireUsage
	ended   bool // the provider finished the reply
	final   bool // the Final event was handed out
	closing sync.Once
}

// readFirst reads until the first text delta, or the end of a reply with
// none. Until it returns nothing was handed to the caller, so any error
// leaves the chain free to try another provider.
func (s *openaiStream) readFirst() error {
	for {
		delta, err := s.readEvent()
		if err != nil {
			return err
		}
		if delta != "" {
			s.queue = append(s.queue, delta)
			return nil
		}
		if s.ended {
			return nil
		}
	}
}

// readEvent reads one event and returns its text, if any.
func (s *openaiStream) readEvent() (string, error) {
	data, err := s.sse.Next()
	if errors.Is(err, io.EOF) {
		if s.finish != "" || s.usage != nil {
			// Tolerated: everything but the sentinel arrived.
			s.ended = true
			return "", nil
		}
		return "", &Error{Provider: s.p.name, Kind: KindServer, Message: "stream ended before [DONE]"}
	}
	if errors.Is(err, errSSELineTooLong) {
		return "", &Error{Provider: s.p.name, Kind: KindServer, Message: err.Error()}
	}
	if err != nil {
		return "", s.transportError(err)
	}
	if data == doneSentinel {
		s.ended = true
		return "", nil
	}
	var c wireChunk
	if err := decodeChunk([]byte(data), &c); err != nil {
		return "", &Error{Provider: s.p.name, Kind: KindServer, Message: "malformed chunk: " + truncate(s.p.redact(data), 200)}
	}
	return s.take(c)
}

// take records a chunk (or whole completion) and returns its text.
func (s *openaiStream) take(c wireChunk) (string, error) {
	if len(c.Error) > 0 && string(c.Error) != "null" {
		code, msg := s.p.vendorError(c)
		return "", &Error{Provider: s.p.name, Kind: KindServer, Code: code, Message: msg}
	}
	if c.Model != "" {
		s.model = c.Model
	}
	if c.Usage != nil {
		s.usage = c.Usage
	}
	var delta strings.Builder
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue // n is never set, but a server may still number choices
		}
		t := ch.Delta
		if t == nil {
			t = ch.Message
		}
		if t != nil {
			delta.WriteString(t.Content)
			if t.ReasoningContent != "" {
				// A reasoning model thinking is alive; its thoughts are not
				// the reply and are not handed out.
				s.firstTimer.Stop()
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.finish = *ch.FinishReason
		}
	}
	if delta.Len() > 0 {
		if s.first == 0 {
			s.first = time.Since(s.start)
			s.firstTimer.Stop()
		}
		s.text.WriteString(delta.String())
	}
	return delta.String(), nil
}

// readWhole reads a non-streamed completion.
func (s *openaiStream) readWhole() error {
	raw, err := io.ReadAll(io.LimitReader(s.body, 4<<20))
	if err != nil {
		return s.transportError(err)
	}
	var c wireChunk
	if err := json.Unmarshal(raw, &c); err != nil {
		return &Error{Provider: s.p.name, Kind: KindServer, Message: "malformed completion"}
	}
	delta, err := s.take(c)
	if err != nil {
		return err
	}
	if delta != "" {
		s.queue = append(s.queue, delta)
	}
	s.ended = true
	return nil
}

// transportError classifies a failed request or read by what cancelled
// its context, if anything did.
func (s *openaiStream) transportError(err error) *Error {
	e := &Error{Provider: s.p.name, Kind: KindConnect, Err: err}
	if s.parent.Err() != nil {
		e.Kind, e.Err = KindCanceled, context.Cause(s.parent)
		return e
	}
	switch context.Cause(s.ctx) {
	case errFirstTokenTimeout:
		e.Kind, e.Err, e.Message = KindTimeout, context.DeadlineExceeded, fmt.Sprintf("no first token within %s", s.p.firstTokenTimeout)
	case errTimeout:
		e.Kind, e.Err, e.Message = KindTimeout, context.DeadlineExceeded, fmt.Sprintf("reply not finished within %s", s.p.timeout)
	case errClosed:
		e.Kind, e.Err = KindCanceled, context.Canceled
	}
	return e
}

// Recv hands out the queued delta, then reads on.
func (s *openaiStream) Recv() (Event, error) {
	if s.final {
		return Event{}, io.EOF
	}
	if len(s.queue) > 0 {
		d := s.queue[0]
		s.queue = s.queue[1:]
		return Event{Delta: d}, nil
	}
	for !s.ended {
		delta, err := s.readEvent()
		if err != nil {
			return s.end(err), nil
		}
		if delta != "" {
			return Event{Delta: delta}, nil
		}
	}
	return s.end(nil), nil
}

// end builds the Final event and releases the connection.
func (s *openaiStream) end(err error) Event {
	s.final = true
	f := &Final{
		FinishReason:     s.finish,
		Provider:         s.p.name,
		Model:            s.model,
		Latency:          time.Since(s.start),
		TimeToFirstToken: s.first,
	}
	if err != nil {
		f.CutShort, f.Err, f.FinishReason = true, err, FinishCutShort
	} else if f.FinishReason == "" {
		f.FinishReason = "stop"
	}
	if s.usage != nil && err == nil {
		f.Usage = Usage{PromptTokens: s.usage.PromptTokens, CompletionTokens: s.usage.CompletionTokens, TotalTokens: s.usage.TotalTokens}
	} else {
		f.Usage = estimate(s.promptTokens, s.text.String())
	}
	if err == nil && s.body != nil {
		// Read the little that may follow [DONE] so the connection can be
		// reused.
		_, _ = io.CopyN(io.Discard, s.body, 4<<10)
	}
	s.Close()
	return Event{Final: f}
}

func estimate(promptTokens int, reply string) Usage {
	u := Usage{PromptTokens: promptTokens, CompletionTokens: estimateTokens(reply), Estimated: true}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// releasingReader reads a request body once and drops its reference to
// the bytes at the end.
type releasingReader struct{ b []byte }

func (r *releasingReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		r.b = nil
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	if len(r.b) == 0 {
		r.b = nil
	}
	return n, nil
}

// Close aborts the request if it still runs and frees the connection.
func (s *openaiStream) Close() error {
	s.closing.Do(func() {
		s.firstTimer.Stop()
		s.totalTimer.Stop()
		s.cancel(errClosed)
		if s.body != nil {
			s.body.Close()
		}
	})
	return nil
}
