package chat_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"paradise/internal/chat"
	"paradise/internal/config"
	"paradise/internal/testenv"
)

// fakeModel is a recording Model: it answers with words, records every
// request, and can fail or hang mid-reply.
type fakeModel struct {
	words []string
	// failAfter, when positive, fails the reply after that many words.
	failAfter int
	// hangAfter, when positive, waits for ctx after that many words.
	hangAfter int

	mu        sync.Mutex
	requests  []chat.ModelRequest
	cancelled chan struct{} // closed when a hanging reply saw ctx end
}

func newFake(words ...string) *fakeModel {
	if len(words) == 0 {
		words = []string{"Hello ", "from ", "the ", "fake."}
	}
	return &fakeModel{words: words, cancelled: make(chan struct{})}
}

func (m *fakeModel) Complete(ctx context.Context, req chat.ModelRequest, onDelta func(string) error) (chat.Completion, error) {
	m.mu.Lock()
	m.requests = append(m.requests, req)
	m.mu.Unlock()
	done := chat.Completion{Provider: "fake", Model: "fake-1"}
	for i, w := range m.words {
		if m.failAfter > 0 && i == m.failAfter {
			return done, errors.New("upstream broke")
		}
		if m.hangAfter > 0 && i == m.hangAfter {
			<-ctx.Done()
			close(m.cancelled)
			return done, ctx.Err()
		}
		if err := onDelta(w); err != nil {
			return done, err
		}
	}
	done.FinishReason = chat.FinishStop
	done.PromptTokens, done.CompletionTokens = 100, len(m.words)
	return done, nil
}

func (m *fakeModel) last(t *testing.T) chat.ModelRequest {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.requests) == 0 {
		t.Fatal("the model was not called")
	}
	return m.requests[len(m.requests)-1]
}

func (m *fakeModel) reply() string { return strings.Join(m.words, "") }

func start(t *testing.T, b testenv.Backend, m chat.Model) *testenv.Service {
	return testenv.Start(t, b, fx.Decorate(func() chat.Model { return m }))
}

type reply struct {
	ConversationID     int    `json:"conversation_id"`
	UserMessageID      int    `json:"user_message_id"`
	AssistantMessageID int    `json:"assistant_message_id"`
	Reply              string `json:"reply"`
	FinishReason       string `json:"finish_reason"`
	Truncated          bool   `json:"truncated"`
	Provider           string `json:"provider"`
	Usage              struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

type message struct {
	ID               int    `json:"id"`
	Role             string `json:"role"`
	Content          string `json:"content"`
	Provider         string `json:"provider"`
	PromptTokens     int    `json:"prompt_tokens"`
	CompletionTokens int    `json:"completion_tokens"`
	FinishReason     string `json:"finish_reason"`
	Truncated        bool   `json:"truncated"`
}

func messages(t *testing.T, s *testenv.Service, token string, conv int) []message {
	t.Helper()
	res := s.Do(t, "GET", fmt.Sprintf("/api/ai/conversations/%d/messages/?page_size=100", conv), token, nil)
	if res.Status != 200 {
		t.Fatalf("messages: %d %s", res.Status, res.Body)
	}
	var page struct {
		Results []message `json:"results"`
	}
	res.Decode(t, &page)
	return page.Results
}

// event is one Server-Sent Event.
type event struct {
	name string
	data map[string]any
}

// openStream posts a streamed chat and returns the response and a reader
// of its events.
func openStream(t *testing.T, ctx context.Context, s *testenv.Service, token, body string) (*http.Response, func() (event, bool)) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", s.URL+"/api/ai/chat/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Token "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	sc := bufio.NewScanner(res.Body)
	next := func() (event, bool) {
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data); err != nil {
					t.Fatalf("event data %q: %v", line, err)
				}
			case line == "" && ev.name != "":
				return ev, true
			}
		}
		return ev, false
	}
	return res, next
}

