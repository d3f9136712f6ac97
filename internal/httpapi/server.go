package httpapi

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/gen/api"
	"paradise/internal/apperr"
	"paradise/internal/config"
	"paradise/internal/logging"
	"paradise/internal/metrics"
	"paradise/internal/paging"
)

// Module serves the REST API, docs, health, readiness and the contributed
// routes. It needs an api.Handler and an api.SecurityHandler (internal/app
// composes them from the bounded contexts).
var Module = fx.Module("httpapi",
	fx.Provide(
		NewErrors,
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

	Handler  api.Handler
	Security api.SecurityHandler
	Errors   *Errors
	Routes   []Route          `group:"httpapi.routes"`
	Checks   []ReadinessCheck `group:"httpapi.readiness"`
	Metrics  *metrics.Metrics
	Log      *zap.Logger
}

// NewMux routes the ogen server, docs, health, readiness and the
// contributed routes.
func NewMux(p MuxParams) (*http.ServeMux, error) {
	srv, err := api.NewServer(p.Handler, p.Security,
		api.WithErrorHandler(p.Errors.handleOgenError),
		api.WithNotFound(notFound),
		api.WithMethodNotAllowed(methodNotAllowed),
	)
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	mux := http.NewServeMux()
	rest := func(h http.Handler) http.Handler { return limitBody(checkInput(exposeHeader(nameRoute(srv, h)))) }
	mux.Handle("/", rest(srv))
	for _, r := range p.Routes {
		if r.Intercept != nil {
			mux.Handle(r.Pattern, rest(r.Intercept(srv)))
			continue
		}
		mux.Handle(r.Pattern, r.Handler)
	}
	mountDocs(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeOK(w) })
	mux.HandleFunc("GET /readyz", readyz(p.Checks, p.Log.Named("http")))
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
func NewServer(lc fx.Lifecycle, cfg config.HTTP, mux *http.ServeMux, m *metrics.Metrics, log *zap.Logger) *Server {
	log = log.Named("http")
	s := &Server{log: log}
	s.srv = &http.Server{
		Addr:              cfg.Addr,
		Handler:           middleware(limitHeaders(mux), m, log, cfg.TrustedProxies),
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

// RequireUpgrade answers plain HTTP requests to a WebSocket endpoint with
// the envelope (426) instead of the WebSocket library's text.
func RequireUpgrade(next http.Handler) http.Handler {
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

func readyz(checks []ReadinessCheck, log *zap.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var down []string
		for _, c := range checks {
			if c.Check == nil {
				continue
			}
			if err := c.Check(ctx); err != nil {
				log.Warn("Not ready", zap.String("check", c.Name), zap.Error(err))
				down = append(down, c.Name)
			}
		}
		if len(down) > 0 {
			writeError(w, &apperr.Error{Status: http.StatusServiceUnavailable, Code: http.StatusServiceUnavailable,
				Message: "Not ready: " + strings.Join(down, ", ") + " unreachable."})
			return
		}
		details := map[string]string{}
		for _, c := range checks {
			if c.Detail != nil {
				details[c.Name] = c.Detail()
			}
		}
		if len(details) == 0 {
			writeOK(w)
			return
		}
		body, err := json.Marshal(struct {
			Success bool              `json:"success"`
			Code    int               `json:"code"`
			Message string            `json:"message"`
			Data    map[string]string `json:"data"`
		}{true, http.StatusOK, "OK", details})
		if err != nil {
			writeOK(w)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	}
}

// middleware gives every request an id and a logger carrying it, records
// its URL for pagination links (believing X-Forwarded-* only from trusted
// proxies), turns panics into a logged 500 envelope, and logs and counts
// the request.
func middleware(next http.Handler, m *metrics.Metrics, log *zap.Logger, trusted []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-ID")
		if !validRequestID(rid) {
			rid = newRequestID()
		}
		w.Header().Set("X-Request-ID", rid)
		route := &routeName{}
		ctx := logging.WithRequestID(r.Context(), rid)
		ctx = paging.WithURL(ctx, absoluteURL(r, trusted))
		ctx = WithClientIP(ctx, clientIP(r, trusted))
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
// knows it before decoding, so failed requests are labelled too), then
// serves them with next (the server, or a route intercepting its path).
func nameRoute(srv *api.Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rn, ok := r.Context().Value(routeKey{}).(*routeName); ok {
			if route, found := srv.FindPath(r.Method, r.URL); found {
				rn.name = route.OperationID()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// redactPath hides tokens from a logged path, whatever shape the client
// gave it. Percent-encodings are decoded first and backslashes count as
// slashes, so an encoded separator cannot hide a segment boundary. Then
// everything after a "token" segment is hidden (so double slashes, dot
// segments or a missing trailing slash do not let the token of
// /ws/device/token/{token}/ through), and so is any segment that looks
// like a token wherever it appears.
func redactPath(p string) string {
	const redacted = "[redacted]"
	decoded, ok := unescapeAll(p)
	if !ok {
		return redacted // encoded deeper than any client does; log nothing of it
	}
	segs := strings.Split(strings.ReplaceAll(decoded, `\`, "/"), "/")
	for i, seg := range segs {
		if strings.EqualFold(seg, "token") {
			if strings.Join(segs[i+1:], "") == "" {
				break // nothing follows: there is no token to hide
			}
			return strings.Join(segs[:i+1], "/") + "/" + redacted + "/"
		}
		if looksLikeToken(seg) {
			segs[i] = redacted
		}
	}
	return strings.Join(segs, "/")
}

// maxUnescapeRounds bounds unescapeAll: each round costs a pass over the
// path, and real clients encode once, proxies at most twice.
const maxUnescapeRounds = 8

// unescapeAll decodes %XX sequences until none is left, leaving malformed
// ones as they are (url.PathUnescape gives up on the first). It reports
// false if the path is still encoded after maxUnescapeRounds.
func unescapeAll(s string) (string, bool) {
	for range maxUnescapeRounds {
		next := unescapeOnce(s)
		if next == s {
			return s, true
		}
		s = next
	}
	return s, unescapeOnce(s) == s
}

func unescapeOnce(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// looksLikeToken reports whether a path segment holds something shaped
// like a token: a run of at least 20 letters, digits, '-' or '_' with both
// letters and digits in it. Our tokens are 32 hex digits and the Django
// system's 40; no route segment is that long.
func looksLikeToken(seg string) bool {
	run, letters, digits := 0, false, false
	for i := 0; i <= len(seg); i++ {
		var c byte
		if i < len(seg) {
			c = seg[i]
		}
		switch {
		case c >= '0' && c <= '9':
			run, digits = run+1, true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			run, letters = run+1, true
		case c == '-' || c == '_':
			run++
		default: // the end of a run (or of the segment)
			if run >= 20 && letters && digits {
				return true
			}
			run, letters, digits = 0, false, false
		}
	}
	return false
}

// absoluteURL reconstructs the URL the client called. Behind a trusted
// proxy it takes the scheme and host from X-Forwarded-Proto and
// X-Forwarded-Host; from any other peer those headers are ignored, or a
// client could point the pagination links we hand out at any host.
func absoluteURL(r *http.Request, trusted []netip.Prefix) *url.URL {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if fromTrustedProxy(r, trusted) {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
			scheme = p
		}
		// A chain of proxies may list several hosts; the first is the one
		// the client called.
		if h, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Host"), ","); strings.TrimSpace(h) != "" {
			host = strings.TrimSpace(h)
		}
	}
	return &url.URL{Scheme: scheme, Host: host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
}

// fromTrustedProxy reports whether the request's direct peer is one of the
// trusted proxies.
func fromTrustedProxy(r *http.Request, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := peer.Addr().Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
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
