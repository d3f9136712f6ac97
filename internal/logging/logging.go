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
var Module = fx.Module("logging",
	fx.Provide(New),
	fx.WithLogger(FxLogger),
)

// New builds the root logger: JSON for production, coloured console for
// development, at the configured level.
func New(cfg config.Config, lc fx.Lifecycle) (*zap.Logger, error) {
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

type ctxKey struct{}

// With returns a context carrying log.
func With(ctx context.Context, log *zap.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, log)
}

// From returns the context's logger, or fallback when there is none.
func From(ctx context.Context, fallback *zap.Logger) *zap.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*zap.Logger); ok {
		return l
	}
	return fallback
}
