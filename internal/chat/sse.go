package chat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/go-faster/jx"
	"github.com/ogen-go/ogen/ogenerrors"
	"github.com/ogen-go/ogen/validate"
	"go.uber.org/zap"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/httpapi"
	"paradise/internal/logging"
)

// Authenticator authenticates a REST request the way the ogen server does
// (the account security handler).
type Authenticator interface {
	HandleTokenAuth(ctx context.Context, op api.OperationName, t api.TokenAuth) (context.Context, error)
}

// Stream serves the streaming form of chatCompletion: ogen v1.24
// generates Server-Sent Events for clients only, so this route sits in
// front of the ogen server on POST /api/ai/chat/, streams the requests
// that ask for it ("stream": true, or Accept: text/event-stream) and hands
// the others on to the server.
type Stream struct {
	chats  *Service
	auth   Authenticator
	errors *httpapi.Errors
	log    *zap.Logger
}

// NewStream returns the streaming route's handler.
func NewStream(chats *Service, auth Authenticator, errs *httpapi.Errors, log *zap.Logger) *Stream {
	return &Stream{chats: chats, auth: auth, errors: errs, log: log.Named("chat")}
}

// Route is the httpapi route of the streaming form.
func (st *Stream) Route() httpapi.Route {
	return httpapi.Route{Pattern: "POST /api/ai/chat/{$}", Intercept: st.intercept}
}

func (st *Stream) intercept(server http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if httpapi.AcceptsEventStream(r) {
			st.serve(w, r)
			return
		}
		if !isJSON(r) {
			server.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			// Let the server phrase it (413, ...).
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
			server.ServeHTTP(w, r)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req api.ChatRequest
		if req.Decode(jx.DecodeBytes(body)) != nil || !req.Stream.Or(false) {
			server.ServeHTTP(w, r)
			return
		}
		st.serve(w, r)
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// isJSON reports whether the request body is JSON (or untyped, as ogen
// takes it).
func isJSON(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// serve authenticates, decodes and validates the request like the ogen
// server (errors in the envelope, before any event), then streams the
// reply.
func (st *Stream) serve(w http.ResponseWriter, r *http.Request) {
	ctx, ok := st.errors.Authenticate(w, r, "TokenAuth", func(ctx context.Context, header string) (context.Context, error) {
		return st.auth.HandleTokenAuth(ctx, api.ChatCompletionOperation, api.TokenAuth{APIKey: header})
	})
	if !ok {
		return
	}
	r = r.WithContext(ctx)
	if !isJSON(r) {
		st.errors.Write(w, r, &validate.InvalidContentTypeError{ContentType: r.Header.Get("Content-Type")})
		return
	}
	req, err := decodeChatRequest(r.Body)
	if err != nil {
		st.errors.Write(w, r, err)
		return
	}
	started := false
	send := func(event string, data any) error { return httpapi.WriteEvent(w, event, data) }
	ev := Events{
		Start: func(s Started) error {
			httpapi.StartEventStream(w)
			started = true
			return send("start", streamStart{Type: "start", ConversationID: s.ConversationID, UserMessageID: s.UserMessageID})
		},
		Delta: func(text string) error {
			return send("delta", streamDelta{Type: "delta", Text: text})
		},
	}
	reply, err := st.chats.Chat(ctx, Request{Caller: callerOf(account.PrincipalFrom(ctx)), Text: req.Message,
		ConversationID: req.ConversationID.Or(0), Channel: ChannelSSE}, ev)
	if !started {
		if err == nil {
			err = errors.New("chat: reply ended before it started")
		}
		st.errors.Write(w, r, err)
		return
	}
	if err != nil {
		if ctx.Err() != nil {
			return // the client is gone; the reply is stored as cut short
		}
		var ae *apperr.Error
		if !errors.As(err, &ae) {
			logging.From(ctx, st.log).Error("Streamed reply failed", zap.Error(err))
		}
		out := streamError{Type: "error", Code: http.StatusInternalServerError, Message: "Internal server error."}
		if ae != nil {
			b := ae.Bounded()
			out.Code, out.Message = b.Code, b.Message
		}
		if reply.AssistantMessageID != 0 {
			id := reply.AssistantMessageID
			out.AssistantMessageID = &id
		}
		_ = send("error", out)
		return
	}
	_ = send("done", streamDone{Type: "done", ConversationID: reply.ConversationID, UserMessageID: reply.UserMessageID,
		AssistantMessageID: reply.AssistantMessageID, FinishReason: reply.FinishReason, Truncated: reply.Truncated,
		Provider: reply.Provider, Model: reply.Model, Usage: streamUsage{PromptTokens: reply.PromptTokens,
			CompletionTokens: reply.CompletionTokens, TotalTokens: reply.TotalTokens()}})
}

// decodeChatRequest decodes and validates the body as ogen would, with
// the same errors (the envelope phrases them in one place).
func decodeChatRequest(body io.Reader) (api.ChatRequest, error) {
	var req api.ChatRequest
	b, err := io.ReadAll(body)
	if err != nil {
		return req, &ogenerrors.DecodeRequestError{Err: err}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return req, &ogenerrors.DecodeRequestError{Err: validate.ErrBodyRequired}
	}
	d := jx.DecodeBytes(b)
	if err := req.Decode(d); err != nil {
		return req, &ogenerrors.DecodeRequestError{Err: err}
	}
	if err := d.Skip(); !errors.Is(err, io.EOF) {
		return req, &ogenerrors.DecodeRequestError{Err: errors.New("unexpected trailing data")}
	}
	if err := req.Validate(); err != nil {
		return req, &ogenerrors.DecodeRequestError{Err: err}
	}
	return req, nil
}

// The data of the stream's events (openapi.yaml's ChatStream* schemas).
type (
	streamStart struct {
		Type           string `json:"type"`
		ConversationID int    `json:"conversation_id"`
		UserMessageID  int    `json:"user_message_id"`
	}
	streamDelta struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	streamUsage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	streamDone struct {
		Type               string      `json:"type"`
		ConversationID     int         `json:"conversation_id"`
		UserMessageID      int         `json:"user_message_id"`
		AssistantMessageID int         `json:"assistant_message_id"`
		FinishReason       string      `json:"finish_reason"`
		Truncated          bool        `json:"truncated"`
		Provider           string      `json:"provider"`
		Model              string      `json:"model"`
		Usage              streamUsage `json:"usage"`
	}
	streamError struct {
		Type               string `json:"type"`
		Code               int    `json:"code"`
		Message            string `json:"message"`
		AssistantMessageID *int   `json:"assistant_message_id,omitempty"`
	}
)
