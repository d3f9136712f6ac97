package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/internal/redisdb"
)

// Rate is a number of events per period: PerMinute(5) is five a minute.
type Rate struct {
	Events int64
	Per    time.Duration
}

// PerSecond is n events a second.
func PerSecond(n int64) Rate { return Rate{Events: n, Per: time.Second} }

// PerMinute is n events a minute.
func PerMinute(n int64) Rate { return Rate{Events: n, Per: time.Minute} }

// PerHour is n events an hour.
func PerHour(n int64) Rate { return Rate{Events: n, Per: time.Hour} }

// interval is the time between two events at the rate, in microseconds.
func (r Rate) interval() int64 { return int64(r.Per/time.Microsecond) / r.Events }

// Limiter limits request rates per key (login attempts per IP, pushes
// per user, ...) with GCRA, the generic cell rate algorithm: a token
// bucket of burst tokens refilled at rate, kept in Redis as one number
// (the theoretical arrival time of the next request).
type Limiter struct {
	rdb  redis.Cmdable
	keys redisdb.Keys
	o    options
}

// NewLimiter returns a rate Limiter.
func NewLimiter(rdb redis.Cmdable, keys redisdb.Keys, opts ...Option) *Limiter {
	return &Limiter{rdb: rdb, keys: keys, o: newOptions(opts)}
}

// allowScript: KEYS[1] holds the theoretical arrival time (TAT, unix µs);
// ARGV: now (µs), emission interval T (µs), burst. A request is allowed
// when now >= TAT + T - burst*T; then TAT becomes max(TAT, now) + T,
// expiring when the bucket is full again. Returns {allowed, remaining,
// retry after µs, reset after µs}. Numbers are written with %.0f:
// microsecond timestamps have 16 digits, more than Lua's default number
// format keeps.
var allowScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local T = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + T
local allow_at = new_tat - burst * T
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', math.ceil((new_tat - now) / 1000)))
return {1, math.floor((now - allow_at) / T), 0, new_tat - now}
`)

// Allow counts one request of key if it fits rate with bursts of up to
// burst requests at once. Remaining is how many more could be made right
// now; when not allowed, RetryAfter is the wait until one fits.
func (l *Limiter) Allow(ctx context.Context, key string, rate Rate, burst int64) (Decision, error) {
	if rate.Events <= 0 || rate.Per <= 0 || burst <= 0 || rate.interval() <= 0 {
		return Decision{}, fmt.Errorf("ratelimit: rate %d per %v with burst %d: not positive (or over a million a second)", rate.Events, rate.Per, burst)
	}
	now := l.o.now()
	res, err := allowScript.Run(ctx, l.rdb, []string{l.keys.RateLimitRate(key)},
		now.UnixMicro(), rate.interval(), burst).Int64Slice()
	if err != nil {
		return Decision{}, wrap("allow", err)
	}
	if len(res) != 4 {
		return Decision{}, fmt.Errorf("ratelimit: allow: unexpected reply %v", res)
	}
	dec := Decision{Allowed: res[0] == 1, Limit: burst, Remaining: min(max(res[1], 0), burst),
		ResetAt: now.Add(time.Duration(res[3]) * time.Microsecond)}
	if !dec.Allowed {
		dec.RetryAfter = max(time.Duration(res[2])*time.Microsecond, time.Microsecond)
	}
	return dec, nil
}

// Reset forgets key's history (a successful login clearing the failed
// attempts counted against a user name, say).
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := l.rdb.Del(ctx, l.keys.RateLimitRate(key)).Err(); err != nil {
		return wrap("reset", err)
	}
	return nil
}
