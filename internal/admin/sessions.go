package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/internal/hub"
	"paradise/internal/outage"
	"paradise/internal/redisdb"
)

// Sessions counts the hub sessions open on every instance, for the
// dashboard. Each instance counts its own sessions (hub hooks) and
// reports the count in the hash admin:hub_sessions every sessionsBeat,
// stamped with the time; a count older than sessionsStale is an instance
// that died and is ignored (and removed).
type Sessions struct {
	rdb      *redis.Client
	key      string
	instance string
	log      *zap.Logger
	outages  *outage.Log
	open     atomic.Int64

	stop chan struct{}
	done sync.WaitGroup
}

const (
	sessionsBeat  = 5 * time.Second
	sessionsStale = 3 * sessionsBeat
)

// NewSessions returns the counter, reporting while the app runs.
func NewSessions(lc fx.Lifecycle, rdb *redis.Client, keys redisdb.Keys, log *zap.Logger) *Sessions {
	var b [8]byte
	_, _ = rand.Read(b[:])
	log = log.Named("admin")
	s := &Sessions{rdb: rdb, key: keys.AdminHubSessions(), instance: hex.EncodeToString(b[:]),
		log: log, outages: outage.NewLog(log), stop: make(chan struct{})}
	lc.Append(fx.StartStopHook(s.start, s.shutdown))
	return s
}

// Hooks count this instance's sessions. A session a later hook refuses is
// undone by the hub (its Disconnect runs), so the count stays exact.
func (s *Sessions) Hooks() hub.Hooks {
	return hub.Hooks{
		Name:       "admin-sessions",
		Connect:    func(context.Context, *hub.Session) error { s.open.Add(1); return nil },
		Disconnect: func(context.Context, *hub.Session) { s.open.Add(-1) },
	}
}

func (s *Sessions) start(ctx context.Context) error {
	if err := s.report(ctx); err != nil {
		// Redis may come back; the dashboard misses this instance until then.
		s.outages.Report("hub session count", err)
	}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(sessionsBeat)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), sessionsBeat)
				if err := s.report(ctx); err != nil {
					s.outages.Report("hub session count", err)
				}
				cancel()
			}
		}
	}()
	return nil
}

func (s *Sessions) shutdown(ctx context.Context) error {
	close(s.stop)
	s.done.Wait()
	if err := s.rdb.HDel(ctx, s.key, s.instance).Err(); err != nil {
		return fmt.Errorf("admin: retire hub session count: %w", err)
	}
	return nil
}

// report stores this instance's count as "{count}:{unix ms}".
func (s *Sessions) report(ctx context.Context) error {
	v := strconv.FormatInt(s.open.Load(), 10) + ":" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	if err := s.rdb.HSet(ctx, s.key, s.instance, v).Err(); err != nil {
		return fmt.Errorf("admin: report hub sessions: %w", err)
	}
	return nil
}

// Total sums the fresh counts of every instance; this instance's count is
// read live. Stale counts (dead instances) are removed.
func (s *Sessions) Total(ctx context.Context) (int, error) {
	all, err := s.rdb.HGetAll(ctx, s.key).Result()
	if err != nil {
		return 0, fmt.Errorf("admin: hub sessions: %w", err)
	}
	total := int(s.open.Load())
	cutoff := time.Now().Add(-sessionsStale).UnixMilli()
	var stale []string
	for inst, v := range all {
		if inst == s.instance {
			continue
		}
		countStr, atStr, _ := strings.Cut(v, ":")
		count, err1 := strconv.Atoi(countStr)
		at, err2 := strconv.ParseInt(atStr, 10, 64)
		if err1 != nil || err2 != nil || at < cutoff {
			stale = append(stale, inst)
			continue
		}
		total += count
	}
	if len(stale) > 0 {
		if err := s.rdb.HDel(ctx, s.key, stale...).Err(); err != nil {
			return 0, fmt.Errorf("admin: hub sessions: %w", err)
		}
	}
	return total, nil
}
