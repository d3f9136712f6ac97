package llm

import (
	"go.uber.org/fx"

	"paradise/internal/httpapi"
)

// Module provides the *Chain (config.LLM, metrics, logger) and the same
// chain as a Client, and reports the active providers in /readyz's
// details ("llm"). The chat module adds it with one line in
// internal/app.
var Module = fx.Module("llm",
	fx.Provide(
		New,
		func(c *Chain) Client { return c },
		httpapi.AsReadinessCheck(func(c *Chain) httpapi.ReadinessCheck {
			return httpapi.ReadinessCheck{Name: "llm", Detail: c.Describe}
		}),
	),
)
