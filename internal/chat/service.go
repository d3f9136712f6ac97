// Package chat owns AI conversations: conversations and their messages,
// the persona prompt, the history sent to the model, chat budgets, and the
// ways to chat: POST /api/ai/chat/ (JSON or Server-Sent Events), the
// conversation operations, and the hub's chat_request frames.
//
// It owns the interfaces it needs: Model (an LLM that streams a reply)
// and Budget (per-user limits shared by all instances). DevModel and
// RedisBudget implement them here; other implementations are wired in
// their place.
package chat

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"paradise/ent"
	"paradise/ent/chatmessage"
	"paradise/ent/conversation"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/config"
	"paradise/internal/database"
	"paradise/internal/device"
	"paradise/internal/events"
	"paradise/internal/metrics"
	"paradise/internal/paging"
)

// MaxTextChars bounds a chat message, in characters (as the specs say).
const MaxTextChars = 4000

// Devices resolves a device session's device and its current owner (the
// device service).
type Devices interface {
	ResolveOwner(ctx context.Context, rawMAC string) (int, device.Owned, error)
	// Get returns a device with its type's persona (apperr 404 when gone).
	Get(ctx context.Context, id int) (device.Device, error)
}

// Profiles reads a user's profile (the account service).
type Profiles interface {
	Get(ctx context.Context, id int) (account.User, error)
}

// Conversation is a conversation as its owner sees it.
type Conversation struct {
	ID        int
	UserID    int
	DeviceID  *int
	Title     string
	Last      *LastMessage // nil when it has no message
	CreatedAt time.Time
	UpdatedAt time.Time
}

// LastMessage previews a conversation's latest message.
type LastMessage struct {
	Role      Role
	Preview   string
	CreatedAt time.Time
}

// StoredMessage is a stored chat message.
type StoredMessage struct {
	ID               int
	Role             Role
	Content          string
	Model            string
	Provider         string
	PromptTokens     int
	CompletionTokens int
	LatencyMS        int
	FinishReason     string
	Truncated        bool
	CreatedAt        time.Time
}

// Caller is who chats: a user, through the app or (MAC set) a device.
type Caller struct {
	User account.User
	MAC  string
}

// Request is one message to the companion.
type Request struct {
	Caller Caller
	Text   string
	// ConversationID continues one of the caller's conversations; 0
	// starts a new one.
	ConversationID int
	// Channel is how the request came (metrics label); empty is
	// ChannelREST.
	Channel Channel
}

// Channel is how a chat request came in.
type Channel string

// The channels of chat requests.
const (
	ChannelREST Channel = "rest" // POST /api/ai/chat/ answered in JSON
	ChannelSSE  Channel = "sse"  // POST /api/ai/chat/ streamed
	ChannelHub  Channel = "hub"  // a chat_request frame
	ChannelRTC  Channel = "rtc"  // a turn of a voice agent (internal/rtc)
	// ChannelVoice is a voice chat (internal/voice): a transcript in, a
	// reply to be spoken out.
	ChannelVoice Channel = "voice"
)

// Started says where the user's message was stored, before the reply.
type Started struct {
	ConversationID int
	UserMessageID  int
}

// Events receive a reply as it is generated; both are optional. An error
// from either stops the reply (stored as cut short).
type Events struct {
	Start func(Started) error
	Delta func(text string) error
}

// Reply is a stored reply.
type Reply struct {
	Started
	AssistantMessageID int
	Text               string
	Completion
	Truncated bool
	LatencyMS int
}

// TotalTokens is the reply's prompt and completion tokens.
func (r Reply) TotalTokens() int { return r.PromptTokens + r.CompletionTokens }

// Service implements the chat use cases over ent.
type Service struct {
	db       *ent.Client
	sql      *database.DB
	model    Model
	budget   Budget
	devices  Devices
	profiles Profiles
	cfg      config.Chat
	metrics  *metrics.Metrics
	log      *zap.Logger
	// events tells the admin console about new conversations.
	events *events.Bus
	// templates caches device types' parsed prompt templates.
	templates templateCache
	// writer stores messages of concurrent chats in batches.
	writer *messageWriter
}

