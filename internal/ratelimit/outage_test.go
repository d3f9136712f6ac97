package ratelimit_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"paradise/internal/config"
	"paradise/internal/outage"
	"paradise/internal/ratelimit"
	"paradise/internal/redisdb"
)

// TestRedisDown: with Redis unreachable every call returns an error that
// outage.Is recognises (callers answer 503) and never a Decision that
// allows.
func TestRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	keys := redisdb.Keys{}
	d := ratelimit.NewDaily(rdb, keys)
	c := ratelimit.NewConcurrency(rdb, keys)
	l := ratelimit.NewLimiter(rdb, keys)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() (ratelimit.Decision, error)
	}{
		{"take", func() (ratelimit.Decision, error) { return d.Take(ctx, "k", 1, 10) }},
		{"check", func() (ratelimit.Decision, error) { return d.Check(ctx, "k", 10) }},
		{"add", func() (ratelimit.Decision, error) { _, err := d.Add(ctx, "k", 1); return ratelimit.Decision{}, err }},
		{"usage", func() (ratelimit.Decision, error) {
			_, err := d.Usage(ctx, "k", time.Now())
			return ratelimit.Decision{}, err
		}},
		{"acquire", func() (ratelimit.Decision, error) {
			lease, dec, err := c.Acquire(ctx, "k", 10, time.Minute)
			if lease != nil {
				t.Error("a lease without Redis")
			}
			return dec, err
		}},
		{"holders", func() (ratelimit.Decision, error) { _, err := c.Holders(ctx, "k"); return ratelimit.Decision{}, err }},
		{"allow", func() (ratelimit.Decision, error) { return l.Allow(ctx, "k", ratelimit.PerMinute(5), 5) }},
		{"reset", func() (ratelimit.Decision, error) { return ratelimit.Decision{}, l.Reset(ctx, "k") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dec, err := tc.call()
			if err == nil || !outage.Is(err) {
				t.Fatalf("err = %v, want an outage error", err)
			}
			if dec.Allowed {
				t.Fatal("allowed without Redis")
			}
		})
	}
}

// TestLeaseRedisDown: renewing or releasing without Redis reports the
// outage, not a lost lease, and a later release still works.
func TestLeaseRedisDown(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		o := e.a.Options()
		own := redis.NewClient(&redis.Options{Addr: o.Addr, Password: o.Password, DB: o.DB})
		c := ratelimit.NewConcurrency(own, e.keys, ratelimit.WithClock(e.clock.Now))
		lease, _, err := c.Acquire(ctx(t), "down", 1, time.Minute)
		if err != nil || lease == nil {
			t.Fatalf("Acquire = %v, %v", lease, err)
		}
		own.Close()
		if err := lease.Renew(ctx(t)); err == nil || errors.Is(err, ratelimit.ErrLeaseLost) || !errors.Is(err, redis.ErrClosed) {
			t.Fatalf("Renew on a closed client = %v, want the client's error", err)
		}
		if err := lease.Release(ctx(t)); err == nil || !outage.Is(err) {
			t.Fatalf("Release on a closed client = %v, want an outage error", err)
		}
		if n, err := ratelimit.NewConcurrency(e.a, e.keys, ratelimit.WithClock(e.clock.Now)).Holders(ctx(t), "down"); err != nil || n != 1 {
			t.Fatalf("Holders = %d, %v; want 1 (the slot frees itself when the lease runs out)", n, err)
		}
	})
}

// TestModule: the fx module provides the three limiters on the service's
// Redis and keys.
func TestModule(t *testing.T) {
	var (
		d *ratelimit.Daily
		c *ratelimit.Concurrency
		l *ratelimit.Limiter
	)
	app := fxtest.New(t, fx.NopLogger,
		fx.Supply(config.Redis{}, zap.NewNop()),
		redisdb.Module,
		ratelimit.Module,
		fx.Populate(&d, &c, &l),
	)
	app.RequireStart()
	defer app.RequireStop()
	ctx := context.Background()
	if dec, err := d.Take(ctx, "module", 1, 1); err != nil || !dec.Allowed {
		t.Fatalf("Take = %+v, %v", dec, err)
	}
	if lease, _, err := c.Acquire(ctx, "module", 1, time.Minute); err != nil || lease == nil {
		t.Fatalf("Acquire = %v, %v", lease, err)
	}
	if dec, err := l.Allow(ctx, "module", ratelimit.PerMinute(1), 1); err != nil || !dec.Allowed {
		t.Fatalf("Allow = %+v, %v", dec, err)
	}
}
