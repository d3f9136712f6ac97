package chat

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"paradise/ent"
	"paradise/ent/chatmessage"
	"paradise/ent/conversation"
	"paradise/ent/device"
	"paradise/ent/predicate"
	"paradise/ent/user"
	"paradise/internal/apperr"
	"paradise/internal/paging"
)

// The audit: staff read every user's conversations and chat usage. The
// admin handler (internal/admin) serves these.

// MaxAuditTextChars bounds the audit's text filter (as the spec says).
const MaxAuditTextChars = 200

// MaxUsageDays bounds the days of one usage report.
const MaxUsageDays = 366

// DefaultUsageDays is the range of a usage report without dates: the last
// week, today included.
const DefaultUsageDays = 7

// AuditFilter selects conversations; zero fields do not filter.
type AuditFilter struct {
	UserID   int
	DeviceID int
	// From and To are UTC days (their time of day is ignored), inclusive:
	// the conversation was active in the range (created on or before To,
	// last updated on or after From).
	From, To time.Time
	// Text is a case-insensitive substring of any message's content.
	Text string
}

// AuditConversation is a conversation as staff see it in the audit.
type AuditConversation struct {
	ID        int
	Owner     AuditOwner
	Device    *AuditDevice // nil for the app's conversations
	Title     string
	Messages  int
	LastAt    *time.Time // nil without messages
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AuditOwner is the user a conversation belongs to.
type AuditOwner struct {
	ID       int
	Username string
}

// AuditDevice is the device a conversation was started from.
type AuditDevice struct {
	ID         int
	MACAddress string
}

// Day is a UTC day (midnight UTC).
func Day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// dbTime is t as the database compares it: the embedded SQLite database
// stores times as text in the server's zone, so bounds are given in that
// zone too (Postgres compares instants whatever the zone).
func dbTime(t time.Time) time.Time { return t.In(time.Local) }

func checkRange(from, to time.Time) error {
	if !from.IsZero() && !to.IsZero() && Day(from).After(Day(to)) {
		return apperr.Field("from", "Must not be after to.")
	}
	return nil
}

func (f AuditFilter) predicates() ([]predicate.Conversation, error) {
	if err := checkRange(f.From, f.To); err != nil {
		return nil, err
	}
	var where []predicate.Conversation
	if f.UserID != 0 {
		where = append(where, conversation.UserID(f.UserID))
	}
	if f.DeviceID != 0 {
		where = append(where, conversation.DeviceID(f.DeviceID))
	}
	if !f.From.IsZero() {
		where = append(where, conversation.UpdatedAtGTE(dbTime(Day(f.From))))
	}
	if !f.To.IsZero() {
		where = append(where, conversation.CreatedAtLT(dbTime(Day(f.To).AddDate(0, 0, 1))))
	}
	if f.Text != "" {
		switch {
		case !utf8.ValidString(f.Text) || strings.ContainsRune(f.Text, 0):
			return nil, apperr.Field("text", "Must be valid text.")
		case utf8.RuneCountInString(f.Text) > MaxAuditTextChars:
			return nil, apperr.Field("text", fmt.Sprintf("Ensure this field has no more than %d characters.", MaxAuditTextChars))
		}
		where = append(where, conversation.HasMessagesWith(chatmessage.ContentContainsFold(f.Text)))
	}
	return where, nil
}

// Audit returns a page of every user's conversations matching f, most
// recently active first, and their count.
func (s *Service) Audit(ctx context.Context, f AuditFilter, page paging.Page) ([]AuditConversation, int, error) {
	where, err := f.predicates()
	if err != nil {
		return nil, 0, err
	}
	q := s.db.Conversation.Query().Where(where...)
	count, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("chat: count audited conversations: %w", err)
	}
	if err := page.Check(count); err != nil {
		return nil, 0, err
	}
	rows, err := q.Order(ent.Desc(conversation.FieldUpdatedAt), ent.Desc(conversation.FieldID)).
		Offset(page.Offset()).Limit(page.Size).
		WithUser(func(q *ent.UserQuery) { q.Select(user.FieldID, user.FieldUsername) }).
		WithDevice(func(q *ent.DeviceQuery) { q.Select(device.FieldID, device.FieldMACAddress) }).
		All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("chat: list audited conversations: %w", err)
	}
	stats, err := s.messageStats(ctx, rows)
	if err != nil {
		return nil, 0, err
	}
	out := make([]AuditConversation, len(rows))
	for i, c := range rows {
		a := AuditConversation{ID: c.ID, Owner: AuditOwner{ID: c.UserID}, Title: c.Title,
			CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
		if u := c.Edges.User; u != nil {
			a.Owner.Username = u.Username
		}
		if d := c.Edges.Device; d != nil {
			a.Device = &AuditDevice{ID: d.ID, MACAddress: d.MACAddress}
		}
		if st, ok := stats[c.ID]; ok {
			a.Messages = st.count
			last := st.last
			a.LastAt = &last
		}
		out[i] = a
	}
	return out, count, nil
}

