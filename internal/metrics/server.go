package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/internal/config"
)

// Server serves /metrics on its own address (PARADISE_METRICS_ADDR), not
// on the public API port: metrics name routes, close codes and volumes an
// outsider has no business reading.
type Server struct {
	srv      *http.Server
	listener net.Listener
}

// NewServer listens when the app starts and stops with it.
func NewServer(lc fx.Lifecycle, cfg config.Metrics, m *Metrics, log *zap.Logger) *Server {
	log = log.Named("metrics")
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.MetricsAddr)
			if err != nil {
				return fmt.Errorf("metrics: listen %s: %w", cfg.MetricsAddr, err)
			}
			s.listener = ln
			log.Info("Serving metrics", zap.String("addr", ln.Addr().String()))
			go func() {
				if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("Metrics server stopped", zap.Error(err))
				}
			}()
			return nil
		},
		OnStop: s.srv.Shutdown,
	})
	return s
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() string {
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}
