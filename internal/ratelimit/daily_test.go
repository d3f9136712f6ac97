package ratelimit_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"paradise/internal/apperr"
	"paradise/internal/ratelimit"
)

func TestDailyTake(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		// Two instances, one counter.
		da := ratelimit.NewDaily(e.a, e.keys, ratelimit.WithClock(e.clock.Now))
		db := ratelimit.NewDaily(e.b, e.keys, ratelimit.WithClock(e.clock.Now))
		midnight := time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)
		const key, limit = "chat:messages:user:7", 5
		steps := []struct {
			name      string
			d         *ratelimit.Daily
			n         int64
			allowed   bool
			remaining int64
		}{
			{"first", da, 1, true, 4},
			{"other instance", db, 2, true, 2},
			{"nothing taken", da, 0, true, 2},
			{"too many at once: nothing counted", db, 3, false, 2},
			{"exactly the rest", da, 2, true, 0},
			{"over", db, 1, false, 0},
			{"over on the other instance", da, 1, false, 0},
		}
		for _, s := range steps {
			dec, err := s.d.Take(ctx(t), key, s.n, limit)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			want := ratelimit.Decision{Allowed: s.allowed, Limit: limit, Remaining: s.remaining, ResetAt: midnight}
			if !s.allowed {
				want.RetryAfter = time.Minute // 23:59 to midnight
			}
			if dec != want {
				t.Fatalf("%s: Take(%d) = %+v, want %+v", s.name, s.n, dec, want)
			}
		}
		today := e.clock.Now()
		if used, err := db.Usage(ctx(t), key, today); err != nil || used != 5 {
			t.Fatalf("Usage today = %d, %v; want 5", used, err)
		}

		// Day rollover: a fresh counter; yesterday's stays readable.
		e.clock.Set(midnight)
		dec, err := da.Take(ctx(t), key, 1, limit)
		if err != nil || !dec.Allowed || dec.Remaining != 4 || !dec.ResetAt.Equal(midnight.AddDate(0, 0, 1)) {
			t.Fatalf("Take after midnight = %+v, %v; want allowed, 4 left, reset the next midnight", dec, err)
		}
		if used, err := da.Usage(ctx(t), key, today); err != nil || used != 5 {
			t.Fatalf("Usage yesterday = %d, %v; want 5", used, err)
		}
		if used, err := da.Usage(ctx(t), key, midnight.Add(12*time.Hour)); err != nil || used != 1 {
			t.Fatalf("Usage today = %d, %v; want 1", used, err)
		}
		if used, err := da.Usage(ctx(t), "chat:messages:user:8", midnight); err != nil || used != 0 {
			t.Fatalf("Usage of a key never used = %d, %v; want 0", used, err)
		}

		// Other keys are separate.
		if dec, err := da.Take(ctx(t), "chat:messages:user:8", limit, limit); err != nil || !dec.Allowed || dec.Remaining != 0 {
			t.Fatalf("Take of another key = %+v, %v", dec, err)
		}
	})
}

// TestDailyTokens is the tokens-per-day pattern: check there is budget
// left, run the reply, count its tokens afterwards.
func TestDailyTokens(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		d := ratelimit.NewDaily(e.a, e.keys, ratelimit.WithClock(e.clock.Now))
		const key, limit = "chat:tokens:user:7", 1000
		steps := []struct {
			name      string
			add       int64 // counted before the check
			allowed   bool
			remaining int64
		}{
			{"fresh", 0, true, 1000},
			{"a reply", 600, true, 400},
			{"just under", 399, true, 1},
			{"a reply that overshoots", 500, false, 0},
			{"still over", 0, false, 0},
		}
		total := int64(0)
		for _, s := range steps {
			if s.add > 0 {
				got, err := d.Add(ctx(t), key, s.add)
				total += s.add
				if err != nil || got != total {
					t.Fatalf("%s: Add = %d, %v; want %d", s.name, got, err, total)
				}
			}
			dec, err := d.Check(ctx(t), key, limit)
			if err != nil {
				t.Fatal(err)
			}
			if dec.Allowed != s.allowed || dec.Remaining != s.remaining {
				t.Fatalf("%s: Check = %+v, want allowed %v with %d left", s.name, dec, s.allowed, s.remaining)
			}
			if !s.allowed && dec.RetryAfter != time.Minute {
				t.Fatalf("%s: RetryAfter = %v, want 1m (to midnight)", s.name, dec.RetryAfter)
			}
		}
		if used, err := d.Usage(ctx(t), key, e.clock.Now()); err != nil || used != 1499 {
			t.Fatalf("Usage = %d, %v; want 1499", used, err)
		}
		// Over the limit, even a zero take is refused.
		if dec, err := d.Take(ctx(t), key, 0, limit); err != nil || dec.Allowed {
			t.Fatalf("Take(0) over the limit = %+v, %v; want refused", dec, err)
		}
		if _, err := d.Add(ctx(t), key, -1); err == nil {
			t.Fatal("Add(-1): no error")
		}
		if _, err := d.Take(ctx(t), key, -1, limit); err == nil {
			t.Fatal("Take(-1): no error")
		}
	})
}

