package chat_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"paradise/internal/config"
	"paradise/internal/llm/llmtest"
	"paradise/internal/testenv"
)

// TestChatOverProviders runs chat through the real provider layer against
// a fake OpenAI-compatible vendor: the persona and history reach the
// vendor's request, the streamed reply is stored with the vendor's usage,
// the first provider failing before any token fails over to the second,
// and a client that leaves a streamed reply ends the vendor's request.
func TestChatOverProviders(t *testing.T) {
	first := llmtest.NewServer(t, "key-one")
	second := llmtest.NewServer(t, "key-two")
	cfg := testenv.Config(t, testenv.Embedded)
	cfg.LLM = config.LLM{Providers: []config.LLMProvider{first.Provider("ark"), second.Provider("deepseek")}}
	s := testenv.StartWith(t, cfg)
	u := s.Register(t, "vendor")
	s.Do(t, "PATCH", "/api/user/profile/", u.Token, map[string]any{"nickname": "Noa"})

	res := s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "Hello vendor"})
	var r reply
	res.Decode(t, &r)
	if res.Status != 200 || r.Provider != "ark" || r.Reply == "" || r.Usage.TotalTokens == 0 {
		t.Fatalf("chat: %d %+v", res.Status, r)
	}
	req := first.LastRequest()
	if !req.Authorization || !req.Stream || !req.IncludeUsage || len(req.Messages) != 2 ||
		!strings.Contains(req.Messages[0].Content, "Noa") || req.Messages[1].Content != "Hello vendor" {
		t.Fatalf("vendor saw %+v", req)
	}
	if got := messages(t, s, u.Token, r.ConversationID); len(got) != 2 || got[1].Content != r.Reply || got[1].Provider != "ark" {
		t.Fatalf("stored %+v", got)
	}

	// The first provider answers 503 before any token: the second answers.
	first.Push(llmtest.Behavior{Status: 503})
	res = s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "Again", "conversation_id": r.ConversationID})
	res.Decode(t, &r)
	if res.Status != 200 || r.Provider != "deepseek" {
		t.Fatalf("after failover: %d %+v", res.Status, r)
	}
	if req := second.LastRequest(); len(req.Messages) != 4 {
		t.Fatalf("history on failover: %+v", req.Messages)
	}

	// A streamed reply whose client leaves ends the vendor's request.
	before := len(first.Requests())
	first.Push(llmtest.Behavior{TokenDelay: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, next := openStream(t, ctx, s, u.Token, `{"message":"Tell me a long story","stream":true}`)
	if ev, ok := next(); !ok || ev.name != "start" {
		t.Fatalf("first event %+v", ev)
	}
	var upstream *llmtest.Request
	for deadline := time.Now().Add(10 * time.Second); upstream == nil; time.Sleep(10 * time.Millisecond) {
		if reqs := first.Requests(); len(reqs) > before {
			upstream = reqs[before]
		} else if time.Now().After(deadline) {
			t.Fatal("the streamed chat never reached the vendor")
		}
	}
	cancel()
	if !upstream.WaitClientGone(10 * time.Second) {
		t.Fatal("the vendor's request went on after the client left")
	}
}
