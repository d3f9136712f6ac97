// Package logging builds the process's zap logger and carries a
// request-scoped logger through contexts.
package logging

import (
	"context"
	"fmt"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"paradise/internal/config"
)

// Module provides the root *zap.Logger and routes fx's own events to it.
// fx.WithLogger must sit at the top level of the app: inside fx.Module it
// would only cover that module's events.
var Module = fx.Options(
	fx.Module("logging", fx.Provide(New)),
	fx.WithLogger(FxLogger),
)

// New builds the root logger: JSON for production, coloured console for
// development, at the configured level.
func New(cfg config.Log, lc fx.Lifecycle) (*zap.Logger, error) {
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	zc := zap.NewProductionConfig()
	if cfg.LogFormat == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		zc.DisableStacktrace = true
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	log, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	lc.Append(fx.StopHook(func() { _ = log.Sync() }))
	return log, nil
}

// FxLogger shows fx's wiring events at debug level only, so start-up stays
// quiet unless asked for.
func FxLogger(log *zap.Logger) fxevent.Logger {
	l := &fxevent.ZapLogger{Logger: log.Named("fx")}
	l.UseLogLevel(zapcore.DebugLevel)
	return l
}

type requestIDKey struct{}

// WithRequestID returns a context carrying the request id that From adds to
// log lines.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the context's request id, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// From returns log with the context's request id, if any. The logger is
// built on demand, so requests that log nothing pay nothing.
func From(ctx context.Context, log *zap.Logger) *zap.Logger {
	if id := RequestID(ctx); id != "" {
		return log.With(zap.String("request_id", id))
	}
	return log
}