// TestDailyConcurrent: 50 takes race for 10 units from two instances;
// exactly 10 win.
func TestDailyConcurrent(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		ds := []*ratelimit.Daily{
			ratelimit.NewDaily(e.a, e.keys, ratelimit.WithClock(e.clock.Now)),
			ratelimit.NewDaily(e.b, e.keys, ratelimit.WithClock(e.clock.Now)),
		}
		got := race(t, 50, func(i int) (bool, error) {
			dec, err := ds[i%2].Take(ctx(t), "race", 1, 10)
			return dec.Allowed, err
		})
		if got != 10 {
			t.Fatalf("%d of 50 allowed, want 10", got)
		}
		if used, err := ds[0].Usage(ctx(t), "race", e.clock.Now()); err != nil || used != 10 {
			t.Fatalf("Usage = %d, %v; want 10", used, err)
		}
	})
}

// TestDailyExpiry: counters expire after their window plus the retention.
func TestDailyExpiry(t *testing.T) {
	both(t, func(t *testing.T, e *env) {
		d := ratelimit.NewDaily(e.a, e.keys, ratelimit.WithClock(e.clock.Now), ratelimit.WithRetention(time.Hour))
		if _, err := d.Take(ctx(t), "ttl", 1, 10); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Add(ctx(t), "ttl-add", 1); err != nil {
			t.Fatal(err)
		}
		want := time.Minute + time.Hour // to midnight, plus the retention
		for _, key := range []string{"ttl", "ttl-add"} {
			ttl, err := e.a.PTTL(ctx(t), e.keys.RateLimitCounter(key, "2025-03-14")).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl > want || ttl < want-5*time.Second {
				t.Fatalf("%s: PTTL = %v, want about %v", key, ttl, want)
			}
		}
		if e.mini != nil {
			e.mini.FastForward(want + time.Second)
			if used, err := d.Usage(ctx(t), "ttl", e.clock.Now()); err != nil || used != 0 {
				t.Fatalf("Usage after expiry = %d, %v; want 0", used, err)
			}
		}
	})
}

func TestDailyWindows(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	tests := []struct {
		name      string
		opts      []ratelimit.Option
		at        time.Time
		start     time.Time
		end       time.Time
		windowKey string
	}{
		{"UTC day", nil, time.Date(2025, 3, 14, 23, 59, 59, 0, time.UTC),
			time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC), "2025-03-14"},
		{"UTC day from another zone", nil, time.Date(2025, 3, 15, 7, 0, 0, 0, shanghai),
			time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC), "2025-03-14"},
		{"Shanghai day", []ratelimit.Option{ratelimit.WithLocation(shanghai)}, time.Date(2025, 3, 14, 16, 0, 0, 0, time.UTC),
			time.Date(2025, 3, 15, 0, 0, 0, 0, shanghai), time.Date(2025, 3, 16, 0, 0, 0, 0, shanghai), "2025-03-15"},
		{"hour window", []ratelimit.Option{ratelimit.WithWindow(time.Hour)}, time.Date(2025, 3, 14, 13, 30, 0, 0, time.UTC),
			time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC), time.Date(2025, 3, 14, 14, 0, 0, 0, time.UTC), "20250314T130000Z"},
	}
	both(t, func(t *testing.T, e *env) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e.clock.Set(tc.at)
				d := ratelimit.NewDaily(e.a, e.keys, append(tc.opts, ratelimit.WithClock(e.clock.Now))...)
				start, end := d.Window(tc.at)
				if !start.Equal(tc.start) || !end.Equal(tc.end) {
					t.Fatalf("Window = %v .. %v, want %v .. %v", start, end, tc.start, tc.end)
				}
				key := "window:" + tc.name
				dec, err := d.Take(ctx(t), key, 1, 1)
				if err != nil || !dec.Allowed || !dec.ResetAt.Equal(tc.end) {
					t.Fatalf("Take = %+v, %v; want allowed, reset at %v", dec, err, tc.end)
				}
				if v, err := e.a.Get(ctx(t), e.keys.RateLimitCounter(key, tc.windowKey)).Result(); err != nil || v != "1" {
					t.Fatalf("counter %s = %q, %v; want 1", tc.windowKey, v, err)
				}
				dec, err = d.Take(ctx(t), key, 1, 1)
				if err != nil || dec.Allowed || dec.RetryAfter != tc.end.Sub(tc.at) {
					t.Fatalf("second Take = %+v, %v; want refused, retry after %v", dec, err, tc.end.Sub(tc.at))
				}
				e.clock.Set(tc.end)
				if dec, err := d.Take(ctx(t), key, 1, 1); err != nil || !dec.Allowed {
					t.Fatalf("Take in the next window = %+v, %v; want allowed", dec, err)
				}
			})
		}
	})
}

func TestDecisionErr(t *testing.T) {
	if err := (ratelimit.Decision{Allowed: true}).Err("x"); err != nil {
		t.Fatalf("allowed: Err = %v", err)
	}
	err := (ratelimit.Decision{RetryAfter: 90 * time.Second}).Err("Daily message limit reached.")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || ae.Code != apperr.CodeTooManyRequests ||
		ae.RetryAfter != 90*time.Second || ae.Message != "Daily message limit reached." {
		t.Fatalf("refused: Err = %#v, want a 429 with code 4291 and RetryAfter 90s", err)
	}
}
