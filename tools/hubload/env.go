package main

import (
	"context"
	"time"

	"paradise/tools/internal/loadenv"
)

// config is how hubload names what it creates, and how long a server gets
// to stop on SIGTERM (the idle scenario's has many connections to close).
var config = loadenv.Config{
	Tool:        "hubload",
	DBPrefix:    "paradise_hubload_",
	KeyPrefix:   "hubload:",
	StopTimeout: 30 * time.Second,
}

// startServer starts a named `paradise serve` with the extra settings
// (NAME=value) and logs its pid once it is ready. The server is returned
// even with an error so that the caller's deferred Stop covers it.
func startServer(ctx context.Context, e *loadenv.Env, name string, extra []string) (*loadenv.Server, error) {
	s, err := e.StartServer(ctx, name, extra)
	if err != nil {
		return s, err
	}
	logf("server %s: pid %d on %s", name, s.PID(), s.Addr())
	return s, nil
}

// wsURL is the device hub's endpoint on s for a session token.
func wsURL(s *loadenv.Server, token string) string {
	return "ws://" + s.Addr() + "/ws/device/token/" + token + "/"
}
