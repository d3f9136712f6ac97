package chat_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/fx"

	"paradise/internal/account"
	"paradise/internal/chat"
	"paradise/internal/database"
	"paradise/internal/metrics"
	"paradise/internal/testenv"
)

// auditEnv is a service with two users' conversations and two admins.
type auditEnv struct {
	*testenv.Service
	db      *database.DB
	metrics *metrics.Metrics
	budget  chat.Budget

	admin, admin2 string // tokens of two staff users
	alice, bob    testenv.Login
	deviceID      int
	mac           string
	a1, a2, b1    int // alice's app and device conversations, bob's (backdated)
	backdated     time.Time
}

func adminToken(t *testing.T, s *testenv.Service, accounts *account.Service) string {
	t.Helper()
	name := testenv.Name("staff")
	if _, err := accounts.CreateSuperuser(context.Background(), name, testenv.Password); err != nil {
		t.Fatal(err)
	}
	res := s.Do(t, "POST", "/api/v1/admin/login/", "", map[string]any{"username": name, "password": testenv.Password})
	if res.Status != 200 {
		t.Fatalf("admin login: %d %s", res.Status, res.Body)
	}
	var d struct {
		Token string `json:"token"`
	}
	res.Decode(t, &d)
	return d.Token
}

func chatOnce(t *testing.T, s *testenv.Service, token, text string) int {
	t.Helper()
	res := s.Do(t, "POST", "/api/ai/chat/", token, map[string]any{"message": text})
	if res.Status != 200 {
		t.Fatalf("chat: %d %s", res.Status, res.Body)
	}
	var r reply
	res.Decode(t, &r)
	return r.ConversationID
}

func newAuditEnv(t *testing.T, b testenv.Backend) *auditEnv {
	t.Helper()
	e := &auditEnv{}
	var accounts *account.Service
	e.Service = testenv.Start(t, b, fx.Decorate(func() chat.Model { return newFake() }),
		fx.Populate(&accounts, &e.db, &e.metrics, &e.budget))
	e.admin = adminToken(t, e.Service, accounts)
	e.admin2 = adminToken(t, e.Service, accounts)
	e.alice = e.Register(t, "alice")
	e.bob = e.Register(t, "bob")
	e.mac = testenv.RandomID()
	e.deviceID = e.Bind(t, e.alice.Token, e.mac)

	e.b1 = chatOnce(t, e.Service, e.bob.Token, "Tell me a JOKE about cats")
	e.backdated = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	e.exec(t, "UPDATE conversations SET created_at = $1, updated_at = $2 WHERE id = $3", e.backdated, e.backdated, e.b1)
	e.exec(t, "UPDATE chat_messages SET created_at = $1 WHERE conversation_id = $2", e.backdated, e.b1)
	e.a1 = chatOnce(t, e.Service, e.alice.Token, "Good morning sunshine")
	e.a2 = chatOnce(t, e.Service, e.MacLogin(t, e.mac).Token, "Weather in Paris?")
	return e
}

func (e *auditEnv) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	for i, a := range args {
		if tm, ok := a.(time.Time); ok {
			args[i] = tm.In(time.Local) // as the service stores times
		}
	}
	if _, err := e.db.SQL.ExecContext(t.Context(), e.db.Rebind(query), args...); err != nil {
		t.Fatal(err)
	}
}

type auditConv struct {
	ID    int `json:"id"`
	Owner struct {
		ID       int    `json:"id"`
		Username string `json:"username"`
	} `json:"owner"`
	Device *struct {
		ID         int    `json:"id"`
		MACAddress string `json:"mac_address"`
	} `json:"device"`
	Title         string     `json:"title"`
	MessageCount  int        `json:"message_count"`
	LastMessageAt *time.Time `json:"last_message_at"`
}

type auditPage struct {
	Count    int         `json:"count"`
	Next     *string     `json:"next"`
	Previous *string     `json:"previous"`
	Results  []auditConv `json:"results"`
}

func (e *auditEnv) list(t *testing.T, token, query string) auditPage {
	t.Helper()
	res := e.Do(t, "GET", "/api/v1/admin/conversations/?"+query, token, nil)
	if res.Status != 200 {
		t.Fatalf("list %q: %d %s", query, res.Status, res.Body)
	}
	var p auditPage
	res.Decode(t, &p)
	return p
}

func ids(p auditPage) []int {
	out := []int{}
	for _, c := range p.Results {
		out = append(out, c.ID)
	}
	return out
}

