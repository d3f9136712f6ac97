// Package app is the fx root: it composes every module of the service, and
// the REST handler from the bounded contexts' handlers.
//
// Adding a module: write the package with its fx Module, add the Module
// below and, if it serves REST operations, embed its handler in Handler.
package app

import (
	"go.uber.org/fx"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/admin"
	"paradise/internal/auth"
	"paradise/internal/chat"
	"paradise/internal/command"
	"paradise/internal/config"
	"paradise/internal/console"
	"paradise/internal/database"
	"paradise/internal/debugserver"
	"paradise/internal/device"
	"paradise/internal/events"
	"paradise/internal/httpapi"
	"paradise/internal/hub"
	"paradise/internal/llm"
	"paradise/internal/logging"
	"paradise/internal/metrics"
	"paradise/internal/ratelimit"
	"paradise/internal/redisdb"
	"paradise/internal/rtc"
	"paradise/internal/voice"
)

// Module is the whole service, minus its configuration: supply a
// config.Config (config.Module reads it from the environment).
var Module = fx.Options(
	config.Provide,
	logging.Module,
	metrics.Module,
	database.Module,
	redisdb.Module,
	ratelimit.Module,
	events.Module,
	llm.Module,
	auth.Module,
	hub.Module,
	account.Module,
	device.Module,
	admin.Module,
	console.Module,
	chat.Module,
	command.Module,
	rtc.Module,
	voice.Module,
	httpapi.Module,
	debugserver.Module,
	fx.Provide(fx.Annotate(NewHandler, fx.As(new(api.Handler)))),
)

// Handler is api.Handler: one handler per bounded context, embedded, so
// each operation is served by the context that owns it. The compiler
// checks that together they implement every operation of openapi.yaml.
type Handler struct {
	*httpapi.Errors
	*accountHandler
	*deviceHandler
	*adminHandler
	*chatHandler
	*commandHandler
	*rtcHandler
	*voiceHandler
}

// The contexts' handlers are all named Handler; aliases give the embedded
// fields distinct names.
type (
	accountHandler = account.Handler
	deviceHandler  = device.Handler
	adminHandler   = admin.Handler
	chatHandler    = chat.Handler
	commandHandler = command.Handler
	rtcHandler     = rtc.Handler
	voiceHandler   = voice.Handler
)

var _ api.Handler = (*Handler)(nil)

// HandlerParams are the context handlers Handler composes.
type HandlerParams struct {
	fx.In

	Errors  *httpapi.Errors
	Account *account.Handler
	Device  *device.Handler
	Admin   *admin.Handler
	Chat    *chat.Handler
	Command *command.Handler
	RTC     *rtc.Handler
	Voice   *voice.Handler
}

// NewHandler composes the handlers.
func NewHandler(p HandlerParams) *Handler {
	return &Handler{Errors: p.Errors, accountHandler: p.Account, deviceHandler: p.Device, adminHandler: p.Admin, chatHandler: p.Chat,
		commandHandler: p.Command, rtcHandler: p.RTC, voiceHandler: p.Voice}
}
