package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/internal/redisdb"
)

// Lockout slows down repeated failures for one key (failed logins for a
// username from an address): after `after` failures in a row the key is
// locked for base, and each further failure doubles the lock, up to max.
// A lock always ends by itself (max bounds it), and a success or a day
// without failures forgets the failures, so nobody is locked out for good.
type Lockout struct {
	rdb       redis.Cmdable
	keys      redisdb.Keys
	after     int
	base, max time.Duration
	retention time.Duration
	now       func() time.Time
}

// NewLockout returns a Lockout; after 0 turns it off.
func NewLockout(rdb redis.Cmdable, keys redisdb.Keys, after int, base, max time.Duration, opts ...Option) *Lockout {
	o := newOptions(opts)
	return &Lockout{rdb: rdb, keys: keys, after: after, base: base, max: max, retention: 24 * time.Hour, now: o.now}
}

// Locked reports how long key stays locked (0: not locked).
func (l *Lockout) Locked(ctx context.Context, key string) (time.Duration, error) {
	if l.after <= 0 {
		return 0, nil
	}
	until, err := l.rdb.HGet(ctx, l.keys.RateLimitLockout(key), "until").Int64()
	if err == redis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("lockout", err)
	}
	left := time.UnixMilli(until).Sub(l.now())
	return max(left, 0), nil
}

// failScript: KEYS[1] the lockout hash; ARGV: now (ms), after, base (ms),
// max (ms), retention (ms). Counts a failure and, from the after-th on,
// locks until now + min(base * 2^(failures-after), max). Returns the lock
// in ms (0: not locked).
var failScript = redis.NewScript(`
local f = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local after = tonumber(ARGV[2])
local lock = 0
if f >= after then
  local n = f - after
  if n > 40 then n = 40 end
  lock = tonumber(ARGV[3]) * (2 ^ n)
  if lock > tonumber(ARGV[4]) then lock = tonumber(ARGV[4]) end
  redis.call('HSET', KEYS[1], 'until', string.format('%.0f', tonumber(ARGV[1]) + lock))
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return lock
`)

// Fail counts a failure of key and returns the lock it now has (0: none).
func (l *Lockout) Fail(ctx context.Context, key string) (time.Duration, error) {
	if l.after <= 0 {
		return 0, nil
	}
	ms, err := failScript.Run(ctx, l.rdb, []string{l.keys.RateLimitLockout(key)},
		l.now().UnixMilli(), l.after, l.base.Milliseconds(), l.max.Milliseconds(), l.retention.Milliseconds()).Int64()
	if err != nil {
		return 0, wrap("lockout fail", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Succeed forgets key's failures.
func (l *Lockout) Succeed(ctx context.Context, key string) error {
	if l.after <= 0 {
		return nil
	}
	if err := l.rdb.Del(ctx, l.keys.RateLimitLockout(key)).Err(); err != nil {
		return fmt.Errorf("ratelimit: lockout reset: %w", err)
	}
	return nil
}
