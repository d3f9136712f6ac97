package ratelimit

import (
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"paradise/internal/config"
	"paradise/internal/redisdb"
)

// Module provides a Daily (UTC days), a Concurrency and a Limiter on the
// service's Redis, for the modules that limit something to inject, and
// the Guard applying the request rate limits of config.RateLimits.
var Module = fx.Module("ratelimit",
	fx.Provide(
		func(rdb *redis.Client, keys redisdb.Keys) *Daily { return NewDaily(rdb, keys) },
		func(rdb *redis.Client, keys redisdb.Keys) *Concurrency { return NewConcurrency(rdb, keys) },
		func(rdb *redis.Client, keys redisdb.Keys) *Limiter { return NewLimiter(rdb, keys) },
		func(rdb *redis.Client, keys redisdb.Keys, cfg config.RateLimits) *Lockout {
			return NewLockout(rdb, keys, cfg.LockoutAfter, cfg.LockoutBase, cfg.LockoutMax)
		},
		NewGuard,
	),
)
