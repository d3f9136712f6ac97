// Package app is the fx root: it composes every module of the service.
package app

import (
	"go.uber.org/fx"

	"paradise/internal/account"
	"paradise/internal/auth"
	"paradise/internal/database"
	"paradise/internal/debugserver"
	"paradise/internal/device"
	"paradise/internal/httpapi"
	"paradise/internal/hub"
	"paradise/internal/logging"
	"paradise/internal/metrics"
	"paradise/internal/redisdb"
)

// Module is the whole service, minus its configuration: supply a
// config.Config (config.Module reads it from the environment).
var Module = fx.Options(
	logging.Module,
	metrics.Module,
	database.Module,
	redisdb.Module,
	auth.Module,
	account.Module,
	device.Module,
	hub.Module,
	httpapi.Module,
	debugserver.Module,
)
