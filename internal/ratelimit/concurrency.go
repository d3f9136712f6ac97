package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/internal/redisdb"
)

// Concurrency limits how many holders a key has at once across all
// instances (concurrent chat streams per user, ...). Each holder has a
// lease: a holder that neither renews nor releases (its instance crashed)
// loses its slot when the lease runs out.
type Concurrency struct {
	rdb  redis.Cmdable
	keys redisdb.Keys
	o    options
}

// NewConcurrency returns a Concurrency limiter.
func NewConcurrency(rdb redis.Cmdable, keys redisdb.Keys, opts ...Option) *Concurrency {
	return &Concurrency{rdb: rdb, keys: keys, o: newOptions(opts)}
}

// keySlack keeps the holders' set a little longer than its longest lease.
const keySlack = time.Second

// acquireScript drops expired holders of KEYS[1] (score <= ARGV[1], now in
// unix ms), then adds holder ARGV[4] with expiry ARGV[3] if fewer than
// ARGV[2] remain, and makes the set outlive its leases (PEXPIRE ARGV[5],
// never shortened). Returns {allowed, holders, earliest expiry or 0}.
var acquireScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, n, first[2] or '0'}
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return {1, n + 1, '0'}
`)

// renewScript moves holder ARGV[3]'s expiry to ARGV[2] if it still holds
// (its lease has not run out by ARGV[1]). Returns 1 if renewed.
var renewScript = redis.NewScript(`
local score = redis.call('ZSCORE', KEYS[1], ARGV[3])
if not score or tonumber(score) <= tonumber(ARGV[1]) then
  redis.call('ZREM', KEYS[1], ARGV[3])
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1
`)

// Acquire takes one of key's limit slots for lease. When allowed it
// returns the Lease, which the holder must Release when done (and Renew,
// or KeepAlive, if it may outlast lease); when not, the Lease is nil
// (its Release is then a no-op, so `defer lease.Release(ctx)` is safe) and
// RetryAfter is the time until the earliest lease runs out if its holder
// does not renew it. Remaining is the free slots left.
func (c *Concurrency) Acquire(ctx context.Context, key string, limit int64, lease time.Duration) (*Lease, Decision, error) {
	if lease <= 0 {
		return nil, Decision{}, fmt.Errorf("ratelimit: acquire with lease %v: not positive", lease)
	}
	holder, err := newHolderID()
	if err != nil {
		return nil, Decision{}, err
	}
	now := c.o.now()
	rkey := c.keys.RateLimitConcurrency(key)
	expires := now.Add(lease)
	res, err := acquireScript.Run(ctx, c.rdb, []string{rkey},
		now.UnixMilli(), limit, expires.UnixMilli(), holder, ceilMillis(lease+keySlack)).Slice()
	if err != nil {
		return nil, Decision{}, wrap("acquire", err)
	}
	allowed, holders, first, err := parseAcquire(res)
	if err != nil {
		return nil, Decision{}, err
	}
	dec := Decision{Allowed: allowed, Limit: limit, Remaining: max(limit-holders, 0)}
	if !allowed {
		if first > 0 {
			dec.ResetAt = time.UnixMilli(first).In(now.Location())
			dec.RetryAfter = max(dec.ResetAt.Sub(now), time.Millisecond)
		}
		return nil, dec, nil
	}
	return &Lease{c: c, key: rkey, holder: holder, lease: lease, expires: expires}, dec, nil
}

func parseAcquire(res []any) (allowed bool, holders, first int64, err error) {
	if len(res) != 3 {
		return false, 0, 0, fmt.Errorf("ratelimit: acquire: unexpected reply %v", res)
	}
	a, ok1 := res[0].(int64)
	h, ok2 := res[1].(int64)
	s, ok3 := res[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return false, 0, 0, fmt.Errorf("ratelimit: acquire: unexpected reply %v", res)
	}
	// Scores come back as Redis formats them ("1741996800000" from a
	// server, maybe "1.7419968e+12" elsewhere).
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false, 0, 0, fmt.Errorf("ratelimit: acquire: score %q: %w", s, err)
	}
	return a == 1, h, int64(f), nil
}

// Holders returns how many leases of key are live now.
func (c *Concurrency) Holders(ctx context.Context, key string) (int64, error) {
	n, err := c.rdb.ZCount(ctx, c.keys.RateLimitConcurrency(key), "("+strconv.FormatInt(c.o.now().UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return 0, wrap("holders", err)
	}
	return n, nil
}

func newHolderID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("ratelimit: holder id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Lease is one held slot of a Concurrency limit. Its methods are safe for
// concurrent use.
type Lease struct {
	c      *Concurrency
	key    string
	holder string
	lease  time.Duration

	mu       sync.Mutex
	expires  time.Time
	released bool
}

// Expires is when the lease runs out unless renewed.
func (l *Lease) Expires() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expires
}

// Renew extends the lease to a full lease from now. It returns
// ErrLeaseLost if the lease ran out first (its slot may be someone else's
// now) or was released; the holder then stops, or tries Acquire again.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return ErrLeaseLost
	}
	now := l.c.o.now()
	expires := now.Add(l.lease)
	ok, err := renewScript.Run(ctx, l.c.rdb, []string{l.key},
		now.UnixMilli(), expires.UnixMilli(), l.holder, ceilMillis(l.lease+keySlack)).Int64()
	if err != nil {
		return wrap("renew", err)
	}
	if ok != 1 {
		return ErrLeaseLost
	}
	l.expires = expires
	return nil
}

// Release frees the slot. Releasing twice, or a nil Lease (a denied
// Acquire), does nothing. On a Redis error the slot frees itself when the
// lease runs out. Call it with a context that outlives the request's
// (context.WithoutCancel) so a cancelled request still releases.
func (l *Lease) Release(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return nil
	}
	if err := l.c.rdb.ZRem(ctx, l.key, l.holder).Err(); err != nil {
		return wrap("release", err)
	}
	l.released = true
	return nil
}

func (l *Lease) isReleased() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.released
}

// KeepAlive renews the lease every third of its length (by the wall
// clock) until ctx is done or the lease is released, for holders that may
// outlast one lease (long streams). It returns a function that stops it
// and waits; lost, if not nil, is called once with ErrLeaseLost or the
// Redis error when a renewal fails (it keeps trying on Redis errors while
// the lease may still be live).
func (l *Lease) KeepAlive(ctx context.Context, lost func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(max(l.lease/3, time.Millisecond))
		defer t.Stop()
		reported := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := l.Renew(ctx)
			switch {
			case err == nil:
				continue
			case ctx.Err() != nil:
				return
			}
			if err == ErrLeaseLost && l.isReleased() {
				return
			}
			if lost != nil && !reported {
				reported = true
				lost(err)
			}
			if err == ErrLeaseLost {
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
