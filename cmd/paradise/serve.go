package main

import (
	"go.uber.org/fx"

	"paradise/internal/app"
	"paradise/internal/config"
)

// serve runs the service until SIGINT or SIGTERM, then stops it gracefully.
func serve() error {
	a := fx.New(config.Module, app.Module)
	if err := a.Err(); err != nil {
		return err
	}
	a.Run()
	return nil
}