type messageStat struct {
	count int
	last  time.Time
}

// messageStats counts the conversations' messages and finds the time of
// each one's latest (the message with the highest id), in two queries.
func (s *Service) messageStats(ctx context.Context, convs []*ent.Conversation) (map[int]messageStat, error) {
	if len(convs) == 0 {
		return nil, nil
	}
	ids := make([]int, len(convs))
	for i, c := range convs {
		ids[i] = c.ID
	}
	var groups []struct {
		ConversationID int `json:"conversation_id"`
		Count          int `json:"count"`
		Max            int `json:"max"`
	}
	err := s.db.ChatMessage.Query().Where(chatmessage.ConversationIDIn(ids...)).
		GroupBy(chatmessage.FieldConversationID).
		Aggregate(ent.Count(), ent.Max(chatmessage.FieldID)).
		Scan(ctx, &groups)
	if err != nil {
		return nil, fmt.Errorf("chat: count messages of audited conversations: %w", err)
	}
	lastIDs := make([]int, len(groups))
	for i, g := range groups {
		lastIDs[i] = g.Max
	}
	lasts, err := s.db.ChatMessage.Query().Where(chatmessage.IDIn(lastIDs...)).
		Select(chatmessage.FieldID, chatmessage.FieldConversationID, chatmessage.FieldCreatedAt).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("chat: last messages of audited conversations: %w", err)
	}
	out := make(map[int]messageStat, len(groups))
	for _, g := range groups {
		out[g.ConversationID] = messageStat{count: g.Count}
	}
	for _, m := range lasts {
		st := out[m.ConversationID]
		st.last = m.CreatedAt
		out[m.ConversationID] = st
	}
	return out, nil
}

// AuditMessages returns a page of any conversation's messages, in order,
// and their count.
func (s *Service) AuditMessages(ctx context.Context, id int, page paging.Page) ([]StoredMessage, int, error) {
	exists, err := s.db.Conversation.Query().Where(conversation.ID(id)).Exist(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("chat: conversation %d: %w", id, err)
	}
	if !exists {
		return nil, 0, errConversationNotFound()
	}
	return s.messages(ctx, id, page)
}

// UsageFigures are chat usage figures over a period.
type UsageFigures struct {
	Messages         int // the user's messages
	Replies          int // replies stored
	PromptTokens     int
	CompletionTokens int
}

// TotalTokens is the prompt and completion tokens.
func (f UsageFigures) TotalTokens() int { return f.PromptTokens + f.CompletionTokens }

func (f *UsageFigures) add(o UsageFigures) {
	f.Messages += o.Messages
	f.Replies += o.Replies
	f.PromptTokens += o.PromptTokens
	f.CompletionTokens += o.CompletionTokens
}

// UsageDay is the usage of one UTC day.
type UsageDay struct {
	Date time.Time // midnight UTC
	UsageFigures
}

// BudgetToday is a user's live budget counters of the current UTC day and
// the configured limits (0: no limit). Speech seconds exist only here:
// past days' speech is not stored, so UsageDay has none.
type BudgetToday struct {
	Date                                  time.Time
	MessagesUsed, MessagesLimit           int
	TokensUsed, TokensLimit               int
	SpeechSecondsUsed, SpeechSecondsLimit int
}