// NewService returns the chat service.
func NewService(db *database.DB, model Model, budget Budget, devices Devices, profiles Profiles, cfg config.Chat, m *metrics.Metrics, ev *events.Bus, log *zap.Logger) *Service {
	log = log.Named("chat")
	return &Service{db: db.Client, sql: db, model: model, budget: budget, devices: devices, profiles: profiles, cfg: cfg, metrics: m, events: ev, log: log,
		writer: newMessageWriter(db.Client, log)}
}

// CheckText validates a chat message's text; field names the field in the
// error (message, text).
func CheckText(field, text string) error {
	switch {
	case strings.TrimSpace(text) == "":
		return apperr.Field(field, "This field may not be blank.")
	case utf8.RuneCountInString(text) > MaxTextChars:
		return apperr.Field(field, fmt.Sprintf("Ensure this field has no more than %d characters.", MaxTextChars))
	}
	return nil
}

// errConversationNotFound answers for conversations that do not exist or
// are another user's.
func errConversationNotFound() error { return apperr.NotFound("Conversation not found.") }

// Chat stores the caller's message, asks the model with the persona and
// the history, streams the reply to ev and stores it. A reply cut short
// (ctx ended, an event failed, the model failed after some text) is stored
// with Truncated set and returned together with the error that cut it.
// A model failing before any text is a 503 (CodeModelUnavailable); the
// user's message stays stored.
func (s *Service) Chat(ctx context.Context, req Request, ev Events) (Reply, error) {
	reply, err := s.chat(ctx, req, ev)
	s.count(ctx, req.Channel, reply, err)
	return reply, err
}

// count records a chat request's outcome and any budget refusal; the
// labels are bounded (the channels, a fixed set of outcomes and kinds).
func (s *Service) count(ctx context.Context, channel Channel, reply Reply, err error) {
	if channel == "" {
		channel = ChannelREST
	}
	var ae *apperr.Error
	isApp := errors.As(err, &ae)
	outcome := "failed"
	switch {
	case err == nil && !reply.Truncated:
		outcome = "ok"
	case isApp && ae.Status == http.StatusTooManyRequests:
		outcome = "rejected"
		kind := "other"
		switch ae.Code {
		case CodeDailyMessages:
			kind = "messages"
		case CodeDailyTokens:
			kind = "tokens"
		case CodeStreams:
			kind = "streams"
		}
		s.metrics.ChatQuotaRejections.WithLabelValues(kind).Inc()
	case reply.Truncated:
		outcome = "cut_short"
	case ctx.Err() != nil || !isModelFailure(err):
		outcome = "canceled"
	case isApp && ae.Code == CodeModelUnavailable:
		outcome = "model_unavailable"
	case isApp && ae.Status < 500:
		outcome = "invalid"
	}
	s.metrics.ChatRequests.WithLabelValues(string(channel), outcome).Inc()
}

// replyStoreTimeout bounds storing a finished reply (see chat).
const replyStoreTimeout = 30 * time.Second

