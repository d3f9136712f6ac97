package main

import (
	"context"
	"slices"
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

// scenario is what a scenario runs with: prof is nil unless -cpuprofile
// profiles this scenario.
type scenario struct {
	e    *loadenv.Env
	o    options
	prof *cpuProfiler
}

// startServer starts a named `paradise serve` with the extra settings
// (NAME=value) and logs its pid once it is ready; the scenario's first
// server is the one its profiler (if any) profiles. The server is returned
// even with an error so that the caller's deferred stop covers it.
func (sc scenario) startServer(ctx context.Context, name string, extra []string) (*loadenv.Server, error) {
	profiled := sc.prof != nil && sc.prof.server == ""
	var debugAddr string
	if profiled {
		var err error
		if debugAddr, err = loadenv.FreeLoopbackAddr(); err != nil {
			return nil, err
		}
		extra = append(slices.Clip(extra), "PARADISE_DEBUG_ADDR="+debugAddr)
	}
	s, err := sc.e.StartServer(ctx, name, extra)
	if err != nil {
		return s, err
	}
	logf("server %s: pid %d on %s", name, s.PID(), s.Addr())
	if profiled {
		sc.prof.start(ctx, name, "http://"+debugAddr)
	}
	return s, nil
}

// stop ends the profile (it needs the server running) and stops the
// servers.
func (sc scenario) stop(servers ...*loadenv.Server) {
	sc.prof.finish()
	sc.e.Stop(servers...)
}

// wsURL is the device hub's endpoint on s for a session token.
func wsURL(s *loadenv.Server, token string) string {
	return "ws://" + s.Addr() + "/ws/device/token/" + token + "/"
}
