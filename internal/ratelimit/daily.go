package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/internal/redisdb"
)

// Daily counts usage per key and day (or per fixed window, WithWindow)
// against a limit the caller passes with each call, so one Daily serves
// every quota: messages per day, tokens per day, ...
type Daily struct {
	rdb  redis.Cmdable
	keys redisdb.Keys
	o    options
}

// NewDaily returns a Daily counting in UTC days unless options say
// otherwise.
func NewDaily(rdb redis.Cmdable, keys redisdb.Keys, opts ...Option) *Daily {
	return &Daily{rdb: rdb, keys: keys, o: newOptions(opts)}
}

// takeScript adds ARGV[1] to the counter KEYS[1] if the total stays
// within ARGV[2], refreshing its TTL (ARGV[3] ms). Returns {allowed, used}.
var takeScript = redis.NewScript(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[1])
if used + n > tonumber(ARGV[2]) then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], n)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, used}
`)

// addScript adds ARGV[1] to the counter KEYS[1] whatever the total and
// refreshes its TTL (ARGV[2] ms). Returns the total.
var addScript = redis.NewScript(`
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return used
`)

type window struct {
	id         string
	start, end time.Time
}

// window is the window holding t.
func (d *Daily) window(t time.Time) window {
	if d.o.window > 0 {
		start := t.UTC().Truncate(d.o.window)
		return window{id: start.Format("20060102T150405Z"), start: start, end: start.Add(d.o.window)}
	}
	t = t.In(d.o.loc)
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, d.o.loc)
	return window{id: start.Format(time.DateOnly), start: start, end: start.AddDate(0, 0, 1)}
}

func (d *Daily) ttl(now time.Time, w window) int64 {
	return ceilMillis(w.end.Add(d.o.retention).Sub(now))
}

// Take adds n to key's counter of the current window if the total stays
// within limit. Allowed says whether it did; Remaining is limit minus the
// total (after the take when allowed: what is left for later calls);
// when not allowed RetryAfter is the time until the window ends. n = 0
// takes nothing and is allowed unless the counter is already over limit
// (Add can push it over); use Check to ask "is anything left?".
func (d *Daily) Take(ctx context.Context, key string, n, limit int64) (Decision, error) {
	if n < 0 || limit < 0 {
		return Decision{}, fmt.Errorf("ratelimit: take %d of limit %d: negative", n, limit)
	}
	now := d.o.now()
	w := d.window(now)
	res, err := takeScript.Run(ctx, d.rdb, []string{d.keys.RateLimitCounter(key, w.id)}, n, limit, d.ttl(now, w)).Int64Slice()
	if err != nil {
		return Decision{}, wrap("daily take", err)
	}
	if len(res) != 2 {
		return Decision{}, fmt.Errorf("ratelimit: daily take: unexpected reply %v", res)
	}
	return d.decide(now, w, res[0] == 1, res[1], limit), nil
}

func (d *Daily) decide(now time.Time, w window, allowed bool, used, limit int64) Decision {
	dec := Decision{Allowed: allowed, Limit: limit, Remaining: max(limit-used, 0), ResetAt: w.end}
	if !allowed {
		dec.RetryAfter = w.end.Sub(now)
	}
	return dec
}

// Check reports whether anything is left of limit in key's current window
// (the total is under limit) without counting anything: the check before
// work whose cost is known only afterwards (tokens of an LLM reply, then
// counted with Add).
func (d *Daily) Check(ctx context.Context, key string, limit int64) (Decision, error) {
	now := d.o.now()
	w := d.window(now)
	used, err := d.get(ctx, d.keys.RateLimitCounter(key, w.id))
	if err != nil {
		return Decision{}, wrap("daily check", err)
	}
	return d.decide(now, w, used < limit, used, limit), nil
}

// Add counts n (>= 0) in key's current window whatever the limit, for
// usage known only after the fact (the tokens of a finished reply), and
// returns the window's total. A later Check or Take sees it.
func (d *Daily) Add(ctx context.Context, key string, n int64) (int64, error) {
	if n < 0 {
		return 0, fmt.Errorf("ratelimit: add %d: negative", n)
	}
	now := d.o.now()
	w := d.window(now)
	used, err := addScript.Run(ctx, d.rdb, []string{d.keys.RateLimitCounter(key, w.id)}, n, d.ttl(now, w)).Int64()
	if err != nil {
		return 0, wrap("daily add", err)
	}
	return used, nil
}

// Usage returns key's total in the window holding at (a day in the
// limiter's zone): 0 for a window without usage or whose counter has
// expired (WithRetention after the window ends). For admins and stats.
func (d *Daily) Usage(ctx context.Context, key string, at time.Time) (int64, error) {
	used, err := d.get(ctx, d.keys.RateLimitCounter(key, d.window(at).id))
	if err != nil {
		return 0, wrap("daily usage", err)
	}
	return used, nil
}

// Window returns the start and end of the window holding t.
func (d *Daily) Window(t time.Time) (start, end time.Time) {
	w := d.window(t)
	return w.start, w.end
}

func (d *Daily) get(ctx context.Context, key string) (int64, error) {
	used, err := d.rdb.Get(ctx, key).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return used, err
}