func TestChat(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		fake := newFake()
		s := start(t, b, fake)
		u := s.Register(t, "chat")
		s.Do(t, "PATCH", "/api/user/profile/", u.Token, map[string]any{"nickname": "Mia", "mbti": "INFP", "interests": []string{"jazz", "hiking"}})

		t.Run("reply stored with usage, history and persona reach the model", func(t *testing.T) {
			res := s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "Hi there"})
			if res.Status != 200 {
				t.Fatalf("chat: %d %s", res.Status, res.Body)
			}
			var first reply
			res.Decode(t, &first)
			if first.Reply != fake.reply() || first.Provider != "fake" || first.FinishReason != "stop" || first.Usage.TotalTokens != 104 {
				t.Fatalf("reply %+v", first)
			}
			res = s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "And now?", "conversation_id": first.ConversationID})
			var second reply
			res.Decode(t, &second)
			if second.ConversationID != first.ConversationID {
				t.Fatalf("conversation %d, want %d", second.ConversationID, first.ConversationID)
			}
			req := fake.last(t)
			var roles []string
			for _, m := range req.Messages {
				roles = append(roles, string(m.Role))
			}
			if got := strings.Join(roles, ","); got != "system,user,assistant,user" {
				t.Fatalf("roles %s", got)
			}
			sys := req.Messages[0].Content
			for _, want := range []string{"Mia", "INFP", "jazz, hiking"} {
				if !strings.Contains(sys, want) {
					t.Errorf("persona lacks %q: %s", want, sys)
				}
			}
			if req.Messages[1].Content != "Hi there" || req.Messages[2].Content != fake.reply() || req.Messages[3].Content != "And now?" {
				t.Fatalf("history %+v", req.Messages)
			}
			msgs := messages(t, s, u.Token, first.ConversationID)
			if len(msgs) != 4 || msgs[1].Role != "assistant" || msgs[1].PromptTokens != 100 || msgs[1].CompletionTokens != 4 || msgs[1].Truncated {
				t.Fatalf("stored %+v", msgs)
			}
		})

		t.Run("streamed reply stored", func(t *testing.T) {
			_, next := openStream(t, t.Context(), s, u.Token, `{"message":"Stream it","stream":true}`)
			var names []string
			var text strings.Builder
			var done event
			for {
				ev, ok := next()
				if !ok {
					break
				}
				names = append(names, ev.name)
				if ev.name == "delta" {
					text.WriteString(ev.data["text"].(string))
				}
				if ev.name == "done" {
					done = ev
				}
			}
			if len(names) != 6 || names[0] != "start" || names[5] != "done" || text.String() != fake.reply() {
				t.Fatalf("events %v, text %q", names, text.String())
			}
			conv := int(done.data["conversation_id"].(float64))
			msgs := messages(t, s, u.Token, conv)
			if len(msgs) != 2 || msgs[1].Content != fake.reply() || msgs[1].ID != int(done.data["assistant_message_id"].(float64)) {
				t.Fatalf("stored %+v", msgs)
			}
		})

		t.Run("bad input", func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				body   any
				status int
			}{
				{"empty text", map[string]any{"message": "   "}, 400},
				{"missing text", map[string]any{}, 400},
				{"huge text", map[string]any{"message": strings.Repeat("字", 4001)}, 400},
				{"unknown conversation", map[string]any{"message": "hi", "conversation_id": 999999}, 404},
				{"unknown conversation, streamed", map[string]any{"message": "hi", "conversation_id": 999999, "stream": true}, 404},
				{"empty text, streamed", map[string]any{"message": " ", "stream": true}, 400},
			} {
				t.Run(tc.name, func(t *testing.T) {
					res := s.Do(t, "POST", "/api/ai/chat/", u.Token, tc.body)
					if res.Status != tc.status || res.Success || res.Message == "" {
						t.Fatalf("got %d %s, want %d", res.Status, res.Body, tc.status)
					}
				})
			}
		})

		t.Run("another user's conversation is 404", func(t *testing.T) {
			res := s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "mine"})
			var r reply
			res.Decode(t, &r)
			other := s.Register(t, "other")
			for _, c := range []struct {
				method, path string
				body         any
			}{
				{"GET", fmt.Sprintf("/api/ai/conversations/%d/", r.ConversationID), nil},
				{"GET", fmt.Sprintf("/api/ai/conversations/%d/messages/", r.ConversationID), nil},
				{"PATCH", fmt.Sprintf("/api/ai/conversations/%d/", r.ConversationID), map[string]any{"title": "x"}},
				{"DELETE", fmt.Sprintf("/api/ai/conversations/%d/", r.ConversationID), nil},
				{"POST", "/api/ai/chat/", map[string]any{"message": "hi", "conversation_id": r.ConversationID}},
			} {
				if res := s.Do(t, c.method, c.path, other.Token, c.body); res.Status != 404 {
					t.Errorf("%s %s: %d %s", c.method, c.path, res.Status, res.Body)
				}
			}
			list := s.Do(t, "GET", "/api/ai/conversations/", other.Token, nil)
			var page struct {
				Count int `json:"count"`
			}
			list.Decode(t, &page)
			if page.Count != 0 {
				t.Fatalf("other user lists %d conversations", page.Count)
			}
		})

		t.Run("rename, list newest first, delete", func(t *testing.T) {
			v := s.Register(t, "conv")
			var a, b reply
			s.Do(t, "POST", "/api/ai/chat/", v.Token, map[string]any{"message": "first"}).Decode(t, &a)
			s.Do(t, "POST", "/api/ai/chat/", v.Token, map[string]any{"message": "second"}).Decode(t, &b)
			res := s.Do(t, "PATCH", fmt.Sprintf("/api/ai/conversations/%d/", a.ConversationID), v.Token, map[string]any{"title": "Renamed"})
			if res.Status != 200 {
				t.Fatalf("rename: %d %s", res.Status, res.Body)
			}
			var page struct {
				Results []struct {
					ID          int    `json:"id"`
					Title       string `json:"title"`
					LastMessage *struct {
						Role string `json:"role"`
					} `json:"last_message"`
				} `json:"results"`
			}
			s.Do(t, "GET", "/api/ai/conversations/", v.Token, nil).Decode(t, &page)
			if len(page.Results) != 2 || page.Results[0].ID != a.ConversationID || page.Results[0].Title != "Renamed" ||
				page.Results[1].Title != "second" || page.Results[1].LastMessage == nil || page.Results[1].LastMessage.Role != "assistant" {
				t.Fatalf("list %+v", page.Results)
			}
			if res := s.Do(t, "DELETE", fmt.Sprintf("/api/ai/conversations/%d/", a.ConversationID), v.Token, nil); res.Status != 200 {
				t.Fatalf("delete: %d %s", res.Status, res.Body)
			}
			if res := s.Do(t, "GET", fmt.Sprintf("/api/ai/conversations/%d/messages/", a.ConversationID), v.Token, nil); res.Status != 404 {
				t.Fatalf("deleted conversation: %d", res.Status)
			}
		})
	})
}

