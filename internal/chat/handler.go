package chat

import (
	"context"
	"net/http"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/httpapi"
)

// Handler implements the chat operations of api.Handler. Handlers
// translate only: spec types in, service calls, spec types out. The
// streaming form of chatCompletion is served by Stream (sse.go).
type Handler struct {
	chats *Service
}

// NewHandler returns the chat handler.
func NewHandler(chats *Service) *Handler { return &Handler{chats: chats} }

// callerOf is the authenticated caller as the chat service sees it.
func callerOf(p *account.Principal) Caller {
	return Caller{User: p.User, MAC: p.Session.MAC}
}

// ChatCompletion implements chatCompletion (POST /api/ai/chat/) without
// streaming.
func (h *Handler) ChatCompletion(ctx context.Context, req *api.ChatRequest) (*api.ChatReplyEnvelope, error) {
	reply, err := h.chats.Chat(ctx, Request{Caller: callerOf(account.PrincipalFrom(ctx)), Text: req.Message,
		ConversationID: req.ConversationID.Or(0), Channel: ChannelREST}, Events{})
	if err != nil {
		return nil, err
	}
	return &api.ChatReplyEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: ReplyToAPI(reply)}, nil
}

// ListConversations implements listConversations (GET /api/ai/conversations/).
func (h *Handler) ListConversations(ctx context.Context, params api.ListConversationsParams) (*api.ConversationPageEnvelope, error) {
	p := httpapi.Page(params.Page, params.PageSize)
	convs, count, err := h.chats.List(ctx, account.PrincipalFrom(ctx).User.ID, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.ConversationPageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.ConversationPage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(convs, ConversationToAPI)}}, nil
}

// GetConversation implements getConversation (GET /api/ai/conversations/{id}/).
func (h *Handler) GetConversation(ctx context.Context, params api.GetConversationParams) (*api.ConversationEnvelope, error) {
	c, err := h.chats.Get(ctx, account.PrincipalFrom(ctx).User.ID, params.ID)
	if err != nil {
		return nil, err
	}
	return &api.ConversationEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: ConversationToAPI(c)}, nil
}

// RenameConversation implements renameConversation (PATCH /api/ai/conversations/{id}/).
func (h *Handler) RenameConversation(ctx context.Context, req *api.ConversationUpdate, params api.RenameConversationParams) (*api.ConversationEnvelope, error) {
	c, err := h.chats.Rename(ctx, account.PrincipalFrom(ctx).User.ID, params.ID, req.Title)
	if err != nil {
		return nil, err
	}
	return &api.ConversationEnvelope{Success: true, Code: http.StatusOK, Message: "Conversation renamed.", Data: ConversationToAPI(c)}, nil
}

// DeleteConversation implements deleteConversation (DELETE /api/ai/conversations/{id}/).
func (h *Handler) DeleteConversation(ctx context.Context, params api.DeleteConversationParams) (*api.EmptyEnvelope, error) {
	if err := h.chats.Delete(ctx, account.PrincipalFrom(ctx).User.ID, params.ID); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Conversation deleted."}, nil
}

// ListConversationMessages implements listConversationMessages
// (GET /api/ai/conversations/{id}/messages/).
func (h *Handler) ListConversationMessages(ctx context.Context, params api.ListConversationMessagesParams) (*api.ChatMessagePageEnvelope, error) {
	p := httpapi.Page(params.Page, params.PageSize)
	msgs, count, err := h.chats.Messages(ctx, account.PrincipalFrom(ctx).User.ID, params.ID, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.ChatMessagePageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.ChatMessagePage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(msgs, MessageToAPI)}}, nil
}

// UsageToAPI converts a reply's usage.
func UsageToAPI(r Reply) api.ChatUsage {
	return api.ChatUsage{PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, TotalTokens: r.TotalTokens()}
}

// ReplyToAPI converts a stored reply.
func ReplyToAPI(r Reply) api.ChatReply {
	return api.ChatReply{
		ConversationID:     r.ConversationID,
		UserMessageID:      r.UserMessageID,
		AssistantMessageID: r.AssistantMessageID,
		Reply:              r.Text,
		FinishReason:       api.ChatFinishReason(r.FinishReason),
		Truncated:          r.Truncated,
		Provider:           r.Provider,
		Model:              r.Model,
		Usage:              UsageToAPI(r),
	}
}

// ConversationToAPI converts a conversation.
func ConversationToAPI(c Conversation) api.Conversation {
	out := api.Conversation{ID: c.ID, Title: c.Title, DeviceID: api.NilInt{Null: true},
		LastMessage: api.NilLastMessage{Null: true}, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if c.DeviceID != nil {
		out.DeviceID = api.NewNilInt(*c.DeviceID)
	}
	if c.Last != nil {
		out.LastMessage = api.NewNilLastMessage(api.LastMessage{Role: api.ChatRole(c.Last.Role), Preview: c.Last.Preview, CreatedAt: c.Last.CreatedAt})
	}
	return out
}

// MessageToAPI converts a stored message.
func MessageToAPI(m StoredMessage) api.ChatMessage {
	return api.ChatMessage{ID: m.ID, Role: api.ChatRole(m.Role), Content: m.Content, Model: m.Model, Provider: m.Provider,
		PromptTokens: m.PromptTokens, CompletionTokens: m.CompletionTokens, LatencyMs: m.LatencyMS,
		FinishReason: m.FinishReason, Truncated: m.Truncated, CreatedAt: m.CreatedAt}
}
