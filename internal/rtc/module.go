package rtc

import (
	"net/http"
	"time"

	"go.uber.org/fx"

	"paradise/internal/account"
	"paradise/internal/chat"
	"paradise/internal/config"
	"paradise/internal/device"
	"paradise/internal/httpapi"
	"paradise/internal/hub"
)

// openAPITimeout bounds one call to the Volcengine OpenAPI.
const openAPITimeout = 15 * time.Second

// NewVoiceChat returns the OpenAPI client of the configured endpoint and
// credentials (service rtc).
func NewVoiceChat(cfg config.RTC) (VoiceChat, error) {
	return NewClient(cfg.OpenAPIURL, Credentials{AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, Region: cfg.Region, Service: "rtc"},
		&http.Client{Timeout: openAPITimeout})
}

// Module provides room tokens, the agents (the OpenAPI client, the hub
// frames and hooks, the idle sweep), the REST handler, the get_by_mac
// route and the agent's LLM endpoint.
var Module = fx.Module("rtc",
	fx.Provide(
		NewTokens,
		NewAgents,
		NewVoiceChat,
		NewHandler,
		NewFrames,
		NewLegacyRoute,
		NewLLM,
		func(d *device.Service) Devices { return d },
		func(a *account.Service) Profiles { return a },
		func(c *chat.Service) Chats { return c },
		func(b *hub.Bus) GroupSender { return b },
		httpapi.AsRoute((*LegacyRoute).Route),
		httpapi.AsRoute((*LLM).Route),
		hub.AsFrameHandler((*Frames).StartHandler),
		hub.AsFrameHandler((*Frames).StopHandler),
		hub.AsHooks((*Frames).Hooks),
	),
	fx.Invoke(NewSweeper),
)
