// Package llm is the LLM provider layer: OpenAI-compatible chat completions
// (Volcengine Ark, Aliyun DashScope compatible mode, DeepSeek, OpenAI, a
// local Ollama or vLLM) streamed token by token, with failover between the
// configured providers before the first token, and a development provider
// when none is configured.
//
// A reply is a Stream: Client.Stream returns once the first token is in
// hand (or every provider failed, which is the only time a caller sees an
// error before any text), then Recv hands out text deltas as they arrive
// and ends with one Final event (finish reason, usage, provider, timings,
// and whether the reply was cut short). Cancelling the context passed to
// Stream, or calling Close, aborts the upstream HTTP request at once.
package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Role is who wrote a message.
type Role string

// The roles the OpenAI-compatible vendors accept in a conversation.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn of the conversation sent upstream.
type Message struct {
	Role    Role
	Content string
}

// Request is what the caller asks for.
type Request struct {
	// Model, when set, replaces the model of the first configured provider
	// (the primary, whose model names the caller knows). Providers failed
	// over to use their own configured model: a model name of one vendor
	// means nothing to another.
	Model string
	// Messages is the conversation, persona prompt (system) first; it must
	// not be empty.
	Messages []Message
	// MaxTokens caps the reply's tokens; 0 leaves it to the provider.
	MaxTokens int
	// Temperature, when set, is sent as is; nil leaves it to the provider.
	Temperature *float64
}

// Validate reports a request no provider could answer.
func (r Request) Validate() error {
	if len(r.Messages) == 0 {
		return errors.New("llm: request has no messages")
	}
	for i, m := range r.Messages {
		switch m.Role {
		case RoleSystem, RoleUser, RoleAssistant:
		default:
			return fmt.Errorf("llm: message %d: unknown role %q", i, m.Role)
		}
	}
	if r.MaxTokens < 0 {
		return errors.New("llm: negative MaxTokens")
	}
	return nil
}

// LastUser is the content of the last user message, or "".
func (r Request) LastUser() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == RoleUser {
			return r.Messages[i].Content
		}
	}
	return ""
}

// Usage counts a reply's tokens.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
	// Estimated is set when the provider reported no usage (a stream cut
	// short, a server that ignores stream_options) and the counts were
	// estimated from the text: about one token per CJK character and per
	// four other characters.
	Estimated bool
}

// Finish reasons besides the vendors' own ("stop", "length",
// "content_filter", ...).
const (
	// FinishCutShort ends a reply that failed or was cancelled after text
	// had been handed out; Final.Err says why.
	FinishCutShort = "cut_short"
)

// Final ends every stream.
type Final struct {
	// FinishReason is the provider's ("stop", "length", "content_filter",
	// ...), or FinishCutShort.
	FinishReason string
	// CutShort is set when the reply ended before the provider finished
	// it: the text handed out so far is all there is. Err says why.
	CutShort bool
	Err      error
	Usage    Usage
	// Provider is the name of the provider that answered ("ark", ...,
	// "development"), Model the model it reported using.
	Provider string
	Model    string
	// Latency and TimeToFirstToken are measured from the call to
	// Client.Stream, so they include providers failed over.
	Latency          time.Duration
	TimeToFirstToken time.Duration
	// Failovers is how many providers were given up before this one.
	Failovers int
}

// Event is one step of a stream: a text delta, or the Final that ends it.
type Event struct {
	Delta string
	Final *Final
}

// Stream is a reply being received.
type Stream interface {
	// Recv returns the next event: text deltas, then exactly one event
	// with Final set (also when the reply was cut short), then io.EOF.
	Recv() (Event, error)
	// Close aborts the upstream request if it is still running. It must
	// be called (or the stream read to io.EOF); calling it twice is fine.
	Close() error
}

// Client starts replies.
type Client interface {
	// Stream sends req and returns once the first token is in hand. An
	// error means no text was produced (every provider failed before its
	// first token, the request is invalid, or ctx ended); use Retryable
	// to tell an outage from a bad request. ctx bounds the whole stream.
	Stream(ctx context.Context, req Request) (Stream, error)
}

