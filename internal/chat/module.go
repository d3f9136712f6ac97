package chat

import (
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/config"
	"paradise/internal/device"
	"paradise/internal/httpapi"
	"paradise/internal/hub"
)

// Module provides the chat service, the REST handler, the streaming route
// in front of the ogen server, and the hub's chat_request handler. The
// Model is the development model and the Budget the Redis budget; replace
// them with fx.Decorate (or other providers) to wire real ones.
var Module = fx.Module("chat",
	fx.Provide(
		NewService,
		NewHandler,
		NewStream,
		NewFrames,
		newDevModel,
		fx.Annotate(NewRedisBudget, fx.As(new(Budget))),
		func(d *device.Service) Devices { return d },
		func(a *account.Service) Profiles { return a },
		func(s api.SecurityHandler) Authenticator { return s },
		func(b *hub.Bus) GroupSender { return b },
		httpapi.AsRoute((*Stream).Route),
		hub.AsFrameHandler((*Frames).Handler),
	),
	fx.Invoke(func(m Model, log *zap.Logger) {
		if dm, ok := m.(DevModel); ok {
			log.Named("chat").Info("Chat uses the development model: deterministic replies, no provider configured",
				zap.String("provider", DevProvider), zap.Duration("pacing", dm.Pacing))
		}
	}),
)

// newDevModel is the Model used when nothing else is wired.
func newDevModel(cfg config.Chat) Model { return DevModel{Pacing: cfg.DevPacing} }