func (s *Service) chat(ctx context.Context, req Request, ev Events) (Reply, error) {
	start := time.Now()
	if err := CheckText("message", req.Text); err != nil {
		return Reply{}, err
	}
	userID := req.Caller.User.ID
	var dev *device.Device
	if req.Caller.MAC != "" {
		owner, owned, err := s.devices.ResolveOwner(ctx, req.Caller.MAC)
		if err == nil && owner == userID {
			dev = &owned.Device
		} else if err != nil && !isClientError(err) {
			return Reply{}, err
		}
	}
	// A conversation that is not the caller's is refused before any
	// budget is spent; its history is read with it.
	var conv *conversationRef
	var history []Message
	if req.ConversationID != 0 {
		var err error
		if conv, history, err = s.continueConversation(ctx, userID, req.ConversationID); err != nil {
			return Reply{}, err
		}
	}
	if err := s.budget.TakeMessage(ctx, userID); err != nil {
		return Reply{}, err
	}
	release, err := s.budget.AcquireStream(ctx, userID)
	if err != nil {
		return Reply{}, err
	}
	defer release()

	var convDevice *int
	if conv != nil {
		convDevice = conv.DeviceID
	}
	speaker, err := s.promptDevice(ctx, dev, convDevice)
	if err != nil {
		return Reply{}, err
	}
	system, err := s.systemPrompt(req.Caller.User, speaker)
	if err != nil {
		return Reply{}, fmt.Errorf("chat: persona: %w", err)
	}
	msgs := make([]Message, 0, len(history)+2)
	msgs = append(msgs, Message{Role: RoleSystem, Content: system})
	msgs = append(msgs, history...)
	msgs = append(msgs, Message{Role: RoleUser, Content: req.Text})
	promptTokens := estimateMessages(msgs)

	// The user's message is stored while the model starts: a provider's
	// first token takes far longer than the insert, so storing it first
	// would add the database's time to the time to first token. The
	// start event, with the stored ids, still comes before any text, and
	// the model is stopped if the message cannot be stored.
	modelCtx, cancelModel := context.WithCancel(ctx)
	defer cancelModel()
	stored := make(chan storeResult, 1)
	go func() {
		st, err := s.storeUserMessage(ctx, conv, userID, dev, req.Text)
		if err != nil {
			cancelModel()
		}
		stored <- storeResult{st, err}
	}()
	var started Started
	var startErr error
	begun := false
	// begin waits for the stored message and sends the start event, once;
	// its error is the store's or the event's.
	begin := func() error {
		if begun {
			return startErr
		}
		begun = true
		r := <-stored
		if startErr = r.err; startErr != nil {
			return startErr
		}
		started = r.started
		if ev.Start != nil {
			startErr = ev.Start(started)
		}
		return startErr
	}

	var text strings.Builder
	done, modelErr := s.model.Complete(modelCtx, ModelRequest{Messages: msgs}, func(delta string) error {
		if delta == "" {
			return nil
		}
		if err := begin(); err != nil {
			return &sinkError{err}
		}
		text.WriteString(delta)
		if ev.Delta != nil {
			if err := ev.Delta(delta); err != nil {
				return &sinkError{err}
			}
		}
		return nil
	})
	if err := begin(); err != nil {
		// Nothing of the reply reached the caller.
		return Reply{Started: started}, err
	}
	reply := Reply{Started: started, Text: text.String(), Completion: done}
	if modelErr != nil && text.Len() == 0 {
		if ctx.Err() != nil {
			return reply, ctx.Err()
		}
		s.log.Warn("Model failed", zap.String("provider", done.Provider), zap.Error(modelErr))
		return reply, modelUnavailable(modelErr)
	}
	if modelErr != nil {
		reply.Truncated = true
		reply.FinishReason = FinishError
		if ctx.Err() != nil || !isModelFailure(modelErr) {
			reply.FinishReason = FinishCancelled
		}
	}
	if reply.FinishReason == "" {
		reply.FinishReason = FinishStop
	}
	if reply.PromptTokens == 0 {
		reply.PromptTokens = promptTokens
	}
	if reply.CompletionTokens == 0 {
		reply.CompletionTokens = EstimateTokens(reply.Text)
	}
	reply.LatencyMS = int(time.Since(start) / time.Millisecond)

	// The reply is stored even when the client went away. The user may
	// already have read it, so it waits longer than a request would for a
	// database connection: under a burst of chats the pool is the queue.
	store, cancel := context.WithTimeout(context.WithoutCancel(ctx), replyStoreTimeout)
	defer cancel()
	id, err := s.storeReply(store, started.ConversationID, reply)
	if err != nil {
		return reply, err
	}
	reply.AssistantMessageID = id
	if err := s.budget.AddTokens(store, userID, reply.TotalTokens()); err != nil {
		s.log.Warn("Could not count chat tokens", zap.Int("user_id", userID), zap.Error(err))
	}
	if modelErr != nil {
		if reply.FinishReason == FinishError {
			s.log.Warn("Model failed mid-reply", zap.String("provider", done.Provider), zap.Error(modelErr))
			return reply, modelUnavailable(modelErr)
		}
		return reply, modelErr
	}
	return reply, nil
}

