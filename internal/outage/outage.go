// Package outage recognises failures of the service's dependencies
// (Postgres, Redis) and logs them once per kind and minute, not once per
// request: during an outage every request fails the same way, and the
// clients are told to retry (503, or close code 1013 on the hub) rather
// than that their credentials are bad.
package outage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Is reports whether err means a dependency could not be reached or
// answered for reasons that are not the request's fault: a refused or
// reset connection, a timeout, a pool that could not hand out a
// connection, or a Postgres server shutting down or refusing connections.
func Is(err error) bool {
	if err == nil {
		return false
	}
	var (
		netErr  net.Error
		connErr *pgconn.ConnectError
		pgErr   *pgconn.PgError
	)
	switch {
	case errors.As(err, &netErr), errors.As(err, &connErr):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P: operator intervention
		// (shutdown, crash recovery, cannot connect now); 53: insufficient
		// resources (too many connections).
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") || strings.HasPrefix(pgErr.Code, "53")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return pgconn.Timeout(err)
}

// Log logs dependency failures at most once a minute per kind.
type Log struct {
	log   *zap.Logger
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
	quiet map[string]int // failures not logged since the last line
}

// NewLog returns a Log writing to log.
func NewLog(log *zap.Logger) *Log {
	// A stack trace says nothing about an unreachable server.
	log = log.WithOptions(zap.AddStacktrace(zap.FatalLevel))
	return &Log{log: log, every: time.Minute, last: map[string]time.Time{}, quiet: map[string]int{}}
}

// Report logs err under kind unless a line of that kind was written
// within the last minute; the next line says how many were not logged.
func (l *Log) Report(kind string, err error) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last[kind]) < l.every {
		l.quiet[kind]++
		l.mu.Unlock()
		return
	}
	l.last[kind] = now
	suppressed := l.quiet[kind]
	l.quiet[kind] = 0
	l.mu.Unlock()
	l.log.Error("Dependency unavailable", zap.String("kind", kind), zap.Int("unlogged_since_last", suppressed), zap.Error(err))
}
