package chat

import (
	"context"
	"errors"
	"io"

	"paradise/internal/llm"
)

// llmModel is the Model over internal/llm: the configured providers with
// failover, or its development provider when none is configured.
type llmModel struct{ client llm.Client }

// NewLLMModel adapts an llm.Client to Model.
func NewLLMModel(client llm.Client) Model { return llmModel{client: client} }

// Complete implements Model.
func (m llmModel) Complete(ctx context.Context, req ModelRequest, onDelta func(string) error) (Completion, error) {
	msgs := make([]llm.Message, len(req.Messages))
	for i, msg := range req.Messages {
		msgs[i] = llm.Message{Role: llm.Role(msg.Role), Content: msg.Content}
	}
	st, err := m.client.Stream(ctx, llm.Request{Messages: msgs})
	if err != nil {
		return Completion{}, err
	}
	defer st.Close()
	var done Completion
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return done, nil
		}
		if err != nil {
			return done, err
		}
		if ev.Delta != "" {
			if err := onDelta(ev.Delta); err != nil {
				return done, err
			}
		}
		if f := ev.Final; f != nil {
			done = Completion{FinishReason: f.FinishReason, Provider: f.Provider, Model: f.Model}
			if !f.Usage.Estimated {
				// Estimated counts are left to the service's own estimate.
				done.PromptTokens, done.CompletionTokens = f.Usage.PromptTokens, f.Usage.CompletionTokens
			}
			if f.CutShort {
				if f.Err != nil {
					return done, f.Err
				}
				return done, errors.New("chat: reply cut short")
			}
		}
	}
}
