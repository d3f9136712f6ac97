package llm

import "go.uber.org/fx"

// Module provides the *Chain (config.LLM, metrics, logger) and the same
// chain as a Client. The chat module adds it with one line in
// internal/app.
var Module = fx.Module("llm",
	fx.Provide(
		New,
		func(c *Chain) Client { return c },
	),
)
