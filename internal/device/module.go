package device

import (
	"go.uber.org/fx"

	"paradise/internal/account"
	"paradise/internal/auth"
	"paradise/internal/hub"
)

// Module provides the device service, presence (hub hooks, the device_info
// handler and the sweeper), pushes and the REST handler.
var Module = fx.Module("device",
	fx.Provide(
		NewService,
		NewPresence,
		NewPusher,
		NewHandler,
		NewCredentials,
		NewClaims,
		func(b *hub.Bus) Sessions { return b },
		func(b *hub.Bus) Sender { return b },
		func(t *auth.Tokens) Tokens { return t },
		func(a *account.Service) DeviceLogins { return a },
		hub.AsHooks((*Presence).Hooks),
		hub.AsFrameHandler((*Presence).DeviceInfoHandler),
		hub.AsFrameHandler((*Claims).ClaimCodeHandler),
	),
)
