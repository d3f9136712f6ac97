package voice

import (
	"go.uber.org/fx"

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
		func(d *device.Service) Devices { return d },
		httpapi.AsReadinessCheck(func(e *Engines) httpapi.ReadinessCheck {
			return httpapi.ReadinessCheck{Name: "speech", Detail: func() string { return e.Describe }}
		}),
	),
)
