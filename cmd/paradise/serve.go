package main

import (
	"go.uber.org/fx"

	"paradise/internal/app"
	"paradise/internal/config"
)

// serve runs the service until SIGINT or SIGTERM, then stops it gracefully
// within PARADISE_SHUTDOWN_TIMEOUT (fx would otherwise give up at its own
// default of 15 s).
func serve() error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	a := fx.New(fx.Supply(cfg), app.Module, fx.StopTimeout(cfg.ShutdownTimeout))
	if err := a.Err(); err != nil {
		return err
	}
	a.Run()
	return nil
}
