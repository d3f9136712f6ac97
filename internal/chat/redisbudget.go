package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/internal/config"
	"paradise/internal/redisdb"
)

// RedisBudget is a Budget kept in Redis, so every instance shares it:
// per-user counters per UTC day (INCRBY, expiring a day after the day
// ends) and a sorted set of stream leases (scored by their expiry, so a
// lease of a crashed instance frees itself after streamLease).
type RedisBudget struct {
	rdb  *redis.Client
	keys redisdb.Keys
	cfg  config.Chat
	now  func() time.Time
}

// streamLease bounds how long a reply in progress holds its slot if its
// instance dies before releasing it; longer than any reply takes.
const streamLease = 10 * time.Minute

// streamRetry is the Retry-After of a refused concurrent stream: replies
// take seconds.
const streamRetry = 2 * time.Second

// counterTTL keeps a day's counter for a day after the day ends (for
// admins reading usage), then Redis drops it.
const counterTTL = 48 * time.Hour

// NewRedisBudget returns the Redis budget for the configured limits.
func NewRedisBudget(rdb *redis.Client, keys redisdb.Keys, cfg config.Chat) *RedisBudget {
	return &RedisBudget{rdb: rdb, keys: keys, cfg: cfg, now: time.Now}
}

// takeMessage refuses (-1) when the day's tokens are spent, else counts
// the message and returns the new count (the caller refuses above the
// limit, and the script has already taken the count back then).
// KEYS: messages, tokens. ARGV: message limit (0: none), token limit
// (0: none), TTL seconds.
var takeMessage = redis.NewScript(`
local tl = tonumber(ARGV[2])
if tl > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= tl then
  return -1
end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
local ml = tonumber(ARGV[1])
if ml > 0 and n > ml then
  redis.call('DECR', KEYS[1])
  return -2
end
return n
`)

// TakeMessage implements Budget.
func (b *RedisBudget) TakeMessage(ctx context.Context, userID int) error {
	if b.cfg.MessagesPerDay == 0 && b.cfg.TokensPerDay == 0 {
		return nil
	}
	now := b.now()
	day := utcDay(now)
	n, err := takeMessage.Run(ctx, b.rdb, []string{b.keys.ChatMessages(userID, day), b.keys.ChatTokens(userID, day)},
		b.cfg.MessagesPerDay, b.cfg.TokensPerDay, int(counterTTL/time.Second)).Int()
	if err != nil {
		return fmt.Errorf("chat: take message of user %d: %w", userID, err)
	}
	switch n {
	case -1:
		return DailyTokensExceeded(b.cfg.TokensPerDay, untilNextUTCDay(now))
	case -2:
		return DailyMessagesExceeded(b.cfg.MessagesPerDay, untilNextUTCDay(now))
	}
	return nil
}

// AddTokens implements Budget.
func (b *RedisBudget) AddTokens(ctx context.Context, userID int, tokens int) error {
	if tokens <= 0 {
		return nil
	}
	key := b.keys.ChatTokens(userID, utcDay(b.now()))
	pipe := b.rdb.TxPipeline()
	pipe.IncrBy(ctx, key, int64(tokens))
	pipe.Expire(ctx, key, counterTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("chat: add tokens of user %d: %w", userID, err)
	}
	return nil
}

// acquireStream drops expired leases, then adds this one unless the set
// is full. KEYS: streams. ARGV: now ms, lease expiry ms, lease id, limit.
var acquireStream = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) - tonumber(ARGV[1]))
return 1
`)

// AcquireStream implements Budget.
func (b *RedisBudget) AcquireStream(ctx context.Context, userID int) (func(), error) {
	if b.cfg.ConcurrentStreams == 0 {
		return func() {}, nil
	}
	var raw [8]byte
	_, _ = rand.Read(raw[:])
	lease := hex.EncodeToString(raw[:])
	key := b.keys.ChatStreams(userID)
	now := b.now()
	ok, err := acquireStream.Run(ctx, b.rdb, []string{key},
		now.UnixMilli(), now.Add(streamLease).UnixMilli(), lease, b.cfg.ConcurrentStreams).Int()
	if err != nil {
		return nil, fmt.Errorf("chat: acquire stream of user %d: %w", userID, err)
	}
	if ok == 0 {
		return nil, StreamsExceeded(b.cfg.ConcurrentStreams, streamRetry)
	}
	released := false
	return func() {
		if released {
			return
		}
		released = true
		// The request's context may be gone; the slot must come back.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		b.rdb.ZRem(ctx, key, lease)
	}, nil
}
