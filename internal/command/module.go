package command

import (
	"go.uber.org/fx"

	"paradise/internal/device"
	"paradise/internal/hub"
)

// Module provides the command service, its hub hooks and command_result
// handler, the expiry sweeper and the REST handler.
var Module = fx.Module("command",
	fx.Provide(
		NewService,
		NewHandler,
		func(b *hub.Bus) Sender { return b },
		func(s *device.Service) Devices { return s },
		func(p *device.Presence) Presence { return p },
		hub.AsHooks((*Service).Hooks),
		hub.AsFrameHandler((*Service).ResultHandler),
	),
	fx.Invoke(NewSweeper),
)
