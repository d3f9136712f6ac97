package voice

import (
	"go.uber.org/fx"

	"paradise/gen/api"
	"paradise/internal/chat"
	"paradise/internal/device"
	"paradise/internal/httpapi"
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
		func(d *device.Service) Devices { return d },
		func(c *chat.Service) Chats { return c },
		httpapi.AsReadinessCheck(func(e *Engines) httpapi.ReadinessCheck {
			return httpapi.ReadinessCheck{Name: "speech", Detail: func() string { return e.Describe }}
		}),
	),
)
