package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The fake upstream: an OpenAI-compatible chat completions server in this
// process, streaming exactly the chunks internal/llm/llmtest streams (and
// the vendors, docs/vendors.md §6c): a role chunk, one content chunk per
// token with the finish reason on the last, a usage chunk with empty
// choices (stream_options.include_usage), then data: [DONE]. llmtest
// itself is built for tests (it takes a testing.TB and keeps every request
// for the test to inspect), so the load tool has this small one, which
// records only two instants per request.

// fakeKey is the API key the fake accepts and the server is given.
const fakeKey = "chatload-fake-key"

// fakeModel is the model name the server is configured with.
const fakeModel = "chatload-fake-model"

// clock is the one monotonic clock of the run: nanoseconds since the tool
// started. The client and the fake read it in the same process, so their
// instants compare directly.
var clockBase = time.Now()

func clock() int64 { return int64(time.Since(clockBase)) }

// streamRec is one chat stream: filled by the client and by the fake.
type streamRec struct {
	seq    int64
	worker int

	// client side (written and read by the stream's worker only)
	sent         int64 // just before the request was written
	firstDelta   int64 // the first delta event was parsed
	end          int64 // the stream ended (done, error or failure)
	measured     bool  // sent inside the measured window
	outcome      outcome
	detail       string
	deltas       int
	gotTokens    int // completion_tokens of the done event
	finish       string
	conversation int

	// fake side (atomics: written by the fake's handler, read by the
	// worker after the stream ended)
	upstreamRecv  atomic.Int64 // the fake's handler started on the request
	upstreamFirst atomic.Int64 // the first content chunk was written and flushed
	upstreamCount atomic.Int32 // requests the fake received for this stream (failover retries would show here)
}

// registry maps the sequence number in a chat message to its stream.
type registry struct {
	mu   sync.Mutex
	recs map[int64]*streamRec
}

func (r *registry) add(rec *streamRec) {
	r.mu.Lock()
	r.recs[rec.seq] = rec
	r.mu.Unlock()
}

func (r *registry) remove(seq int64) {
	r.mu.Lock()
	delete(r.recs, seq)
	r.mu.Unlock()
}

func (r *registry) get(seq int64) *streamRec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recs[seq]
}

// messagePrefix starts every chat message; the sequence number follows.
const messagePrefix = "chatload #"

// chatMessage is the text the client sends for stream seq.
func chatMessage(seq int64) string {
	return messagePrefix + strconv.FormatInt(seq, 10) + ": tell me about your day."
}

// streamTag returns the sequence number in a chat message, or false.
func streamTag(text string) (int64, bool) {
	rest, ok := strings.CutPrefix(text, messagePrefix)
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// replyTokens is the reply of n tokens: " w0", " w1", ... (a leading
// space, as BPE tokens of English words have).
func replyTokens(n int) []string {
	t := make([]string, n)
	for i := range t {
		t[i] = " w" + strconv.Itoa(i)
	}
	return t
}

type fake struct {
	tokens     []string
	chunks     [][]byte // pre-encoded "data: {...}\n\n" per token
	tokenDelay time.Duration
	reg        *registry

	srv *http.Server
	url string // base URL, ending in /v1

	unmatched atomic.Int64 // requests whose last user message named no known stream
	rejected  atomic.Int64 // requests refused (bad path, key, body)
	cut       atomic.Int64 // streams whose client left before the end
	active    atomic.Int64 // streams being served now
}

type fakeDelta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content"`
}

type fakeChoice struct {
	Index        int       `json:"index"`
	Delta        fakeDelta `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
}

type fakeUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type fakeChunk struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []fakeChoice `json:"choices"`
	Usage   *fakeUsage   `json:"usage"`
}

func encodeChunk(c fakeChunk) []byte {
	b, _ := json.Marshal(c)
	return []byte("data: " + string(b) + "\n\n")
}

// startFake listens on a free loopback port and serves until close.
func startFake(tokens []string, tokenDelay time.Duration, reg *registry) (*fake, error) {
	f := &fake{tokens: tokens, tokenDelay: tokenDelay, reg: reg}
	stop := "stop"
	for i, tok := range tokens {
		c := fakeChunk{ID: "chatcmpl-chatload", Object: "chat.completion.chunk", Created: 1704355200, Model: fakeModel,
			Choices: []fakeChoice{{Delta: fakeDelta{Content: tok}}}}
		if i == len(tokens)-1 {
			c.Choices[0].FinishReason = &stop
		}
		f.chunks = append(f.chunks, encodeChunk(c))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.url = "http://" + ln.Addr().String() + "/v1"
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *fake) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		_ = f.srv.Close()
	}
}

type fakeRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (f *fake) reject(w http.ResponseWriter, status int, code, msg string) {
	f.rejected.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "type": "BadRequest"}})
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	recv := clock()
	f.active.Add(1)
	defer f.active.Add(-1)
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		f.reject(w, http.StatusNotFound, "NotFound", "no such endpoint")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+fakeKey {
		f.reject(w, http.StatusUnauthorized, "AuthenticationError", "The API key in the request is missing or invalid.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	var req fakeRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || req.Model == "" || len(req.Messages) == 0 || !req.Stream {
		f.reject(w, http.StatusBadRequest, "InvalidParameter", "want a streamed request with model and messages")
		return
	}
	var rec *streamRec
	prompt := 0
	for _, m := range req.Messages {
		prompt += len(m.Content) / 4
	}
	last := req.Messages[len(req.Messages)-1]
	if seq, ok := streamTag(last.Content); ok && last.Role == "user" {
		rec = f.reg.get(seq)
	}
	if rec == nil {
		f.unmatched.Add(1)
	} else {
		rec.upstreamCount.Add(1)
		rec.upstreamRecv.Store(recv)
	}

	flusher := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(encodeChunk(fakeChunk{ID: "chatcmpl-chatload", Object: "chat.completion.chunk", Created: 1704355200,
		Model: req.Model, Choices: []fakeChoice{{Delta: fakeDelta{Role: "assistant"}}}}))
	flusher.Flush()

	// Token i is due at recv + (i+1)·delay: the schedule does not drift
	// when a wake-up is late.
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i, chunk := range f.chunks {
		if wait := time.Duration(recv + int64(i+1)*int64(f.tokenDelay) - clock()); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				f.cut.Add(1)
				return
			}
		}
		if _, err := w.Write(chunk); err != nil {
			f.cut.Add(1)
			return
		}
		flusher.Flush()
		if i == 0 && rec != nil {
			rec.upstreamFirst.Store(clock())
		}
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		n := len(f.tokens)
		_, _ = w.Write(encodeChunk(fakeChunk{ID: "chatcmpl-chatload", Object: "chat.completion.chunk", Created: 1704355200,
			Model: req.Model, Choices: []fakeChoice{}, Usage: &fakeUsage{PromptTokens: prompt, CompletionTokens: n, TotalTokens: prompt + n}}))
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
	flusher.Flush()
}
