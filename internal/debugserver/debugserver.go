// Package debugserver serves Go's pprof profiles on a separate, private
// address when PARADISE_DEBUG_ADDR is set, for profiling a running
// instance (see docs/benchmarks.md).
package debugserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/internal/config"
)

// Module starts the debug server when it is configured.
var Module = fx.Module("debugserver", fx.Invoke(Register))

// Register ties the debug server to the app lifecycle; it does nothing when
// no address is configured.
func Register(lc fx.Lifecycle, cfg config.Debug, log *zap.Logger) {
	if cfg.DebugAddr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: cfg.DebugAddr, Handler: mux}
	log = log.Named("debug")
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.DebugAddr)
			if err != nil {
				return fmt.Errorf("debugserver: listen %s: %w", cfg.DebugAddr, err)
			}
			log.Info("Serving pprof", zap.String("addr", ln.Addr().String()))
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("Debug server stopped", zap.Error(err))
				}
			}()
			return nil
		},
		OnStop: srv.Shutdown,
	})
}