// storeResult is the outcome of storing the user's message.
type storeResult struct {
	started Started
	err     error
}

// isModelFailure reports whether err is the model's own failure, rather
// than an event sink's (a client that went away) or the context's.
func isModelFailure(err error) bool {
	var sink *sinkError
	return !errors.As(err, &sink) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// sinkError wraps an error of an event sink (the client's side).
type sinkError struct{ err error }

func (e *sinkError) Error() string { return "chat: client: " + e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// isClientError reports whether err is an answer for the client (an
// apperr below 500), not a failure.
func isClientError(err error) bool {
	var ae *apperr.Error
	return errors.As(err, &ae) && ae.Status < 500
}

// openConversation returns the caller's conversation id (nil for a new
// conversation, created with the first message).
func (s *Service) openConversation(ctx context.Context, userID, id int) (*ent.Conversation, error) {
	if id == 0 {
		return nil, nil
	}
	c, err := s.db.Conversation.Query().Where(conversation.ID(id), conversation.UserID(userID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errConversationNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("chat: conversation %d: %w", id, err)
	}
	return c, nil
}

// historyScan bounds the messages read to fill the history budget, and
// historyBatch is how many one read fetches: a budget of a couple of
// thousand tokens usually fills within one batch, so a long conversation
// does not cost a read of its whole tail on every message.
const (
	historyScan  = 200
	historyBatch = 64
)

// conversationRef is what a chat needs of the conversation it continues.
type conversationRef struct {
	ID       int
	DeviceID *int
}

// historyQuery reads one of a user's conversations with a batch of its
// messages older than $1, newest first: one round trip for the ownership
// check, the conversation's device and (usually) the whole history. With
// no such message it returns the conversation alone (NULL message
// columns); with no row the conversation is not the user's. Placeholders
// are numbered in order of appearance (Rebind turns them into ? for SQLite).
const historyQuery = `SELECT c.device_id, m.id, m.role, m.content
FROM conversations c
LEFT JOIN chat_messages m ON m.conversation_id = c.id AND m.id < $1
WHERE c.id = $2 AND c.user_id = $3
ORDER BY m.id DESC
LIMIT $4`

// continueConversation returns one of the user's conversations and its
// latest messages, oldest first, whose estimated tokens fit
// cfg.HistoryTokens (the oldest turns are dropped first). Another user's
// conversation, or none, is a 404.
func (s *Service) continueConversation(ctx context.Context, userID, id int) (*conversationRef, []Message, error) {
	budget := s.cfg.HistoryTokens
	var conv *conversationRef
	var out []Message
	before := int64(math.MaxInt64) // the next batch's messages are older than this id
scan:
	for scanned := 0; scanned < historyScan; {
		rows, err := s.sql.SQL.QueryContext(ctx, s.sql.Rebind(historyQuery), before, id, userID, min(historyBatch, historyScan-scanned))
		if err != nil {
			return nil, nil, fmt.Errorf("chat: history of conversation %d: %w", id, err)
		}
		n, full := 0, false
		for rows.Next() {
			var dev, msgID sql.NullInt64
			var role, content sql.NullString
			if err := rows.Scan(&dev, &msgID, &role, &content); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("chat: history of conversation %d: %w", id, err)
			}
			if conv == nil {
				conv = &conversationRef{ID: id}
				if dev.Valid {
					d := int(dev.Int64)
					conv.DeviceID = &d
				}
			}
			if !msgID.Valid || full {
				continue
			}
			n++
			before = msgID.Int64
			cost := EstimateTokens(content.String) + messageOverhead
			if cost > budget {
				full = true
				continue
			}
			budget -= cost
			out = append(out, Message{Role: Role(role.String), Content: content.String})
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("chat: history of conversation %d: %w", id, err)
		}
		if conv == nil {
			return nil, nil, errConversationNotFound()
		}
		if full || n < historyBatch {
			break scan
		}
		scanned += n
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return conv, out, nil
}

// titleChars bounds a conversation title.
const titleChars = 100

// titleOf derives a new conversation's title from its first message.
func titleOf(text string) string {
	t := strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(t) > titleChars {
		t = string([]rune(t)[:titleChars-1]) + "…"
	}
	return t
}

// storeUserMessage stores the caller's message, creating the conversation
// when conv is nil.
func (s *Service) storeUserMessage(ctx context.Context, conv *conversationRef, userID int, dev *device.Device, text string) (Started, error) {
	now := time.Now()
	if conv != nil {
		id, err := s.addMessage(ctx, conv.ID, now, s.db.ChatMessage.Create().SetRole(chatmessage.RoleUser).SetContent(text))
		return Started{ConversationID: conv.ID, UserMessageID: id}, err
	}
	var started Started
	err := database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		create := tx.Conversation.Create().SetUserID(userID).SetTitle(titleOf(text)).SetCreatedAt(now).SetUpdatedAt(now)
		if dev != nil {
			create.SetDeviceID(dev.ID)
		}
		c, err := create.Save(ctx)
		if err != nil {
			return fmt.Errorf("chat: create conversation: %w", err)
		}
		m, err := tx.ChatMessage.Create().SetConversationID(c.ID).SetRole(chatmessage.RoleUser).
			SetContent(text).SetCreatedAt(now).Save(ctx)
		if err != nil {
			return fmt.Errorf("chat: store message: %w", err)
		}
		started = Started{ConversationID: c.ID, UserMessageID: m.ID}
		return nil
	})
	if err == nil {
		ev := events.Event{Type: events.ConversationCreated, UserID: userID, ConversationID: started.ConversationID}
		if dev != nil {
			ev.DeviceID, ev.MAC = dev.ID, dev.MACAddress
		}
		s.events.Publish(ctx, ev)
	}
	return started, err
}

// storeReply stores a reply and touches its conversation.
func (s *Service) storeReply(ctx context.Context, convID int, r Reply) (int, error) {
	return s.addMessage(ctx, convID, time.Now(), s.db.ChatMessage.Create().SetRole(chatmessage.RoleAssistant).
		SetContent(r.Text).SetModel(clip(r.Model, 100)).SetProvider(clip(r.Provider, 64)).
		SetPromptTokens(r.PromptTokens).SetCompletionTokens(r.CompletionTokens).
		SetLatencyMs(r.LatencyMS).SetFinishReason(clip(r.FinishReason, 32)).SetTruncated(r.Truncated))
}

// addMessage inserts a message into an existing conversation and marks
// the conversation active, together with the messages of other chats
// (messageWriter).
func (s *Service) addMessage(ctx context.Context, convID int, now time.Time, create *ent.ChatMessageCreate) (int, error) {
	return s.writer.add(ctx, convID, now, create)
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// List returns a page of the user's conversations, most recently active
// first, with their last messages, and their count.
func (s *Service) List(ctx context.Context, userID int, page paging.Page) ([]Conversation, int, error) {
	q := s.db.Conversation.Query().Where(conversation.UserID(userID))
	count, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("chat: count conversations of user %d: %w", userID, err)
	}
	if err := page.Check(count); err != nil {
		return nil, 0, err
	}
	rows, err := q.Order(ent.Desc(conversation.FieldUpdatedAt), ent.Desc(conversation.FieldID)).
		Offset(page.Offset()).Limit(page.Size).All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("chat: list conversations of user %d: %w", userID, err)
	}
	out := make([]Conversation, len(rows))
	for i, c := range rows {
		if out[i], err = s.withLast(ctx, c); err != nil {
			return nil, 0, err
		}
	}
	return out, count, nil
}

