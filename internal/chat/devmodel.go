package chat

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// DevProvider is the provider name of the development model, on every
// reply it writes, so nobody mistakes it for a real model.
const DevProvider = "development"

// DevModelName is the development model's model name.
const DevModelName = "paradise-dev"

// DevModel is the development model: with no model provider configured
// (the embedded default of `make run`), it answers every message with a
// deterministic reply, streamed word by word with a pause between words,
// so client teams can build streaming UIs without keys. It is replaced as
// soon as a real Model is wired.
type DevModel struct {
	// Pacing is the pause before each word after the first.
	Pacing time.Duration
}

// Complete implements Model.
func (m DevModel) Complete(ctx context.Context, req ModelRequest, onDelta func(string) error) (Completion, error) {
	done := Completion{Provider: DevProvider, Model: DevModelName}
	reply := DevReply(req)
	var timer *time.Timer
	if m.Pacing > 0 {
		timer = time.NewTimer(0)
		<-timer.C
		defer timer.Stop()
	}
	for i, word := range strings.SplitAfter(reply, " ") {
		if i > 0 && timer != nil {
			timer.Reset(m.Pacing)
			select {
			case <-ctx.Done():
				return done, ctx.Err()
			case <-timer.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return done, err
		}
		if err := onDelta(word); err != nil {
			return done, err
		}
	}
	done.FinishReason = FinishStop
	done.PromptTokens = estimateMessages(req.Messages)
	done.CompletionTokens = EstimateTokens(reply)
	return done, nil
}

// DevReply is the development model's reply to a request: it quotes the
// last user message (at most 200 characters) and says what it is.
func DevReply(req ModelRequest) string {
	said := ""
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == RoleUser {
			said = req.Messages[i].Content
			break
		}
	}
	said = strings.Join(strings.Fields(said), " ")
	if utf8.RuneCountInString(said) > 200 {
		said = string([]rune(said)[:200]) + "…"
	}
	turns := 0
	for _, m := range req.Messages {
		if m.Role != RoleSystem {
			turns++
		}
	}
	return fmt.Sprintf("[development model] You said: \"%s\". This is turn %d of our conversation. "+
		"I am the development stand-in for the AI model, so my answers are always the same; "+
		"configure a model provider for real replies.", said, turns)
}
