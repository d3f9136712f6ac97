package chat

import (
	"go.uber.org/fx"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/device"
	"paradise/internal/httpapi"
	"paradise/internal/hub"
)

// Module provides the chat service, the REST handler, the streaming route
// in front of the ogen server, and the hub's chat_request handler. The
// Model is internal/llm (the configured providers, or its development
// provider) and the Budget internal/ratelimit.
var Module = fx.Module("chat",
	fx.Provide(
		NewService,
		NewHandler,
		NewStream,
		NewFrames,
		NewLLMModel,
		NewLimits,
		func(d *device.Service) Devices { return d },
		func(a *account.Service) Profiles { return a },
		func(s api.SecurityHandler) Authenticator { return s },
		func(b *hub.Bus) GroupSender { return b },
		httpapi.AsRoute((*Stream).Route),
		hub.AsFrameHandler((*Frames).Handler),
	),
)