func TestClientDisconnectCancelsModel(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		fake := newFake()
		fake.hangAfter = 2
		s := start(t, b, fake)
		u := s.Register(t, "gone")
		ctx, cancel := context.WithCancel(t.Context())
		_, next := openStream(t, ctx, s, u.Token, `{"message":"Talk to me","stream":true}`)
		var conv int
		for i := 0; i < 3; i++ { // start and two deltas
			ev, ok := next()
			if !ok {
				t.Fatal("stream ended early")
			}
			if ev.name == "start" {
				conv = int(ev.data["conversation_id"].(float64))
			}
		}
		cancel()
		select {
		case <-fake.cancelled:
		case <-time.After(5 * time.Second):
			t.Fatal("the model call was not cancelled when the client went away")
		}
		// The cut reply is stored, marked truncated.
		deadline := time.Now().Add(5 * time.Second)
		for {
			msgs := messages(t, s, u.Token, conv)
			if len(msgs) == 2 {
				m := msgs[1]
				if !m.Truncated || m.FinishReason != "cancelled" || m.Content != "Hello from " {
					t.Fatalf("stored %+v", m)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("reply not stored: %+v", msgs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestModelFailure(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		fake := newFake()
		fake.failAfter = 2
		s := start(t, b, fake)
		u := s.Register(t, "fail")
		res := s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "Break"})
		if res.Status != 503 || res.Code != chat.CodeModelUnavailable || res.Header.Get("Retry-After") == "" {
			t.Fatalf("got %d %s", res.Status, res.Body)
		}
		// Streamed: an error event ends the stream, carrying the stored reply.
		_, next := openStream(t, t.Context(), s, u.Token, `{"message":"Break again","stream":true}`)
		var last event
		for {
			ev, ok := next()
			if !ok {
				break
			}
			last = ev
		}
		if last.name != "error" || last.data["code"].(float64) != chat.CodeModelUnavailable || last.data["assistant_message_id"] == nil {
			t.Fatalf("last event %+v", last)
		}
		var page struct {
			Results []struct {
				ID int `json:"id"`
			} `json:"results"`
		}
		s.Do(t, "GET", "/api/ai/conversations/", u.Token, nil).Decode(t, &page)
		for _, c := range page.Results {
			msgs := messages(t, s, u.Token, c.ID)
			if len(msgs) != 2 || !msgs[1].Truncated || msgs[1].FinishReason != "error" || msgs[1].Content != "Hello from " {
				t.Fatalf("stored %+v", msgs)
			}
		}
	})
}

func TestDailyMessagesAcrossInstances(t *testing.T) {
	cfg := testenv.Config(t, testenv.Postgres)
	cfg.Chat.MessagesPerDay = 2
	opt := fx.Decorate(func() chat.Model { return newFake() })
	a := testenv.StartWith(t, cfg, opt)
	b := testenv.StartWith(t, cfg, opt)
	u := a.Register(t, "quota")
	for i, s := range []*testenv.Service{a, b} {
		if res := s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "hi"}); res.Status != 200 {
			t.Fatalf("message %d: %d %s", i, res.Status, res.Body)
		}
	}
	for _, s := range []*testenv.Service{a, b} {
		res := s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "one more"})
		if res.Status != 429 || res.Code != chat.CodeDailyMessages || res.Header.Get("Retry-After") == "" {
			t.Fatalf("over quota: %d %v %s", res.Status, res.Header, res.Body)
		}
		res = s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "one more", "stream": true})
		if res.Status != 429 || res.Code != chat.CodeDailyMessages {
			t.Fatalf("over quota, streamed: %d %s", res.Status, res.Body)
		}
	}
	// Another user has a budget of their own.
	v := b.Register(t, "quota")
	if res := a.Do(t, "POST", "/api/ai/chat/", v.Token, map[string]any{"message": "hi"}); res.Status != 200 {
		t.Fatalf("other user: %d %s", res.Status, res.Body)
	}
}

