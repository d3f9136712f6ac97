package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"paradise/internal/llm"
	"paradise/internal/llm/llmtest"
)

func TestRelay(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		behaviors  []llmtest.Behavior
		wantStatus int
		wantEvents []string // "event: data" per event
	}{
		{
			name:       "relays the reply as start, deltas and done",
			body:       `{"message":"hi","conversation_id":7}`,
			behaviors:  []llmtest.Behavior{{Tokens: []string{"Hel", "lo"}, Usage: &llmtest.Usage{PromptTokens: 2, CompletionTokens: 2, TotalTokens: 4}}},
			wantStatus: http.StatusOK,
			wantEvents: []string{
				`start: {"conversation_id":7,"type":"start"}`,
				`delta: {"text":"Hel","type":"delta"}`,
				`delta: {"text":"lo","type":"delta"}`,
				`done: {"conversation_id":7,"finish_reason":"stop","truncated":false,"type":"done","usage":{"completion_tokens":2,"prompt_tokens":2,"total_tokens":4}}`,
			},
		},
		{
			name:       "a provider failure is a 502",
			body:       `{"message":"hi"}`,
			behaviors:  []llmtest.Behavior{{Status: http.StatusServiceUnavailable}},
			wantStatus: http.StatusBadGateway,
		},
		{
			name:       "no message is a 400",
			body:       `{}`,
			wantStatus: http.StatusBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := llmtest.NewServer(t, "relay-key")
			fake.Push(tt.behaviors...)
			h := &relay{provider: llm.NewOpenAI(fake.Provider("fake"))}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/ai/chat/", strings.NewReader(tt.body)))
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantStatus != http.StatusOK {
				return
			}
			var got []string
			for _, ev := range strings.Split(strings.TrimSuffix(w.Body.String(), "\n\n"), "\n\n") {
				name, data, ok := strings.Cut(ev, "\ndata: ")
				if !ok || !strings.HasPrefix(name, "event: ") {
					t.Fatalf("malformed event %q", ev)
				}
				got = append(got, strings.TrimPrefix(name, "event: ")+": "+data)
			}
			if strings.Join(got, "\n") != strings.Join(tt.wantEvents, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.wantEvents, "\n"))
			}
		})
	}
}
