package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"paradise/internal/config"
	"paradise/internal/redisdb"
	"paradise/internal/testenv"
)

// env is one Redis seen by two instances: two clients sharing a key
// prefix, as two processes of the service would.
type env struct {
	a, b  *redis.Client
	keys  redisdb.Keys
	clock *clock
	// mini is the in-process server on the embedded backend (nil on a
	// real Redis), for FastForward.
	mini *miniredis.Miniredis
}

// both runs fn on a real Redis (own key prefix) and on the embedded
// default's in-process Redis.
func both(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	t.Run("redis", func(t *testing.T) {
		url, prefix := testenv.NewRedisPrefix(t)
		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		e := &env{a: redis.NewClient(opts), b: redis.NewClient(opts),
			keys: redisdb.NewKeys(config.Redis{RedisPrefix: prefix}), clock: newClock()}
		t.Cleanup(func() { e.a.Close(); e.b.Close() })
		fn(t, e)
	})
	t.Run("embedded", func(t *testing.T) {
		srv, err := redisdb.StartEmbedded()
		if err != nil {
			t.Fatal(err)
		}
		opts := &redis.Options{Addr: srv.Addr(), Password: srv.Password}
		e := &env{a: redis.NewClient(opts), b: redis.NewClient(opts),
			keys: redisdb.NewKeys(config.Redis{}), clock: newClock(), mini: srv.Miniredis}
		t.Cleanup(func() { e.a.Close(); e.b.Close(); srv.Close() })
		fn(t, e)
	})
}

// clock is a settable clock for the limiters.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	// A day's last minute, so tests can cross midnight.
	return &clock{t: time.Date(2025, 3, 14, 23, 59, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// client alternates the two instances.
func (e *env) client(i int) *redis.Client {
	if i%2 == 0 {
		return e.a
	}
	return e.b
}

// race runs n goroutines at once and counts those whose try says true.
func race(t *testing.T, n int, try func(i int) (bool, error)) int {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
		errs    []error
		start   = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := try(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				allowed++
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	return allowed
}
