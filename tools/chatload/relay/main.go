// Command relay is chatload's floor: the least a server can do to answer
// a streamed chat. It takes POST /api/ai/chat/, calls the provider with
// Paradise's own OpenAI-compatible client (internal/llm) and relays the
// reply as the same start / delta / done events, with no authentication,
// database, Redis, history, persona or budget. `chatload -relay` measures
// it in place of `paradise serve`, so that the report says how much of
// the added time to first token and of the memory per stream any Go
// server on net/http pays on this machine, and how much is Paradise's.
//
// It runs as loadenv.FloorMain says, and calls the provider named "fake"
// in PARADISE_LLM_FAKE_*.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"paradise/internal/config"
	"paradise/internal/httpapi"
	"paradise/internal/llm"
	"paradise/tools/internal/loadenv"
)

func main() {
	loadenv.FloorMain("relay", func() (http.Handler, error) {
		provider := llm.NewOpenAI(config.LLMProvider{
			Name:              "fake",
			BaseURL:           os.Getenv("PARADISE_LLM_FAKE_BASE_URL"),
			APIKey:            os.Getenv("PARADISE_LLM_FAKE_API_KEY"),
			Model:             os.Getenv("PARADISE_LLM_FAKE_MODEL"),
			FirstTokenTimeout: 10 * time.Second,
			Timeout:           2 * time.Minute,
		})
		mux := http.NewServeMux()
		mux.Handle("POST /api/ai/chat/", &relay{provider: provider})
		return mux, nil
	})
}

type relay struct{ provider *llm.OpenAI }

// ServeHTTP relays one streamed chat: the request's message as the only
// user message, the provider's deltas as they come.
func (rl *relay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Message        string `json:"message"`
		ConversationID int    `json:"conversation_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Message == "" {
		http.Error(w, "a JSON body with a message is required", http.StatusBadRequest)
		return
	}
	st, err := rl.provider.Stream(r.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: req.Message}}})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer st.Close()
	httpapi.StartEventStream(w)
	send := func(event string, data any) error { return httpapi.WriteEvent(w, event, data) }
	conversation := max(req.ConversationID, 1)
	if send("start", map[string]any{"type": "start", "conversation_id": conversation}) != nil {
		return
	}
	for {
		ev, err := st.Recv()
		if err != nil {
			return // io.EOF after the final event, or the client is gone
		}
		if ev.Final != nil {
			f := ev.Final
			if f.CutShort {
				_ = send("error", map[string]any{"type": "error", "code": http.StatusBadGateway, "message": fmt.Sprint(f.Err)})
				return
			}
			_ = send("done", map[string]any{"type": "done", "conversation_id": conversation, "finish_reason": f.FinishReason,
				"truncated": false, "usage": map[string]int{"prompt_tokens": f.Usage.PromptTokens,
					"completion_tokens": f.Usage.CompletionTokens, "total_tokens": f.Usage.TotalTokens}})
			continue
		}
		if send("delta", map[string]any{"type": "delta", "text": ev.Delta}) != nil {
			return
		}
	}
}