func TestAuditConversations(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		e := newAuditEnv(t, b)
		today := time.Now().UTC().Format(time.DateOnly)
		tests := []struct {
			name  string
			query url.Values
			want  []int
		}{
			{"all, newest first", url.Values{}, []int{e.a2, e.a1, e.b1}},
			{"user", url.Values{"user_id": {fmt.Sprint(e.alice.User.ID)}}, []int{e.a2, e.a1}},
			{"other user", url.Values{"user_id": {fmt.Sprint(e.bob.User.ID)}}, []int{e.b1}},
			{"device", url.Values{"device_id": {fmt.Sprint(e.deviceID)}}, []int{e.a2}},
			{"backdated day", url.Values{"from": {"2026-01-10"}, "to": {"2026-01-10"}}, []int{e.b1}},
			{"before anything", url.Values{"to": {"2026-01-09"}}, []int{}},
			{"after the backdated day", url.Values{"from": {"2026-01-11"}}, []int{e.a2, e.a1}},
			{"today", url.Values{"from": {today}, "to": {today}}, []int{e.a2, e.a1}},
			{"text, case-insensitive", url.Values{"text": {"joke"}}, []int{e.b1}},
			{"text, upper case", url.Values{"text": {"PARIS"}}, []int{e.a2}},
			{"text of a reply", url.Values{"text": {"FROM THE fake"}}, []int{e.a2, e.a1, e.b1}},
			{"text nowhere", url.Values{"text": {"zebra"}}, []int{}},
			{"filters combine", url.Values{"user_id": {fmt.Sprint(e.bob.User.ID)}, "text": {"paris"}}, []int{}},
			{"all filters", url.Values{"user_id": {fmt.Sprint(e.alice.User.ID)}, "device_id": {fmt.Sprint(e.deviceID)},
				"from": {today}, "to": {today}, "text": {"weather"}}, []int{e.a2}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				p := e.list(t, e.admin, tc.query.Encode())
				if got := ids(p); fmt.Sprint(got) != fmt.Sprint(tc.want) || p.Count != len(tc.want) {
					t.Fatalf("got %v (count %d), want %v", got, p.Count, tc.want)
				}
			})
		}

		t.Run("fields", func(t *testing.T) {
			byID := map[int]auditConv{}
			for _, c := range e.list(t, e.admin, "").Results {
				byID[c.ID] = c
			}
			a2, b1 := byID[e.a2], byID[e.b1]
			if a2.Owner.ID != e.alice.User.ID || a2.Owner.Username != e.alice.User.Username ||
				a2.Device == nil || a2.Device.ID != e.deviceID || a2.Title != "Weather in Paris?" {
				t.Fatalf("device conversation %+v", a2)
			}
			if b1.Device != nil || b1.Owner.ID != e.bob.User.ID || b1.MessageCount != 2 || b1.LastMessageAt == nil ||
				!b1.LastMessageAt.Equal(e.backdated) {
				t.Fatalf("app conversation %+v", b1)
			}
		})

		t.Run("pagination", func(t *testing.T) {
			p := e.list(t, e.admin, "page=2&page_size=1")
			if fmt.Sprint(ids(p)) != fmt.Sprint([]int{e.a1}) || p.Count != 3 || p.Next == nil || p.Previous == nil {
				t.Fatalf("page 2: %+v", p)
			}
			if res := e.Do(t, "GET", "/api/v1/admin/conversations/?page=4&page_size=1", e.admin, nil); res.Status != 404 {
				t.Fatalf("page past the last: %d %s", res.Status, res.Body)
			}
		})

		t.Run("another admin sees all", func(t *testing.T) {
			if got := ids(e.list(t, e.admin2, "")); fmt.Sprint(got) != fmt.Sprint([]int{e.a2, e.a1, e.b1}) {
				t.Fatalf("second admin sees %v", got)
			}
		})

		t.Run("refusals", func(t *testing.T) {
			for _, tc := range []struct {
				name, path, token string
				status            int
			}{
				{"from after to", "/api/v1/admin/conversations/?from=2026-02-02&to=2026-02-01", e.admin, 400},
				{"bad date", "/api/v1/admin/conversations/?to=2026-13-01", e.admin, 400},
				{"text too long", "/api/v1/admin/conversations/?text=" + strings.Repeat("x", 201), e.admin, 400},
				{"no token", "/api/v1/admin/conversations/", "", 401},
				{"user token", "/api/v1/admin/conversations/", e.alice.Token, 401},
				{"user token, messages", fmt.Sprintf("/api/v1/admin/conversations/%d/messages/", e.a1), e.alice.Token, 401},
				{"user token, usage", fmt.Sprintf("/api/v1/admin/users/%d/chat-usage/", e.alice.User.ID), e.alice.Token, 401},
				{"unknown conversation", "/api/v1/admin/conversations/999999/messages/", e.admin, 404},
				{"unknown user", "/api/v1/admin/users/999999/chat-usage/", e.admin, 404},
				{"usage range too long", fmt.Sprintf("/api/v1/admin/users/%d/chat-usage/?from=2024-01-01&to=2026-01-01", e.bob.User.ID), e.admin, 400},
				{"usage from after to", fmt.Sprintf("/api/v1/admin/users/%d/chat-usage/?from=2026-01-02&to=2026-01-01", e.bob.User.ID), e.admin, 400},
			} {
				if res := e.Do(t, "GET", tc.path, tc.token, nil); res.Status != tc.status || res.Code != tc.status {
					t.Errorf("%s: %d/%d %s, want %d", tc.name, res.Status, res.Code, res.Body, tc.status)
				}
			}
		})

		t.Run("messages", func(t *testing.T) {
			for _, token := range []string{e.admin, e.admin2} {
				res := e.Do(t, "GET", fmt.Sprintf("/api/v1/admin/conversations/%d/messages/", e.b1), token, nil)
				if res.Status != 200 {
					t.Fatalf("messages: %d %s", res.Status, res.Body)
				}
				var p struct {
					Count   int       `json:"count"`
					Results []message `json:"results"`
				}
				res.Decode(t, &p)
				if p.Count != 2 || len(p.Results) != 2 || p.Results[0].Role != "user" || p.Results[0].Content != "Tell me a JOKE about cats" ||
					p.Results[1].Role != "assistant" || p.Results[1].Provider != "fake" || p.Results[1].PromptTokens != 100 ||
					p.Results[1].CompletionTokens != 4 || p.Results[1].FinishReason != "stop" || p.Results[1].Truncated {
					t.Fatalf("messages %+v", p)
				}
			}
			res := e.Do(t, "GET", fmt.Sprintf("/api/v1/admin/conversations/%d/messages/?page=2&page_size=1", e.b1), e.admin, nil)
			var p struct {
				Results []message `json:"results"`
			}
			res.Decode(t, &p)
			if len(p.Results) != 1 || p.Results[0].Role != "assistant" {
				t.Fatalf("page 2 of messages: %s", res.Body)
			}
		})
	})
}