// Reply is a whole collected reply.
type Reply struct {
	Text  string
	Final Final
}

// Collect reads st to its end and closes it. A reply cut short returns
// the partial text with Final.Err as the error.
func Collect(st Stream) (Reply, error) {
	defer st.Close()
	var text strings.Builder
	var final *Final
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Reply{Text: text.String()}, err
		}
		text.WriteString(ev.Delta)
		if ev.Final != nil {
			final = ev.Final
		}
	}
	if final == nil {
		return Reply{Text: text.String()}, errors.New("llm: stream ended without a final event")
	}
	reply := Reply{Text: text.String(), Final: *final}
	if final.CutShort {
		err := final.Err
		if err == nil {
			err = errors.New("llm: reply cut short")
		}
		return reply, err
	}
	return reply, nil
}

// Complete asks c for a reply and waits for all of it: the non-streaming
// convenience.
func Complete(ctx context.Context, c Client, req Request) (Reply, error) {
	st, err := c.Stream(ctx, req)
	if err != nil {
		return Reply{}, err
	}
	return Collect(st)
}

// Kind classifies a provider failure.
type Kind string

// Failure kinds. Connect, Timeout, RateLimited and Server are worth trying
// another provider (or again later) for; the others are not.
const (
	KindConnect     Kind = "connect"      // no connection, or it broke
	KindTimeout     Kind = "timeout"      // first-token or overall timeout
	KindRateLimited Kind = "rate_limited" // HTTP 429
	KindServer      Kind = "server"       // HTTP 5xx, an error object in the stream, a malformed stream
	KindAuth        Kind = "auth"         // HTTP 401 or 403: the key is wrong
	KindRequest     Kind = "request"      // other HTTP 4xx: the request (or model) is wrong
	KindCanceled    Kind = "canceled"     // the caller's context ended
)

// Error is a provider failure. Its text carries the provider's name, the
// HTTP status and the vendor's code and message, never the key.
type Error struct {
	Provider string
	Kind     Kind
	// Status is the HTTP status, 0 when there was no response.
	Status int
	// Code and Message are the vendor's error code and message, if any.
	Code    string
	Message string
	// Err is the underlying transport error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "llm: %s: %s", e.Provider, e.Kind)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether another provider, or a later attempt, may
// succeed where this one failed.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindConnect, KindTimeout, KindRateLimited, KindServer:
		return true
	}
	return false
}

// Retryable reports whether err, returned by Client.Stream, is an outage
// (every provider unreachable, overloaded or too slow: tell the user to
// try again later) rather than a request no provider will take or a
// cancellation.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var errs interface{ Unwrap() []error }
	if errors.As(err, &errs) {
		for _, e := range errs.Unwrap() {
			if Retryable(e) {
				return true
			}
		}
		return false
	}
	var e *Error
	return errors.As(err, &e) && e.Retryable()
}

// estimateTokens guesses a token count when no provider said: about one
// token per CJK character and one per four other non-space characters,
// which is what the Chinese and English tokenizers of these vendors come
// to on ordinary chat text.
func estimateTokens(s string) int {
	cjk, other := 0, 0
	for _, r := range s {
		switch {
		case r >= 0x2E80 && r <= 0x9FFF, r >= 0xAC00 && r <= 0xD7AF, r >= 0xF900 && r <= 0xFAFF, r >= 0xFF00 && r <= 0xFFEF:
			cjk++
		case r == ' ' || r == '\n' || r == '\t' || r == '\r':
		default:
			other++
		}
	}
	return cjk + (other+3)/4
}

// estimatePrompt guesses the prompt tokens of req, with the few tokens
// each message's framing costs.
func estimatePrompt(req Request) int {
	n := 0
	for _, m := range req.Messages {
		n += 4 + estimateTokens(m.Content)
	}
	return n
}
