package ratelimit_test

import (
	"testing"
	"time"

	"paradise/internal/ratelimit"
)

// TestLockout: from the third failure in a row the key is locked, the
// lock doubling with each failure up to the maximum; it ends by itself,
// and a success forgets the failures. Both instances see one state.
func TestLockout(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		a := ratelimit.NewLockout(e.a, e.keys, 3, time.Second, 10*time.Second, ratelimit.WithClock(e.clock.Now))
		b := ratelimit.NewLockout(e.b, e.keys, 3, time.Second, 10*time.Second, ratelimit.WithClock(e.clock.Now))
		ctx := t.Context()
		const key = "login:alice|203.0.113.5"
		for i, want := range []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
			l := a
			if i%2 == 1 {
				l = b
			}
			got, err := l.Fail(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("failure %d: lock %v, want %v", i+1, got, want)
			}
		}
		left, err := b.Locked(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if left != 10*time.Second {
			t.Fatalf("locked for %v on the other instance, want 10s", left)
		}
		e.clock.Advance(10 * time.Second)
		if left, err = a.Locked(ctx, key); err != nil || left != 0 {
			t.Fatalf("after the lock: %v, %v; want unlocked", left, err)
		}
		if err := b.Succeed(ctx, key); err != nil {
			t.Fatal(err)
		}
		if got, err := a.Fail(ctx, key); err != nil || got != 0 {
			t.Fatalf("first failure after a success: lock %v, %v; want none", got, err)
		}
		off := ratelimit.NewLockout(e.a, e.keys, 0, time.Second, time.Second)
		if got, err := off.Fail(ctx, "other"); err != nil || got != 0 {
			t.Fatalf("lockout off: %v, %v", got, err)
		}
	})
}
