// Package ratelimit holds limits shared by all instances, in Redis:
//
//   - Daily: usage counters per day (or per fixed window) with a limit,
//     e.g. chat messages or LLM tokens per user per day.
//   - Concurrency: slots held at once across instances, with leases, e.g.
//     concurrent chat streams per user. A crashed instance's slots free
//     themselves when their lease runs out.
//   - Limiter: request rates (GCRA, a token bucket kept as one timestamp),
//     e.g. login attempts per IP per minute.
//
// Every check is one Lua script, atomic across instances, and works on a
// Redis server and on the embedded default's in-process Redis (miniredis).
//
// # Keys
//
// Callers name what they limit with a key of their own, "{what}:{who}",
// e.g. "chat:messages:user:42" or "login:ip:203.0.113.5"; the Redis key
// names around it are redisdb.Keys' RateLimit* (ratelimit:daily:{key}:{day},
// ratelimit:concurrency:{key}, ratelimit:rate:{key}). Keep secrets (tokens,
// passwords) out of keys.
//
// # Redis outages: no silent allow
//
// When Redis cannot be reached every method returns the error, wrapped
// (outage.Is recognises it), and a Decision that does not allow. The
// package never decides to fail open. Callers choose:
//
//   - fail closed (answer 503 via outage / apperr.DependencyDown): the
//     recommended default, and required for anything that guards
//     credentials (logins, registrations, MAC logins, binds), where an
//     outage must not become a window for guessing passwords;
//   - fail open, explicitly, for limits that only protect cost and where
//     the rest of the request works without Redis (rare: most requests
//     need Redis for their token anyway). Log it when you do.
//
// # Clocks
//
// Windows, leases and rates are computed with the limiter's clock (the
// instance's wall clock unless WithClock replaces it, as tests do); Redis
// TTLs are set relative to it. Instances are expected to keep their clocks
// in sync (NTP): a skew of s seconds moves a day boundary by s and
// shortens or lengthens other instances' leases by s, so keep leases well
// above the expected skew.
package ratelimit

import (
	"errors"
	"fmt"
	"time"

	"paradise/internal/apperr"
)

// Decision is the answer of a limit check.
type Decision struct {
	// Allowed tells whether the request may go ahead (and, for Take,
	// Acquire and Allow, was counted).
	Allowed bool
	// Limit is the limit checked against (for a Limiter, the burst).
	Limit int64
	// Remaining is what is left after this request: units of a daily
	// limit, free slots of a concurrency limit, requests that could be
	// made at once now under a rate limit. Never negative.
	Remaining int64
	// RetryAfter, when not allowed, is how long until the request could
	// succeed: until the window resets (Daily), until the earliest lease
	// runs out unless renewed (Concurrency), until a request fits the rate
	// (Limiter). Zero when allowed.
	RetryAfter time.Duration
	// ResetAt is when the limit is back to full: the end of the window
	// (Daily), the earliest lease expiry (Concurrency, when not allowed),
	// when the rate allows a full burst again (Limiter).
	ResetAt time.Time
}

// Err returns nil when d allows, and otherwise the 429 (code 4291) to
// answer with msg and d's RetryAfter.
func (d Decision) Err(msg string) error {
	if d.Allowed {
		return nil
	}
	return apperr.TooManyRequests(msg, d.RetryAfter)
}

// ErrLeaseLost is returned by Lease.Renew when the lease is no longer held:
// it ran out before it was renewed (and another holder may have its slot)
// or it was released.
var ErrLeaseLost = errors.New("ratelimit: lease lost")

// Option configures a limiter.
type Option func(*options)

type options struct {
	now       func() time.Time
	loc       *time.Location
	window    time.Duration
	retention time.Duration
}

func newOptions(opts []Option) options {
	o := options{now: time.Now, loc: time.UTC, retention: defaultRetention}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// defaultRetention is how long a Daily counter stays readable after its
// window: yesterday's usage can be read all of today.
const defaultRetention = 25 * time.Hour

// WithClock replaces the wall clock (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLocation makes a Daily limiter's days those of loc (default UTC):
// the counters reset at midnight there.
func WithLocation(loc *time.Location) Option { return func(o *options) { o.loc = loc } }

// WithWindow makes a Daily limiter count in fixed windows of d (an hour,
// ten minutes, ...) aligned on UTC instead of days. d must divide 24h for
// the windows to start at midnight UTC.
func WithWindow(d time.Duration) Option { return func(o *options) { o.window = d } }

// WithRetention sets how long a Daily counter is kept after its window
// ends (default 25h, so yesterday's usage can still be read for admins).
func WithRetention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// wrap names the operation on a Redis error; outage.Is still sees it.
func wrap(op string, err error) error { return fmt.Errorf("ratelimit: %s: %w", op, err) }

// ceilMillis is d in whole milliseconds, rounded up, at least 1 (a Redis
// TTL of 0 is an error).
func ceilMillis(d time.Duration) int64 {
	return max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
}
