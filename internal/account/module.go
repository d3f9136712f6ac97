package account

import (
	"go.uber.org/fx"

	"paradise/gen/api"
	"paradise/internal/hub"
)

// Module provides the account service, the hub's authenticator, the REST
// security handler and the user handler.
var Module = fx.Module("account",
	fx.Provide(
		NewService,
		NewHandler,
		fx.Annotate(NewSecurity, fx.As(new(api.SecurityHandler))),
		func(s *Service) hub.Authenticator { return s },
		func(b *hub.Bus) Sessions { return b },
	),
)