func TestHubChat(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		fake := newFake()
		s := start(t, b, fake)
		owner := s.Register(t, "hubchat")
		mac := testenv.RandomID()[:12]
		s.Bind(t, owner.Token, mac)
		dev := s.MacLogin(t, mac)
		device := s.Dial(t, dev.Token)
		app := s.Dial(t, owner.Token)

		device.Send(map[string]any{"type": "chat_request", "message": map[string]any{"request_id": "r1", "text": "Hello hub"}})
		for _, c := range []*testenv.WS{app, device} {
			var text strings.Builder
			for range fake.words {
				f := c.Expect("chat_delta")
				var p struct {
					RequestID string `json:"request_id"`
					Text      string `json:"text"`
				}
				_ = json.Unmarshal(f.Message, &p)
				if p.RequestID != "r1" {
					t.Fatalf("delta %s", f.Raw)
				}
				text.WriteString(p.Text)
			}
			f := c.Expect("chat_done")
			var done struct {
				RequestID      string `json:"request_id"`
				ConversationID int    `json:"conversation_id"`
				FinishReason   string `json:"finish_reason"`
			}
			_ = json.Unmarshal(f.Message, &done)
			if text.String() != fake.reply() || done.RequestID != "r1" || done.FinishReason != "stop" {
				t.Fatalf("got %q, done %s", text.String(), f.Raw)
			}
			var conv struct {
				DeviceID *int `json:"device_id"`
			}
			s.Do(t, "GET", fmt.Sprintf("/api/ai/conversations/%d/", done.ConversationID), owner.Token, nil).Decode(t, &conv)
			if conv.DeviceID == nil || *conv.DeviceID != dev.Device.ID {
				t.Fatalf("conversation device %v, want %d", conv.DeviceID, dev.Device.ID)
			}
		}
		if !strings.Contains(fake.last(t).Messages[0].Content, "device") {
			t.Fatalf("persona does not speak from the device: %s", fake.last(t).Messages[0].Content)
		}

		// Refusals are error frames to the sender, with the request id.
		for _, tc := range []struct {
			msg  map[string]any
			code string
		}{
			{map[string]any{"request_id": "r2", "text": "   "}, "invalid_payload"},
			{map[string]any{"request_id": "r3", "text": "hi", "conversation_id": 999999}, "not_found"},
		} {
			app.Send(map[string]any{"type": "chat_request", "message": tc.msg})
			f := app.ExpectError(tc.code)
			var p struct {
				RequestID string `json:"request_id"`
			}
			_ = json.Unmarshal(f.Message, &p)
			if p.RequestID != tc.msg["request_id"] {
				t.Fatalf("error frame %s", f.Raw)
			}
		}
		device.ExpectNothing()
	})
}

