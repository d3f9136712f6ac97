package voice

import (
	"go.uber.org/fx"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/chat"
	"paradise/internal/device"
	"paradise/internal/httpapi"
	"paradise/internal/hub"
)

// Module provides the speech engines (vendors in failover order, or the
// development engines), the voice service and its REST handler, and a
// readiness detail naming the engines.
var Module = fx.Module("voice",
	fx.Provide(
		NewMetrics,
		NewEngines,
		NewService,
		NewHandler,
		NewStream,
		func(s api.SecurityHandler) Authenticator { return s },
		httpapi.AsRoute((*Stream).Route),
		NewTurns,
		func(b *hub.Bus) GroupSender { return b },
		func(a *account.Service) Profiles { return a },
		hub.AsFrameHandler(func(t *Turns) hub.FrameHandler { return t.Handlers()[0] }),
		hub.AsFrameHandler(func(t *Turns) hub.FrameHandler { return t.Handlers()[1] }),
		hub.AsFrameHandler(func(t *Turns) hub.FrameHandler { return t.Handlers()[2] }),
		hub.AsHooks((*Turns).Hooks),
		func(d *device.Service) Devices { return d },
		func(c *chat.Service) Chats { return c },
		httpapi.AsReadinessCheck(func(e *Engines) httpapi.ReadinessCheck {
			return httpapi.ReadinessCheck{Name: "speech", Detail: func() string { return e.Describe }}
		}),
	),
)