// previewChars bounds a last-message preview.
const previewChars = 100

// withLast converts a conversation, reading its last message.
func (s *Service) withLast(ctx context.Context, c *ent.Conversation) (Conversation, error) {
	out := Conversation{ID: c.ID, UserID: c.UserID, DeviceID: c.DeviceID, Title: c.Title, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	m, err := s.db.ChatMessage.Query().Where(chatmessage.ConversationID(c.ID)).
		Order(ent.Desc(chatmessage.FieldID)).First(ctx)
	switch {
	case ent.IsNotFound(err):
		return out, nil
	case err != nil:
		return out, fmt.Errorf("chat: last message of conversation %d: %w", c.ID, err)
	}
	out.Last = &LastMessage{Role: Role(m.Role), Preview: clip(m.Content, previewChars), CreatedAt: m.CreatedAt}
	return out, nil
}

// Get returns one of the user's conversations.
func (s *Service) Get(ctx context.Context, userID, id int) (Conversation, error) {
	c, err := s.openConversation(ctx, userID, id)
	if err != nil {
		return Conversation{}, err
	}
	return s.withLast(ctx, c)
}

// Rename sets the title of one of the user's conversations.
func (s *Service) Rename(ctx context.Context, userID, id int, title string) (Conversation, error) {
	title = strings.TrimSpace(title)
	if title == "" {
		return Conversation{}, apperr.Field("title", "This field may not be blank.")
	}
	n, err := s.db.Conversation.Update().Where(conversation.ID(id), conversation.UserID(userID)).
		SetTitle(title).SetUpdatedAt(time.Now()).Save(ctx)
	if err != nil {
		return Conversation{}, fmt.Errorf("chat: rename conversation %d: %w", id, err)
	}
	if n == 0 {
		return Conversation{}, errConversationNotFound()
	}
	return s.Get(ctx, userID, id)
}

// Delete deletes one of the user's conversations with its messages.
func (s *Service) Delete(ctx context.Context, userID, id int) error {
	return database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		c, err := tx.Conversation.Query().Where(conversation.ID(id), conversation.UserID(userID)).Only(ctx)
		if ent.IsNotFound(err) {
			return errConversationNotFound()
		}
		if err != nil {
			return fmt.Errorf("chat: conversation %d: %w", id, err)
		}
		if _, err := tx.ChatMessage.Delete().Where(chatmessage.ConversationID(c.ID)).Exec(ctx); err != nil {
			return fmt.Errorf("chat: delete messages of conversation %d: %w", id, err)
		}
		if err := tx.Conversation.DeleteOneID(c.ID).Exec(ctx); err != nil {
			return goneAsNotFound(fmt.Errorf("chat: delete conversation %d: %w", id, err))
		}
		return nil
	})
}

