// Package redisdb connects to Redis: the server at REDIS_URL, or an
// in-process Redis-protocol server (miniredis) on the embedded default.
package redisdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/internal/config"
	"paradise/internal/httpapi"
)

// Module provides the Redis client, the key namer and the readiness check.
var Module = fx.Module("redisdb",
	fx.Provide(New, NewKeys),
	fx.Provide(httpapi.AsReadinessCheck(func(rdb *redis.Client) httpapi.ReadinessCheck {
		return httpapi.ReadinessCheck{Name: "redis", Check: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
	})),
)

// New connects to REDIS_URL, or starts the in-process server when it is
// unset. The client is closed (and the server stopped) when the app stops.
func New(lc fx.Lifecycle, cfg config.Redis, log *zap.Logger) (*redis.Client, error) {
	log = log.Named("redis")
	if cfg.RedisURL == "" {
		srv, err := StartEmbedded()
		if err != nil {
			return nil, err
		}
		client := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: srv.Password})
		lc.Append(fx.StopHook(func() error {
			err := client.Close()
			srv.Close()
			return err
		}))
		log.Info("Using in-process Redis", zap.String("addr", srv.Addr()))
		return client, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("redisdb: REDIS_URL: %w", err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redisdb: connect %s: %w", opts.Addr, err)
	}
	lc.Append(fx.StopHook(client.Close))
	log.Info("Using Redis", zap.String("addr", opts.Addr))
	return client, nil
}

// Embedded is an in-process Redis-protocol server whose keys expire by
// wall clock.
type Embedded struct {
	*miniredis.Miniredis
	// Password is the random password of this start. The server listens on
	// loopback, where any local user could otherwise connect and, say,
	// write admin_token:{t} to become admin.
	Password string

	stop chan struct{}
	done sync.WaitGroup
}

// StartEmbedded starts an in-process server on a free loopback port that
// requires the random Password from every client.
//
// miniredis moves TTLs only when told to (FastForward), so a ticker feeds
// it the real elapsed time; without it tokens and heartbeats would never
// expire.
func StartEmbedded() (*Embedded, error) {
	var secret [16]byte // 128 bits
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, fmt.Errorf("redisdb: in-process redis password: %w", err)
	}
	password := hex.EncodeToString(secret[:])
	m := miniredis.NewMiniRedis()
	// Set before the listener opens, so no connection ever gets in without it.
	m.RequireAuth(password)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("redisdb: start in-process redis: %w", err)
	}
	e := &Embedded{Miniredis: m, Password: password, stop: make(chan struct{})}
	m.SetTime(time.Now())
	e.done.Add(1)
	go e.clock(250 * time.Millisecond)
	return e, nil
}

func (e *Embedded) clock(every time.Duration) {
	defer e.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			e.SetTime(now)
			e.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Close stops the clock and the server.
func (e *Embedded) Close() {
	close(e.stop)
	e.done.Wait()
	e.Miniredis.Close()
}
