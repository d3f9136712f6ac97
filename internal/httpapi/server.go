package httpapi

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/gen/api"
	"paradise/internal/apperr"
	"paradise/internal/config"
	"paradise/internal/database"
	"paradise/internal/hub"
	"paradise/internal/logging"
	"paradise/internal/metrics"
	"paradise/internal/paging"
)

// Module serves the REST API, docs and health endpoints.
var Module = fx.Module("httpapi",
	fx.Provide(
		NewAPI,
		NewMux,
		NewServer,
	),
	fx.Invoke(func(*Server) {}),
)

// maxBodyBytes bounds request bodies; no REST body comes near it.
const maxBodyBytes = 1 << 20

// MuxParams are NewMux's dependencies.
type MuxParams struct {
	fx.In

	API     *API
	Hub     *hub.Hub
	Metrics *metrics.Metrics
	DB      *database.DB
	Redis   *redis.Client
	Log     *zap.Logger
}

// NewMux routes the ogen server, docs and health endpoints.
func NewMux(p MuxParams) (*http.ServeMux, error) {
	srv, err := api.NewServer(p.API, p.API,
		api.WithErrorHandler(p.API.handleOgenError),
		api.WithNotFound(notFound),
		api.WithMethodNotAllowed(methodNotAllowed),
	)
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", limitBody(checkInput(nameRoute(srv))))
	mux.Handle("GET /metrics", p.Metrics.Handler())
	mux.Handle("GET /ws/device/{$}", requireUpgrade(p.Hub))
	mux.Handle("GET /ws/device/token/{token}/", requireUpgrade(p.Hub))
	mountDocs(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeOK(w) })
	mux.HandleFunc("GET /readyz", readyz(p.DB, p.Redis, p.Log))
	return mux, nil
}

// Server is the HTTP server: it listens when the app starts and shuts down
// gracefully when it stops.
type Server struct {
	srv      *http.Server
	listener net.Listener
	log      *zap.Logger
}

// NewServer wraps the mux in the request middleware and ties the server to
// the app lifecycle. Listening happens in OnStart, so a busy port fails
// start-up instead of a background goroutine.
func NewServer(lc fx.Lifecycle, cfg config.Config, mux *http.ServeMux, m *metrics.Metrics, log *zap.Logger) *Server {
	log = log.Named("http")
	s := &Server{log: log}
	s.srv = &http.Server{
		Addr:              cfg.Addr,
		Handler:           middleware(limitHeaders(mux), m, log),
		MaxHeaderBytes:    serverMaxHeaderBytes,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          zap.NewStdLog(log),
	}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.Addr)
			if err != nil {
				return fmt.Errorf("httpapi: listen %s: %w", cfg.Addr, err)
			}
			s.listener = ln
			log.Info("Serving HTTP", zap.String("addr", ln.Addr().String()))
			go func() {
				if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("HTTP server stopped", zap.Error(err))
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, cfg.ShutdownTimeout)
			defer cancel()
			return s.srv.Shutdown(ctx)
		},
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

// RegisterOnShutdown runs f when a graceful stop begins; the hub uses it
// to close its hijacked connections, which Shutdown does not track.
func (s *Server) RegisterOnShutdown(f func()) { s.srv.RegisterOnShutdown(f) }

// requireUpgrade answers plain HTTP requests to the hub's endpoints with
// the envelope (426) instead of the WebSocket library's text.
func requireUpgrade(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", "websocket") {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "websocket")
			writeError(w, &apperr.Error{Status: http.StatusUpgradeRequired, Code: http.StatusUpgradeRequired,
				Message: "This endpoint speaks WebSocket only (see asyncapi.yaml)."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headerHas reports whether a comma-separated header lists token
// (case-insensitive).
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write([]byte(`{"success":true,"code":200,"message":"OK","data":null}`))
}

func readyz(db *database.DB, rdb *redis.Client, log *zap.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var down []string
		if err := db.Ping(ctx); err != nil {
			log.Warn("Database not ready", zap.Error(err))
			down = append(down, "database")
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			log.Warn("Redis not ready", zap.Error(err))
			down = append(down, "redis")
		}
		if len(down) > 0 {
			writeError(w, &apperr.Error{Status: http.StatusServiceUnavailable, Code: http.StatusServiceUnavailable,
				Message: "Not ready: " + strings.Join(down, ", ") + " unreachable."})
			return
		}
		writeOK(w)
	}
}

// middleware gives every request an id and a logger carrying it, records
// its URL for pagination links, turns panics into a logged 500 envelope,
// and logs and counts the request.
func middleware(next http.Handler, m *metrics.Metrics, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-ID")
		if !validRequestID(rid) {
			rid = newRequestID()
		}
		w.Header().Set("X-Request-ID", rid)
		route := &routeName{}
		ctx := logging.WithRequestID(r.Context(), rid)
		ctx = paging.WithURL(ctx, absoluteURL(r))
		ctx = context.WithValue(ctx, routeKey{}, route)
		r = r.WithContext(ctx)
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logging.From(ctx, log).Error("Panic serving request", zap.Any("panic", v), zap.Stack("stack"))
				if !rec.wroteHeader {
					writeError(rec, &apperr.Error{Status: http.StatusInternalServerError,
						Code: http.StatusInternalServerError, Message: "Internal server error."})
				}
			}
			name := route.name
			if name == "" {
				name = r.Pattern // docs, health, hub: the mux's pattern
			}
			if name == "" || name == "/" {
				name = "unmatched" // "/" is the catch-all in front of ogen
			}
			status := rec.statusCode()
			m.HTTPRequests.WithLabelValues(name, r.Method, strconv.Itoa(status)).Inc()
			m.HTTPDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
			if ce := log.Check(zap.InfoLevel, "Request"); ce != nil {
				ce.Write(zap.String("request_id", rid),
					zap.String("method", r.Method),
					zap.String("path", redactPath(r.URL.Path)),
					zap.Int("status", status),
					zap.Duration("duration", time.Since(start)))
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// routeName is the metrics label of a request, set by whichever handler
// knows it.
type routeName struct{ name string }

type routeKey struct{}

// nameRoute labels REST requests with their operation id (ogen's router
// knows it before decoding, so failed requests are labelled too).
func nameRoute(srv *api.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rn, ok := r.Context().Value(routeKey{}).(*routeName); ok {
			if route, found := srv.FindPath(r.Method, r.URL); found {
				rn.name = route.OperationID()
			}
		}
		srv.ServeHTTP(w, r)
	})
}

// redactPath hides the token of /ws/device/token/{token}/ from logs.
func redactPath(p string) string {
	const prefix = "/ws/device/token/"
	if rest, ok := strings.CutPrefix(p, prefix); ok && rest != "" {
		return prefix + "[redacted]/"
	}
	return p
}

// absoluteURL reconstructs the URL the client called, behind a proxy too.
func absoluteURL(r *http.Request) *url.URL {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = h
	}
	return &url.URL{Scheme: scheme, Host: host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recorder remembers the status written through it. It passes Hijack and
// Flush through so WebSocket upgrades work behind the middleware.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) statusCode() int {
	if !r.wroteHeader {
		return http.StatusOK
	}
	return r.status
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("httpapi: response writer cannot hijack")
	}
	r.status, r.wroteHeader = http.StatusSwitchingProtocols, true
	return h.Hijack()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