type usageFigures struct {
	Date             string `json:"date"`
	Messages         int    `json:"messages"`
	Replies          int    `json:"replies"`
	PromptTokens     int    `json:"prompt_tokens"`
	CompletionTokens int    `json:"completion_tokens"`
	TotalTokens      int    `json:"total_tokens"`
}

type usageReport struct {
	UserID int            `json:"user_id"`
	From   string         `json:"from"`
	To     string         `json:"to"`
	Days   []usageFigures `json:"days"`
	Totals usageFigures   `json:"totals"`
	Today  struct {
		Date               string `json:"date"`
		MessagesUsed       int    `json:"messages_used"`
		MessagesLimit      int    `json:"messages_limit"`
		TokensUsed         int    `json:"tokens_used"`
		TokensLimit        int    `json:"tokens_limit"`
		SpeechSecondsUsed  int    `json:"speech_seconds_used"`
		SpeechSecondsLimit int    `json:"speech_seconds_limit"`
	} `json:"today"`
}

func (e *auditEnv) usage(t *testing.T, userID int, query string) usageReport {
	t.Helper()
	res := e.Do(t, "GET", fmt.Sprintf("/api/v1/admin/users/%d/chat-usage/?%s", userID, query), e.admin, nil)
	if res.Status != 200 {
		t.Fatalf("usage: %d %s", res.Status, res.Body)
	}
	var r usageReport
	res.Decode(t, &r)
	return r
}

