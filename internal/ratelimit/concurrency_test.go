package ratelimit_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"paradise/internal/ratelimit"
)

// TestConcurrencyRace: 50 acquires race for 10 slots from two instances;
// exactly 10 get one, and a release lets exactly one more in.
func TestConcurrencyRace(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		cs := []*ratelimit.Concurrency{
			ratelimit.NewConcurrency(e.a, e.keys, ratelimit.WithClock(e.clock.Now)),
			ratelimit.NewConcurrency(e.b, e.keys, ratelimit.WithClock(e.clock.Now)),
		}
		var (
			mu     sync.Mutex
			leases []*ratelimit.Lease
		)
		got := race(t, 50, func(i int) (bool, error) {
			l, dec, err := cs[i%2].Acquire(ctx(t), "chat:streams:user:7", 10, time.Minute)
			if (l != nil) != dec.Allowed {
				t.Errorf("lease %v with decision %+v", l, dec)
			}
			if l != nil {
				mu.Lock()
				leases = append(leases, l)
				mu.Unlock()
			}
			return dec.Allowed, err
		})
		if got != 10 {
			t.Fatalf("%d of 50 acquired, want 10", got)
		}
		if n, err := cs[1].Holders(ctx(t), "chat:streams:user:7"); err != nil || n != 10 {
			t.Fatalf("Holders = %d, %v; want 10", n, err)
		}
		if err := leases[3].Release(ctx(t)); err != nil {
			t.Fatal(err)
		}
		got = race(t, 5, func(i int) (bool, error) {
			_, dec, err := cs[i%2].Acquire(ctx(t), "chat:streams:user:7", 10, time.Minute)
			return dec.Allowed, err
		})
		if got != 1 {
			t.Fatalf("after one release %d of 5 acquired, want 1", got)
		}
	})
}

func TestConcurrencyDecisions(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		c := ratelimit.NewConcurrency(e.a, e.keys, ratelimit.WithClock(e.clock.Now))
		const key = "streams"
		start := e.clock.Now()
		l1, dec, err := c.Acquire(ctx(t), key, 2, 30*time.Second)
		if err != nil || l1 == nil || dec != (ratelimit.Decision{Allowed: true, Limit: 2, Remaining: 1}) {
			t.Fatalf("first Acquire = %v, %+v, %v", l1, dec, err)
		}
		if !l1.Expires().Equal(start.Add(30 * time.Second)) {
			t.Fatalf("Expires = %v, want %v", l1.Expires(), start.Add(30*time.Second))
		}
		e.clock.Advance(10 * time.Second)
		l2, dec, err := c.Acquire(ctx(t), key, 2, time.Minute)
		if err != nil || l2 == nil || dec.Remaining != 0 {
			t.Fatalf("second Acquire = %v, %+v, %v", l2, dec, err)
		}
		l3, dec, err := c.Acquire(ctx(t), key, 2, time.Minute)
		want := ratelimit.Decision{Limit: 2, RetryAfter: 20 * time.Second, ResetAt: start.Add(30 * time.Second)}
		if err != nil || l3 != nil || dec != want {
			t.Fatalf("third Acquire = %v, %+v, %v; want refused: %+v", l3, dec, err, want)
		}
		// A denied acquire's nil lease releases as a no-op.
		if err := l3.Release(ctx(t)); err != nil {
			t.Fatalf("nil Release: %v", err)
		}
		// Releasing twice frees one slot, once.
		for range 2 {
			if err := l2.Release(ctx(t)); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := c.Holders(ctx(t), key); err != nil || n != 1 {
			t.Fatalf("Holders after release = %d, %v; want 1", n, err)
		}
		if err := l2.Renew(ctx(t)); !errors.Is(err, ratelimit.ErrLeaseLost) {
			t.Fatalf("Renew after Release = %v, want ErrLeaseLost", err)
		}
		// A zero limit admits nobody; a lease must be positive.
		if l, dec, err := c.Acquire(ctx(t), "none", 0, time.Minute); err != nil || l != nil || dec.Allowed {
			t.Fatalf("Acquire with limit 0 = %v, %+v, %v", l, dec, err)
		}
		if _, _, err := c.Acquire(ctx(t), key, 2, 0); err == nil {
			t.Fatal("Acquire with lease 0: no error")
		}
	})
}

