package outage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestIs(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused dial", fmt.Errorf("redis: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true},
		{"reset", fmt.Errorf("account: %w", syscall.ECONNRESET), true},
		{"eof", fmt.Errorf("auth: lookup token: %w", io.EOF), true},
		{"pool timeout", redis.ErrPoolTimeout, true},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"postgres shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"postgres connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"redis nil", redis.Nil, false},
		{"canceled by the client", context.Canceled, false},
		{"plain", errors.New("boom"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Is(tc.err); got != tc.want {
				t.Fatalf("Is(%v) = %t, want %t", tc.err, got, tc.want)
			}
		})
	}
}

func TestLogOncePerKind(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	l := NewLog(zap.New(core))
	for i := 0; i < 100; i++ {
		l.Report("redis", io.EOF)
		l.Report("database", io.EOF)
	}
	if n := logs.Len(); n != 2 {
		t.Fatalf("%d lines for 200 failures of two kinds, want 2", n)
	}
	l.every = 0 // the minute has passed
	l.Report("redis", io.EOF)
	last := logs.All()[logs.Len()-1]
	if got := last.ContextMap()["unlogged_since_last"]; got != int64(99) {
		t.Fatalf("unlogged_since_last = %v, want 99", got)
	}
}
