package chat

import (
	"context"
	"unicode/utf8"
)

// Role is who wrote a message.
type Role string

// Roles of chat messages.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one message sent to the model.
type Message struct {
	Role    Role
	Content string
}

// ModelRequest is what the model is asked: the persona prompt (a system
// message), the history within the token budget, and the user's message
// last.
type ModelRequest struct {
	Messages []Message
}

// Finish reasons of a reply, as stored and as the API reports them.
const (
	FinishStop      = "stop"
	FinishLength    = "length"
	FinishFilter    = "content_filter"
	FinishCancelled = "cancelled"
	FinishError     = "error"
)

// Completion is how a reply ended.
type Completion struct {
	// FinishReason is one of the Finish constants (a model may report
	// stop, length or content_filter).
	FinishReason string
	// PromptTokens and CompletionTokens are the model's usage; 0 when it
	// did not report them (the service then estimates).
	PromptTokens     int
	CompletionTokens int
	// Provider and Model name who answered ("development", ...).
	Provider string
	Model    string
}

// Model streams a chat completion. This is the chat package's view of an
// LLM: internal/llm's providers are adapted to it when wired.
type Model interface {
	// Complete sends the request upstream and calls onDelta with each
	// piece of the reply's text, in order, on the calling goroutine. It
	// returns when the reply ends: the Completion says how; an error means
	// the reply failed (after onDelta was called zero or more times; the
	// Completion then still names the provider and model when known). An
	// error from onDelta stops the reply and is returned. Cancelling ctx
	// aborts the upstream call at once.
	Complete(ctx context.Context, req ModelRequest, onDelta func(text string) error) (Completion, error)
}

// EstimateTokens estimates the tokens of a text without a tokenizer: a
// character outside ASCII (Chinese, Japanese, emoji, ...) counts as one
// token, four ASCII characters as one (rounded up). That is close to what
// the common BPE tokenizers give for Chinese and English and errs on the
// high side for mixed text, which is the safe side for a budget.
func EstimateTokens(s string) int {
	ascii, other := 0, 0
	for _, r := range s {
		if r < utf8.RuneSelf {
			ascii++
		} else {
			other++
		}
	}
	return other + (ascii+3)/4
}

// messageOverhead is the tokens a chat format spends per message (role
// markers), added to each message's estimate.
const messageOverhead = 4

// estimateMessages estimates the prompt tokens of messages.
func estimateMessages(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += EstimateTokens(m.Content) + messageOverhead
	}
	return n
}