// TestConcurrencyLeaseExpiry: instance A takes the only slot and
// "crashes" (never releases); B gets the slot once the lease runs out. A
// holder that renews keeps its slot.
func TestConcurrencyLeaseExpiry(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		ca := ratelimit.NewConcurrency(e.a, e.keys, ratelimit.WithClock(e.clock.Now))
		cb := ratelimit.NewConcurrency(e.b, e.keys, ratelimit.WithClock(e.clock.Now))
		const lease = 30 * time.Second

		crashed, _, err := ca.Acquire(ctx(t), "crash", 1, lease)
		if err != nil || crashed == nil {
			t.Fatalf("Acquire = %v, %v", crashed, err)
		}
		e.clock.Advance(lease - time.Millisecond)
		if l, dec, err := cb.Acquire(ctx(t), "crash", 1, lease); err != nil || l != nil || dec.RetryAfter != time.Millisecond {
			t.Fatalf("Acquire before the lease ran out = %v, %+v, %v; want refused, retry after 1ms", l, dec, err)
		}
		e.clock.Advance(time.Millisecond)
		taken, dec, err := cb.Acquire(ctx(t), "crash", 1, lease)
		if err != nil || taken == nil || !dec.Allowed {
			t.Fatalf("Acquire after the lease ran out = %v, %+v, %v; want the slot", taken, dec, err)
		}
		if err := crashed.Renew(ctx(t)); !errors.Is(err, ratelimit.ErrLeaseLost) {
			t.Fatalf("Renew of the expired lease = %v, want ErrLeaseLost", err)
		}
		// The expired holder's release does not free the new holder's slot.
		if err := crashed.Release(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if n, err := ca.Holders(ctx(t), "crash"); err != nil || n != 1 {
			t.Fatalf("Holders = %d, %v; want 1", n, err)
		}

		// Renewing keeps the slot past the first lease.
		e.clock.Advance(20 * time.Second)
		if err := taken.Renew(ctx(t)); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(20 * time.Second) // 40 s after acquiring, 20 s after renewing
		if l, _, err := ca.Acquire(ctx(t), "crash", 1, lease); err != nil || l != nil {
			t.Fatalf("Acquire while the renewed lease holds = %v, %v; want refused", l, err)
		}
		if !taken.Expires().Equal(e.clock.Now().Add(10 * time.Second)) {
			t.Fatalf("Expires = %v, want %v", taken.Expires(), e.clock.Now().Add(10*time.Second))
		}

		// The set expires after its longest lease, so abandoned keys go.
		ttl, err := e.a.PTTL(ctx(t), e.keys.RateLimitConcurrency("crash")).Result()
		if err != nil || ttl <= 0 || ttl > lease+time.Second {
			t.Fatalf("PTTL = %v, %v; want at most lease + 1s", ttl, err)
		}
		if e.mini != nil {
			e.mini.FastForward(lease + 2*time.Second)
			if e.mini.Exists(e.keys.RateLimitConcurrency("crash")) {
				t.Fatal("holders' set outlived its leases")
			}
		}
	})
}

// TestConcurrencyKeepAlive: a kept-alive lease renews itself by the wall
// clock; once released the renewals stop without reporting a loss.
func TestConcurrencyKeepAlive(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		c := ratelimit.NewConcurrency(e.a, e.keys, ratelimit.WithClock(e.clock.Now))
		l, _, err := c.Acquire(ctx(t), "keep", 1, 30*time.Millisecond)
		if err != nil || l == nil {
			t.Fatalf("Acquire = %v, %v", l, err)
		}
		lost := make(chan error, 1)
		stop := l.KeepAlive(ctx(t), func(err error) { lost <- err })
		first := l.Expires()
		e.clock.Advance(10 * time.Millisecond) // within the lease
		deadline := time.Now().Add(10 * time.Second)
		for !l.Expires().After(first) {
			if time.Now().After(deadline) {
				t.Fatal("lease not renewed within 10s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := l.Release(ctx(t)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // a renewal after the release, if any
		stop()
		select {
		case err := <-lost:
			t.Fatalf("lost reported %v after a release", err)
		default:
		}

		// A lease lost to expiry is reported.
		l, _, err = c.Acquire(ctx(t), "keep2", 1, 30*time.Millisecond)
		if err != nil || l == nil {
			t.Fatalf("Acquire = %v, %v", l, err)
		}
		e.clock.Advance(time.Second) // past the lease before the first renewal
		stop = l.KeepAlive(ctx(t), func(err error) { lost <- err })
		defer stop()
		select {
		case err := <-lost:
			if !errors.Is(err, ratelimit.ErrLeaseLost) {
				t.Fatalf("lost reported %v, want ErrLeaseLost", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("loss not reported within 10s")
		}
	})
}
