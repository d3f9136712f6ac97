package rtc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/chat"
	"paradise/internal/httpapi"
)

// Chats runs a chat turn (the chat service).
type Chats interface {
	Chat(ctx context.Context, req chat.Request, ev chat.Events) (chat.Reply, error)
}

// Profiles reads a user (the account service).
type Profiles interface {
	Get(ctx context.Context, id int) (account.User, error)
}

// LLM is the OpenAI-compatible chat completions endpoint the voice agent
// calls in CustomLLM mode, one URL per task, authenticated by the task's
// key. Each call is one turn of the room's owner through the chat
// service, stored in the task's conversation.
type LLM struct {
	agents   *Agents
	chats    Chats
	profiles Profiles
	errors   *httpapi.Errors
	log      *zap.Logger
}

// NewLLM returns the agent's LLM endpoint.
func NewLLM(agents *Agents, chats Chats, profiles Profiles, errs *httpapi.Errors, log *zap.Logger) *LLM {
	return &LLM{agents: agents, chats: chats, profiles: profiles, errors: errs, log: log.Named("rtc")}
}

// Route serves every request of the path in front of the ogen server
// (the Bearer task key is not an operation parameter, and the answer is
// usually a stream).
func (l *LLM) Route() httpapi.Route {
	return httpapi.Route{Pattern: "POST /api/rtc/agent/{task_id}/chat/completions/{$}",
		Intercept: func(http.Handler) http.Handler { return http.HandlerFunc(l.serve) }}
}

// agentRequest is the part of an OpenAI request the endpoint reads.
type agentRequest struct {
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Stream bool `json:"stream"`
}

// text reads a message's content: a string, or OpenAI's parts of which
// the text ones count.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func (l *LLM) serve(w http.ResponseWriter, r *http.Request) {
	taskID := r.PathValue("task_id")
	if !isTaskID(taskID) {
		l.errors.Write(w, r, apperr.NotFound("Not found."))
		return
	}
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	task, err := l.agents.Authorize(r.Context(), taskID, strings.TrimSpace(key))
	if err != nil {
		l.errors.Write(w, r, err)
		return
	}
	var req agentRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		l.errors.Write(w, r, apperr.BadRequest("The body is not an OpenAI chat completions request."))
		return
	}
	// The agent sends the whole dialogue it tracks; Paradise keeps its own
	// history (and persona), so only the user's last turn is read.
	var userText string
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			userText = text(req.Messages[i].Content)
			break
		}
	}
	if err := chat.CheckText("messages", userText); err != nil {
		l.errors.Write(w, r, err)
		return
	}
	ctx := r.Context()
	user, err := l.profiles.Get(ctx, task.UserID)
	if err != nil {
		l.errors.Write(w, r, err)
		return
	}
	conv, err := l.agents.ConversationOf(ctx, task)
	if err != nil {
		l.errors.Write(w, r, err)
		return
	}
	id := "chatcmpl-" + task.TaskID + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	created := time.Now().Unix()
	started := false
	flusher, _ := w.(http.Flusher)
	chunk := func(delta map[string]string, finish *string) error {
		b, err := json.Marshal(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": "paradise",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}})
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	ev := chat.Events{Start: func(s chat.Started) error {
		if err := l.agents.Touch(context.WithoutCancel(ctx), task, s.ConversationID); err != nil {
			l.log.Warn("Could not record the voice agent's turn", zap.Error(err))
		}
		if !req.Stream {
			return nil
		}
		httpapi.StartEventStream(w)
		started = true
		return chunk(map[string]string{"role": "assistant", "content": ""}, nil)
	}}
	if req.Stream {
		ev.Delta = func(t string) error { return chunk(map[string]string{"content": t}, nil) }
	}
	reply, err := l.chats.Chat(ctx, chat.Request{Caller: chat.Caller{User: user, MAC: task.MAC}, Text: userText,
		ConversationID: conv, Channel: chat.ChannelRTC}, ev)
	if !started {
		if err != nil {
			l.errors.Write(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "object": "chat.completion", "created": created, "model": reply.Model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]string{"role": "assistant", "content": reply.Text},
				"finish_reason": string(reply.FinishReason)}},
			"usage": map[string]int{"prompt_tokens": reply.PromptTokens, "completion_tokens": reply.CompletionTokens, "total_tokens": reply.TotalTokens()}})
		return
	}
	finish := string(reply.FinishReason)
	if err != nil {
		// Headers are sent: OpenAI streams report a failure in the stream.
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"message": "The AI model failed.", "type": "server_error"}})
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
	} else if cerr := chunk(map[string]string{}, &finish); cerr != nil {
		return
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

// isTaskID reports whether s has the form of the task ids Agents makes
// (16 lowercase hex digits).
func isTaskID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