// TestConcurrentDelete: deletes of one conversation racing each other end
// in one 200 and 404s, never a 500 (the API fuzzer found one).
func TestConcurrentDelete(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		s := start(t, b, newFake("ok"))
		u := s.Register(t, "deleter")
		for round := 0; round < 5; round++ {
			res := s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "hello"})
			var r reply
			res.Decode(t, &r)
			path := fmt.Sprintf("/api/ai/conversations/%d/", r.ConversationID)
			const n = 16
			statuses := make(chan int, n)
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					req, _ := http.NewRequest("DELETE", s.URL+path, nil)
					req.Header.Set("Authorization", "Token "+u.Token)
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						statuses <- 0
						return
					}
					res.Body.Close()
					statuses <- res.StatusCode
				})
			}
			wg.Wait()
			close(statuses)
			ok := 0
			for st := range statuses {
				switch st {
				case 200:
					ok++
				case 404:
				default:
					t.Fatalf("round %d: a racing delete answered %d", round, st)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d deletes succeeded, want 1", round, ok)
			}
		}
	})
}

// TestHistoryWithinBudget checks the history sent to the model when a
// conversation is longer than one history read: the latest messages that
// fit the token budget, oldest first, none skipped.
func TestHistoryWithinBudget(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		fake := newFake("ok")
		// Every message here costs 5 tokens (1 of text, 4 of framing):
		// 500 fit 100 of the 160 stored, more than one read's worth.
		s := testenv.Start(t, b, fx.Decorate(
			func() chat.Model { return fake },
			func(c config.Chat) config.Chat { c.HistoryTokens = 500; return c },
		))
		u := s.Register(t, "history")
		conv := 0
		for i := 1; i <= 80; i++ {
			body := map[string]any{"message": fmt.Sprintf("m%03d", i)}
			if conv != 0 {
				body["conversation_id"] = conv
			}
			res := s.Do(t, "POST", "/api/ai/chat/", u.Token, body)
			if res.Status != 200 {
				t.Fatalf("chat %d: %d %s", i, res.Status, res.Body)
			}
			var r reply
			res.Decode(t, &r)
			conv = r.ConversationID
		}
		s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "last", "conversation_id": conv})
		req := fake.last(t)
		history := req.Messages[1 : len(req.Messages)-1]
		if len(history) != 100 {
			t.Fatalf("%d history messages, want 100", len(history))
		}
		for i, m := range history {
			// The history starts at chat 31's message (message 61 of 160).
			want, role := "ok", chat.RoleAssistant
			if i%2 == 0 {
				want, role = fmt.Sprintf("m%03d", 31+i/2), chat.RoleUser
			}
			if m.Content != want || m.Role != role {
				t.Fatalf("history[%d] = %s %q, want %s %q", i, m.Role, m.Content, role, want)
			}
		}
		if last := req.Messages[len(req.Messages)-1]; last.Content != "last" {
			t.Fatalf("last message %q", last.Content)
		}
	})
}