func TestAuditUsage(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		e := newAuditEnv(t, b)
		// Bob's backdated conversation: one message and one reply on 10 January.
		r := e.usage(t, e.bob.User.ID, "from=2026-01-09&to=2026-01-11")
		want := []usageFigures{
			{Date: "2026-01-09"},
			{Date: "2026-01-10", Messages: 1, Replies: 1, PromptTokens: 100, CompletionTokens: 4, TotalTokens: 104},
			{Date: "2026-01-11"},
		}
		if r.UserID != e.bob.User.ID || r.From != "2026-01-09" || r.To != "2026-01-11" || fmt.Sprint(r.Days) != fmt.Sprint(want) {
			t.Fatalf("bob's usage %+v", r)
		}
		if r.Totals != (usageFigures{Messages: 1, Replies: 1, PromptTokens: 100, CompletionTokens: 4, TotalTokens: 104}) {
			t.Fatalf("bob's totals %+v", r.Totals)
		}

		// Alice's default range: the last 7 days, today last, matching
		// her stored messages; today's budget counters match too.
		r = e.usage(t, e.alice.User.ID, "")
		today := time.Now().UTC().Format(time.DateOnly)
		if len(r.Days) != chat.DefaultUsageDays || r.To != today || r.Days[len(r.Days)-1].Date != today {
			t.Fatalf("default range %+v", r)
		}
		var stored usageFigures
		for _, conv := range []int{e.a1, e.a2} {
			for _, m := range messages(t, e.Service, e.alice.Token, conv) {
				if m.Role == "user" {
					stored.Messages++
				} else {
					stored.Replies++
				}
				stored.PromptTokens += m.PromptTokens
				stored.CompletionTokens += m.CompletionTokens
			}
		}
		stored.TotalTokens = stored.PromptTokens + stored.CompletionTokens
		stored.Date = today
		if got := r.Days[len(r.Days)-1]; got != stored || stored.Messages != 2 {
			t.Fatalf("today %+v, stored messages say %+v", got, stored)
		}
		if r.Today.Date != today || r.Today.MessagesUsed != 2 || r.Today.TokensUsed != stored.TotalTokens ||
			r.Today.MessagesLimit != e.Config.Chat.MessagesPerDay || r.Today.TokensLimit != e.Config.Chat.TokensPerDay {
			t.Fatalf("today's budget %+v (stored %+v)", r.Today, stored)
		}

		// Speech seconds: none spoken yet; recognition and synthesis
		// seconds added through the budget are reported for that user
		// only, with the configured limit (the default, not 0, so a
		// missing mapping shows).
		limit := e.Config.Speech.SecondsPerDay
		if limit == 0 {
			t.Fatal("the test needs a speech limit")
		}
		if r.Today.SpeechSecondsUsed != 0 || r.Today.SpeechSecondsLimit != limit {
			t.Fatalf("speech before any audio %+v, want 0 of %d", r.Today, limit)
		}
		for _, secs := range []int{7, 5} {
			if err := e.budget.AddSpeech(t.Context(), e.alice.User.ID, secs); err != nil {
				t.Fatal(err)
			}
		}
		r = e.usage(t, e.alice.User.ID, "")
		if r.Today.SpeechSecondsUsed != 12 || r.Today.SpeechSecondsLimit != limit || r.Today.MessagesUsed != 2 {
			t.Fatalf("speech after 12 seconds %+v, want 12 of %d", r.Today, limit)
		}
		if r = e.usage(t, e.bob.User.ID, ""); r.Today.SpeechSecondsUsed != 0 || r.Today.SpeechSecondsLimit != limit {
			t.Fatalf("bob's speech %+v, want 0 of %d", r.Today, limit)
		}
	})
}

func TestChatMetrics(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		cfg := testenv.Config(t, b)
		cfg.Chat.MessagesPerDay = 1
		var m *metrics.Metrics
		s := testenv.StartWith(t, cfg, fx.Decorate(func() chat.Model { return newFake() }), fx.Populate(&m))
		u := s.Register(t, "metrics")
		chatOnce(t, s, u.Token, "hi")
		for _, body := range []map[string]any{{"message": "again"}, {"message": "again", "stream": true}} {
			if res := s.Do(t, "POST", "/api/ai/chat/", u.Token, body); res.Status != 429 {
				t.Fatalf("over quota: %d %s", res.Status, res.Body)
			}
		}
		if res := s.Do(t, "POST", "/api/ai/chat/", u.Token, map[string]any{"message": "x", "conversation_id": 999999}); res.Status != 404 {
			t.Fatalf("unknown conversation: %d %s", res.Status, res.Body)
		}
		for _, c := range []struct {
			name string
			got  float64
			want float64
		}{
			{"rest ok", testutil.ToFloat64(m.ChatRequests.WithLabelValues("rest", "ok")), 1},
			{"rest rejected", testutil.ToFloat64(m.ChatRequests.WithLabelValues("rest", "rejected")), 1},
			{"sse rejected", testutil.ToFloat64(m.ChatRequests.WithLabelValues("sse", "rejected")), 1},
			{"rest invalid", testutil.ToFloat64(m.ChatRequests.WithLabelValues("rest", "invalid")), 1},
			{"messages quota", testutil.ToFloat64(m.ChatQuotaRejections.WithLabelValues("messages")), 2},
			{"tokens quota", testutil.ToFloat64(m.ChatQuotaRejections.WithLabelValues("tokens")), 0},
		} {
			if c.got != c.want {
				t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
			}
		}
		// The metrics are served: label values are the bounded ones.
		if n := testutil.CollectAndCount(m.ChatRequests); n != 4 {
			t.Errorf("%d chat request series, want 4", n)
		}
	})
}
