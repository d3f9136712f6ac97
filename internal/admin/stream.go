package admin

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"paradise/gen/api"
	"paradise/internal/apperr"
	"paradise/internal/events"
	"paradise/internal/httpapi"
	"paradise/internal/logging"
)

// Stream serves adminStreamEvents (GET /api/v1/admin/events/) as
// Server-Sent Events: ogen v1.24 generates event streams for clients only,
// so this route sits in front of the ogen server (see tools/ogenspec).
type Stream struct {
	events   *events.Bus
	security api.SecurityHandler
	errors   *httpapi.Errors
	log      *zap.Logger
}

// NewStream returns the events route's handler.
func NewStream(ev *events.Bus, security api.SecurityHandler, errs *httpapi.Errors, log *zap.Logger) *Stream {
	return &Stream{events: ev, security: security, errors: errs, log: log.Named("admin")}
}

// Route is the httpapi route of the event stream.
func (st *Stream) Route() httpapi.Route {
	return httpapi.Route{Pattern: "GET /api/v1/admin/events/{$}", Intercept: st.intercept}
}

// streamPing is how often an idle stream gets a comment line, so proxies
// do not close it for inactivity.
const streamPing = 15 * time.Second

func (st *Stream) intercept(http.Handler) http.Handler {
	return http.HandlerFunc(st.serve)
}

func (st *Stream) serve(w http.ResponseWriter, r *http.Request) {
	ctx, ok := st.errors.Authenticate(w, r, "AdminTokenAuth", func(ctx context.Context, header string) (context.Context, error) {
		return st.security.HandleAdminTokenAuth(ctx, api.AdminStreamEventsOperation, api.AdminTokenAuth{APIKey: header})
	})
	if !ok {
		return
	}
	sub, err := st.events.Subscribe(ctx)
	if err != nil {
		st.errors.Write(w, r, err)
		return
	}
	defer sub.Close()
	httpapi.StartEventStream(w)
	rc := http.NewResponseController(w)
	write := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The first comment tells the client the stream is open.
	if !write([]byte(": connected\n\n")) {
		return
	}
	type next struct {
		ev  events.Event
		err error
	}
	incoming := make(chan next)
	go func() {
		for {
			ev, err := sub.Next(ctx)
			select {
			case incoming <- next{ev, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		case n := <-incoming:
			if n.err != nil {
				if ctx.Err() == nil {
					logging.From(ctx, st.log).Warn("Event stream ended", zap.Error(n.err))
				}
				return
			}
			if !write(eventFrame(n.ev)) {
				return
			}
		}
	}
}

// eventFrame is one SSE event: its name, and openapi.yaml's AdminEvent as
// data.
func eventFrame(ev events.Event) []byte {
	b, _ := httpapi.EncodeEvent(string(ev.Type), eventToAPI(ev)) // plain fields: never fails
	return b
}

// apiEvent is openapi.yaml's AdminEvent (ogen does not generate the types
// of event streams): ids that do not apply are null.
type apiEvent struct {
	Type           events.Type `json:"type"`
	At             time.Time   `json:"at"`
	DeviceID       *int        `json:"device_id"`
	MACAddress     *string     `json:"mac_address"`
	UserID         *int        `json:"user_id"`
	ConversationID *int        `json:"conversation_id"`
}

func eventToAPI(ev events.Event) apiEvent {
	out := apiEvent{Type: ev.Type, At: ev.At.UTC()}
	if ev.DeviceID != 0 {
		out.DeviceID = &ev.DeviceID
	}
	if ev.MAC != "" {
		out.MACAddress = &ev.MAC
	}
	if ev.UserID != 0 {
		out.UserID = &ev.UserID
	}
	if ev.ConversationID != 0 {
		out.ConversationID = &ev.ConversationID
	}
	return out
}

// AdminStreamEvents implements adminStreamEvents for the ogen server. The
// Stream route answers every GET of the path before the server sees it;
// this answers any other way in (none today) with a clear error instead
// of an empty 200.
func (h *Handler) AdminStreamEvents(ctx context.Context) error {
	return apperr.BadRequest("The event stream is served as text/event-stream on GET /api/v1/admin/events/.")
}
