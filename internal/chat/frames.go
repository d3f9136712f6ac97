package chat

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/gen/ws"
	"paradise/internal/apperr"
	"paradise/internal/hub"
)

// GroupSender sends frames to every session of a user's group, on every
// instance (the hub's Bus).
type GroupSender interface {
	SendToGroup(ctx context.Context, userID int, f ws.Frame) error
}

// maxHubChats bounds the hub chats one instance runs at once (the
// per-user bound is the Budget's); one more is refused as unavailable.
const maxHubChats = 256

// Frames answers the hub's chat_request frames: the reply is generated
// off the session's reader goroutine and sent to the whole group as
// chat_delta frames and a chat_done, so the owner's phone sees a device's
// conversation live. Refusals are error frames to the sender carrying the
// request id.
type Frames struct {
	chats    *Service
	profiles Profiles
	bus      GroupSender
	log      *zap.Logger
	slots    chan struct{}
	running  sync.WaitGroup
}

// NewFrames returns the chat frame handler and ties its in-flight replies
// to the app's lifecycle.
func NewFrames(lc fx.Lifecycle, chats *Service, profiles Profiles, bus GroupSender, log *zap.Logger) *Frames {
	fr := &Frames{chats: chats, profiles: profiles, bus: bus, log: log.Named("chat"), slots: make(chan struct{}, maxHubChats)}
	lc.Append(fx.Hook{OnStop: func(ctx context.Context) error {
		// Sessions end as the hub stops, which cancels their replies.
		done := make(chan struct{})
		go func() { fr.running.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	return fr
}

// Handler is the hub frame handler of chat_request.
func (fr *Frames) Handler() hub.FrameHandler {
	return hub.FrameHandler{Type: ws.ChatRequestFrame, Consume: true, Handle: fr.handle}
}

// handle runs on the session's reader: it checks the frame and starts the
// reply on a goroutine of its own.
func (fr *Frames) handle(ctx context.Context, s *hub.Session, f *ws.Frame) error {
	req := f.ChatRequest.Message
	if err := CheckText("text", req.Text); err != nil {
		fr.refuse(s, req.RequestID, err)
		return nil
	}
	select {
	case fr.slots <- struct{}{}:
	default:
		fr.refuse(s, req.RequestID, &apperr.Error{Status: http.StatusServiceUnavailable, Code: apperr.CodeBusy,
			Message: "The server is answering too many chats; try again shortly.", RetryAfter: 2 * time.Second})
		return nil
	}
	fr.running.Add(1)
	go func() {
		defer fr.running.Done()
		defer func() { <-fr.slots }()
		fr.reply(ctx, s, req)
	}()
	return nil
}

// reply generates one reply; ctx ends with the requesting session.
func (fr *Frames) reply(ctx context.Context, s *hub.Session, req ws.ChatRequestPayload) {
	userID := s.UserID()
	user, err := fr.profiles.Get(ctx, userID)
	if err != nil {
		fr.refuse(s, req.RequestID, err)
		return
	}
	var convID int
	reply, err := fr.chats.Chat(ctx, Request{Caller: Caller{User: user, MAC: s.MAC()}, Text: req.Text,
		ConversationID: int(req.ConversationID.Or(0)), Channel: ChannelHub}, Events{
		Start: func(st Started) error { convID = st.ConversationID; return nil },
		Delta: func(text string) error {
			return fr.bus.SendToGroup(ctx, userID, ws.NewChatDeltaFrame(ws.ChatDelta{Message: ws.ChatDeltaPayload{
				RequestID: req.RequestID, ConversationID: int64(convID), Text: text}}))
		},
	})
	if reply.AssistantMessageID != 0 {
		// Sent even when the requester is gone: the rest of the group
		// saw the deltas.
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		done := ws.NewChatDoneFrame(ws.ChatDone{Message: ws.ChatDonePayload{
			RequestID: req.RequestID, ConversationID: int64(reply.ConversationID),
			UserMessageID: int64(reply.UserMessageID), AssistantMessageID: int64(reply.AssistantMessageID),
			FinishReason: ws.ChatFinishReason(reply.FinishReason), Truncated: reply.Truncated,
			Provider: reply.Provider, Model: reply.Model,
			Usage: ws.ChatUsage{PromptTokens: reply.PromptTokens, CompletionTokens: reply.CompletionTokens, TotalTokens: reply.TotalTokens()},
		}})
		if err := fr.bus.SendToGroup(sendCtx, userID, done); err != nil {
			s.Logger().Warn("Could not send chat_done", zap.Error(err))
		}
	}
	if err != nil && ctx.Err() == nil {
		fr.refuse(s, req.RequestID, err)
	}
}

// refuse answers the sender with an error frame carrying the request id.
func (fr *Frames) refuse(s *hub.Session, requestID ws.RequestID, err error) {
	payload := ws.ErrorPayload{Code: ws.ErrorCodeInternalError, Detail: "Could not answer the chat request.",
		RequestID: ws.NewOptRequestID(requestID)}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		b := ae.Bounded()
		payload.Detail = b.Message
		switch {
		case ae.Status == http.StatusNotFound:
			payload.Code = ws.ErrorCodeNotFound
		case ae.Status == http.StatusTooManyRequests:
			payload.Code = ws.ErrorCodeQuotaExceeded
		case ae.Status == http.StatusServiceUnavailable:
			payload.Code = ws.ErrorCodeUnavailable
		case ae.Status < 500:
			payload.Code = ws.ErrorCodeInvalidPayload
		default:
			payload.Detail = "Could not answer the chat request."
		}
		if ae.RetryAfter > 0 {
			payload.RetryAfter = ws.NewOptInt(int((ae.RetryAfter + time.Second - 1) / time.Second))
		}
	}
	if payload.Code == ws.ErrorCodeInternalError {
		s.Logger().Error("Chat request failed", zap.Error(err))
	}
	if len(payload.Detail) > 1000 {
		payload.Detail = apperr.Truncate(payload.Detail, 1000)
	}
	if err := s.Send(ws.NewErrorFrame(ws.Error{Message: payload})); err != nil {
		s.Logger().Warn("Could not send chat error", zap.Error(err))
	}
}
