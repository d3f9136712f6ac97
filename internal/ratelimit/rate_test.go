package ratelimit_test

import (
	"testing"
	"time"

	"paradise/internal/ratelimit"
	"paradise/internal/redisdb"
)

func TestLimiterAllow(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		la := ratelimit.NewLimiter(e.a, e.keys, ratelimit.WithClock(e.clock.Now))
		lb := ratelimit.NewLimiter(e.b, e.keys, ratelimit.WithClock(e.clock.Now))
		const key = "login:ip:203.0.113.5"
		rate := ratelimit.PerMinute(5) // one every 12 s
		steps := []struct {
			name       string
			l          *ratelimit.Limiter
			advance    time.Duration
			allowed    bool
			remaining  int64
			retryAfter time.Duration
			resetIn    time.Duration // ResetAt - now
		}{
			{"1 of the burst", la, 0, true, 2, 0, 12 * time.Second},
			{"2 on the other instance", lb, 0, true, 1, 0, 24 * time.Second},
			{"3", la, 0, true, 0, 0, 36 * time.Second},
			{"4 refused", lb, 0, false, 0, 12 * time.Second, 36 * time.Second},
			{"still refused a little later", la, 11 * time.Second, false, 0, time.Second, 25 * time.Second},
			{"one refilled", lb, time.Second, true, 0, 0, 36 * time.Second},
			{"refused again", la, 0, false, 0, 12 * time.Second, 36 * time.Second},
			{"a long pause refills the burst, not more", lb, time.Hour, true, 2, 0, 12 * time.Second},
		}
		for _, s := range steps {
			e.clock.Advance(s.advance)
			dec, err := s.l.Allow(ctx(t), key, rate, 3)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			want := ratelimit.Decision{Allowed: s.allowed, Limit: 3, Remaining: s.remaining,
				RetryAfter: s.retryAfter, ResetAt: e.clock.Now().Add(s.resetIn)}
			if dec != want {
				t.Fatalf("%s: Allow = %+v, want %+v", s.name, dec, want)
			}
		}
		// Reset forgets the history.
		for range 2 {
			if _, err := la.Allow(ctx(t), key, rate, 3); err != nil {
				t.Fatal(err)
			}
		}
		if err := lb.Reset(ctx(t), key); err != nil {
			t.Fatal(err)
		}
		if dec, err := la.Allow(ctx(t), key, rate, 3); err != nil || !dec.Allowed || dec.Remaining != 2 {
			t.Fatalf("Allow after Reset = %+v, %v; want allowed with 2 left", dec, err)
		}
		// The state expires once the bucket is full again.
		ttl, err := e.a.PTTL(ctx(t), e.keys.RateLimitRate(key)).Result()
		if err != nil || ttl <= 0 || ttl > 12*time.Second {
			t.Fatalf("PTTL = %v, %v; want (0, 12s]", ttl, err)
		}
		if e.mini != nil {
			e.mini.FastForward(13 * time.Second)
			if e.mini.Exists(e.keys.RateLimitRate(key)) {
				t.Fatal("rate state outlived a full bucket")
			}
		}
	})
}

func TestLimiterRates(t *testing.T) {
	tests := []struct {
		name       string
		rate       ratelimit.Rate
		burst      int64
		allowed    int // in a row at one instant
		retryAfter time.Duration
	}{
		{"5 a minute, burst 1", ratelimit.PerMinute(5), 1, 1, 12 * time.Second},
		{"50 a second, burst 100", ratelimit.PerSecond(50), 100, 100, 20 * time.Millisecond},
		{"7 a minute (uneven interval)", ratelimit.PerMinute(7), 7, 7, 8571428 * time.Microsecond},
		{"10 an hour", ratelimit.PerHour(10), 2, 2, 6 * time.Minute},
	}
	both(t, func(t *testing.T, e *env) {
		l := ratelimit.NewLimiter(e.a, e.keys, ratelimit.WithClock(e.clock.Now))
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				for i := range tc.allowed {
					dec, err := l.Allow(ctx(t), tc.name, tc.rate, tc.burst)
					if err != nil || !dec.Allowed || dec.Remaining != tc.burst-1-int64(i) {
						t.Fatalf("request %d: %+v, %v; want allowed with %d left", i+1, dec, err, tc.burst-1-int64(i))
					}
				}
				dec, err := l.Allow(ctx(t), tc.name, tc.rate, tc.burst)
				if err != nil || dec.Allowed || dec.RetryAfter != tc.retryAfter {
					t.Fatalf("over the burst: %+v, %v; want refused, retry after %v", dec, err, tc.retryAfter)
				}
				e.clock.Advance(dec.RetryAfter)
				if dec, err := l.Allow(ctx(t), tc.name, tc.rate, tc.burst); err != nil || !dec.Allowed {
					t.Fatalf("after RetryAfter: %+v, %v; want allowed", dec, err)
				}
			})
		}
	})
	for _, bad := range []struct {
		rate  ratelimit.Rate
		burst int64
	}{{ratelimit.PerMinute(0), 1}, {ratelimit.PerMinute(1), 0}, {ratelimit.Rate{Events: 1}, 1}, {ratelimit.PerSecond(2_000_000), 1}} {
		l := ratelimit.NewLimiter(nil, redisdb.Keys{})
		if _, err := l.Allow(ctx(t), "bad", bad.rate, bad.burst); err == nil {
			t.Fatalf("Allow(%+v, burst %d): no error", bad.rate, bad.burst)
		}
	}
}

// TestLimiterRace: 50 requests race for a burst of 10 from two
// instances; exactly 10 pass.
func TestLimiterRace(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		ls := []*ratelimit.Limiter{
			ratelimit.NewLimiter(e.a, e.keys, ratelimit.WithClock(e.clock.Now)),
			ratelimit.NewLimiter(e.b, e.keys, ratelimit.WithClock(e.clock.Now)),
		}
		got := race(t, 50, func(i int) (bool, error) {
			dec, err := ls[i%2].Allow(ctx(t), "race", ratelimit.PerMinute(1), 10)
			return dec.Allowed, err
		})
		if got != 10 {
			t.Fatalf("%d of 50 allowed, want 10", got)
		}
	})
}