// UsageReport is a user's chat usage per UTC day.
type UsageReport struct {
	UserID   int
	From, To time.Time // UTC days, inclusive
	Days     []UsageDay
	Totals   UsageFigures
	Today    BudgetToday
}

// UsageRange resolves a report's range: missing ends default to today and
// the DefaultUsageDays before it; at most MaxUsageDays.
func UsageRange(from, to, now time.Time) (time.Time, time.Time, error) {
	if err := checkRange(from, to); err != nil {
		return time.Time{}, time.Time{}, err
	}
	switch {
	case to.IsZero() && from.IsZero():
		to = Day(now)
		from = to.AddDate(0, 0, -(DefaultUsageDays - 1))
	case to.IsZero():
		from = Day(from)
		to = Day(now)
		if to.Before(from) {
			to = from
		}
		if days(from, to) > MaxUsageDays {
			to = from.AddDate(0, 0, MaxUsageDays-1)
		}
	case from.IsZero():
		to = Day(to)
		from = to.AddDate(0, 0, -(DefaultUsageDays - 1))
	default:
		from, to = Day(from), Day(to)
	}
	if days(from, to) > MaxUsageDays {
		return time.Time{}, time.Time{}, apperr.Field("from", fmt.Sprintf("A usage report covers at most %d days.", MaxUsageDays))
	}
	return from, to, nil
}

// days counts the days from from to to, both included.
func days(from, to time.Time) int { return int(to.Sub(from)/(24*time.Hour)) + 1 }

// Usage reports the user's chat usage per UTC day from the stored
// messages of their conversations, and today's budget counters. The
// caller checks that the user exists; from and to (zero: open) are
// resolved by UsageRange.
func (s *Service) Usage(ctx context.Context, userID int, from, to time.Time) (UsageReport, error) {
	from, to, err := UsageRange(from, to, time.Now())
	if err != nil {
		return UsageReport{}, err
	}
	rows, err := s.db.ChatMessage.Query().
		Where(chatmessage.HasConversationWith(conversation.UserID(userID)),
			chatmessage.CreatedAtGTE(dbTime(from)), chatmessage.CreatedAtLT(dbTime(to.AddDate(0, 0, 1)))).
		Select(chatmessage.FieldRole, chatmessage.FieldPromptTokens, chatmessage.FieldCompletionTokens, chatmessage.FieldCreatedAt).
		All(ctx)
	if err != nil {
		return UsageReport{}, fmt.Errorf("chat: usage of user %d: %w", userID, err)
	}
	report := UsageReport{UserID: userID, From: from, To: to, Days: make([]UsageDay, days(from, to))}
	for i := range report.Days {
		report.Days[i].Date = from.AddDate(0, 0, i)
	}
	for _, m := range rows {
		i := int(Day(m.CreatedAt).Sub(from) / (24 * time.Hour))
		if i < 0 || i >= len(report.Days) {
			continue
		}
		var f UsageFigures
		switch m.Role {
		case chatmessage.RoleUser:
			f.Messages = 1
		case chatmessage.RoleAssistant:
			f.Replies = 1
		}
		f.PromptTokens, f.CompletionTokens = m.PromptTokens, m.CompletionTokens
		report.Days[i].add(f)
		report.Totals.add(f)
	}
	if report.Today, err = s.budget.Today(ctx, userID); err != nil {
		return UsageReport{}, err
	}
	return report, nil
}

// MessagesPerDay counts the messages users sent (role user) on each of
// days UTC days from the UTC day of from, one count per day (the
// databases group dates differently; days is small).
func (s *Service) MessagesPerDay(ctx context.Context, from time.Time, days int) ([]int, error) {
	out := make([]int, days)
	from = Day(from)
	for i := range out {
		lo, hi := dbTime(from.AddDate(0, 0, i)), dbTime(from.AddDate(0, 0, i+1))
		n, err := s.db.ChatMessage.Query().
			Where(chatmessage.RoleEQ(chatmessage.RoleUser), chatmessage.CreatedAtGTE(lo), chatmessage.CreatedAtLT(hi)).
			Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("chat: messages per day: %w", err)
		}
		out[i] = n
	}
	return out, nil
}