// goneAsNotFound reports a conversation deleted by a concurrent request
// (the row vanished under an update or delete, or a message's foreign key
// no longer finds it) as the 404 the caller would get a moment later.
func goneAsNotFound(err error) error {
	if ent.IsNotFound(err) || ent.IsConstraintError(err) {
		return errConversationNotFound()
	}
	return err
}

// Messages returns a page of one of the user's conversations' messages,
// in order, and their count.
func (s *Service) Messages(ctx context.Context, userID, id int, page paging.Page) ([]StoredMessage, int, error) {
	if _, err := s.openConversation(ctx, userID, id); err != nil {
		return nil, 0, err
	}
	return s.messages(ctx, id, page)
}

// messages returns a page of a conversation's messages, in order, and
// their count.
func (s *Service) messages(ctx context.Context, id int, page paging.Page) ([]StoredMessage, int, error) {
	q := s.db.ChatMessage.Query().Where(chatmessage.ConversationID(id))
	count, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("chat: count messages of conversation %d: %w", id, err)
	}
	if err := page.Check(count); err != nil {
		return nil, 0, err
	}
	rows, err := q.Order(ent.Asc(chatmessage.FieldID)).Offset(page.Offset()).Limit(page.Size).All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("chat: messages of conversation %d: %w", id, err)
	}
	out := make([]StoredMessage, len(rows))
	for i, m := range rows {
		out[i] = StoredMessage{ID: m.ID, Role: Role(m.Role), Content: m.Content, Model: m.Model, Provider: m.Provider,
			PromptTokens: m.PromptTokens, CompletionTokens: m.CompletionTokens, LatencyMS: m.LatencyMs,
			FinishReason: m.FinishReason, Truncated: m.Truncated, CreatedAt: m.CreatedAt}
	}
	return out, count, nil
}
