package loadenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/redis/go-redis/v9"
)

// Config is what differs between the tools in how they set up and tear
// down.
type Config struct {
	// Tool starts every log line ("restload: ...") and names the temporary
	// directory of the binary.
	Tool string
	// DBPrefix and KeyPrefix start the scratch database's name and the
	// Redis key prefix; a random suffix follows, so that concurrent runs
	// never share state and leftovers say which tool made them.
	DBPrefix  string // e.g. "paradise_bench_"
	KeyPrefix string // e.g. "bench:"
	// StopTimeout is how long a server gets to exit after SIGTERM before
	// it is killed.
	StopTimeout time.Duration
}

// Env is what a run created: the binary, the scratch database, the Redis
// prefix and the servers. Every field is set as soon as the thing it names
// exists, so Close can undo a half-finished Start.
type Env struct {
	cfg         Config
	bin         string
	tmpDir      string
	admin       *sql.DB // connection to the admin database, to drop dbName
	dbName      string
	dbURL       string
	redisURL    string
	rdb         *redis.Client
	redisPrefix string

	mu      sync.Mutex
	servers []*Server // every server started, stopped or not
}

// ServeWith makes the servers started from now on run bin instead of
// paradise: a floor (FloorMain) that a tool measures in Paradise's place,
// after Paradise served the tool's set-up.
func (e *Env) ServeWith(bin string) { e.bin = bin }

// Start builds the binary (unless o.Bin names one), creates and migrates
// the scratch database and connects to Redis. It starts no server. On
// error it still returns the Env, which the caller must Close.
func Start(ctx context.Context, cfg Config, o Options) (*Env, error) {
	e := &Env{cfg: cfg, redisURL: o.RedisURL}
	suffix, err := randomHex(4)
	if err != nil {
		return e, err
	}

	e.bin = o.Bin
	if e.bin == "" {
		if e.tmpDir, err = os.MkdirTemp("", cfg.Tool+"-"); err != nil {
			return e, err
		}
		e.bin = filepath.Join(e.tmpDir, "paradise")
		if err := Build(ctx, cfg.Tool, "./cmd/paradise", e.bin); err != nil {
			return e, err
		}
	}

	// Scratch database.
	if e.admin, err = sql.Open("pgx", o.AdminURL); err != nil {
		return e, err
	}
	name := cfg.DBPrefix + suffix
	if _, err := e.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return e, fmt.Errorf("create database %s: %w", name, err)
	}
	e.dbName = name
	dbURL, err := url.Parse(o.AdminURL)
	if err != nil {
		return e, err
	}
	dbURL.Path = "/" + name
	e.dbURL = dbURL.String()

	// Redis: to read its CPU time and delete the run's keys at the end.
	ropts, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		return e, fmt.Errorf("-redis-url: %w", err)
	}
	e.rdb = redis.NewClient(ropts)
	e.redisPrefix = cfg.KeyPrefix + suffix + ":"
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		return e, fmt.Errorf("redis: %w", err)
	}

	migrate := exec.CommandContext(ctx, e.bin, "migrate")
	migrate.Env = e.environ("127.0.0.1:0", nil)
	migrate.Stdout, migrate.Stderr = os.Stderr, os.Stderr
	if err := migrate.Run(); err != nil {
		return e, fmt.Errorf("paradise migrate: %w", err)
	}
	return e, nil
}

// Build builds the Go package pkg (a path from the repository root, such
// as "./cmd/paradise") into the binary bin; tool names the log line.
func Build(ctx context.Context, tool, pkg, bin string) error {
	logf(tool, "building %s", pkg)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build %s (run from the repository root): %w", pkg, err)
	}
	return nil
}

// DatabaseURL is the scratch database's DSN, as the servers get it.
func (e *Env) DatabaseURL() string { return e.dbURL }

// RedisURL is the Redis server's URL, as the servers get it.
func (e *Env) RedisURL() string { return e.redisURL }

// environ is the environment of a server listening on addr, with extra
// settings (NAME=value) added; a setting in extra replaces the default of
// the same name (os/exec keeps the last), e.g. DATABASE_URL pointing at a
// proxy.
func (e *Env) environ(addr string, extra []string) []string {
	env := append(os.Environ(),
		"DATABASE_URL="+e.dbURL,
		"REDIS_URL="+e.redisURL,
		"PARADISE_REDIS_PREFIX="+e.redisPrefix,
		"PARADISE_ADDR="+addr,
		// Several servers run on one machine: their metrics listeners
		// must not share the default port.
		"PARADISE_METRICS_ADDR=127.0.0.1:0",
		"LOG_LEVEL=warn",
		// The load comes from one address at rates far above a person's:
		// the request rate limits (which a load test does not measure)
		// are off.
		"PARADISE_RATE_LOGIN_IP=0", "PARADISE_RATE_LOGIN_USERNAME=0", "PARADISE_RATE_REGISTER_IP=0",
		"PARADISE_RATE_DEVICE_LOGIN_IP=0", "PARADISE_RATE_DEVICE_LOGIN_MAC=0", "PARADISE_RATE_BIND_USER=0",
		"PARADISE_RATE_CLAIM_IP=0", "PARADISE_RATE_PUSH_USER=0", "PARADISE_RATE_PUSH_DEVICE=0",
	)
	return append(env, extra...)
}

// Stop stops the servers concurrently (nil ones are skipped), each only
// once: see Server.stop.
func (e *Env) Stop(servers ...*Server) {
	var wg sync.WaitGroup
	for _, s := range servers {
		if s == nil {
			continue
		}
		wg.Go(func() { s.stop(e.cfg.StopTimeout) })
	}
	wg.Wait()
}

// Close stops every server still running and, unless keep, deletes the
// Redis keys and drops the database; it always removes the built binary.
// It reports problems on stderr and carries on: clean-up is best effort,
// and it must never hang.
func (e *Env) Close(keep bool) {
	e.mu.Lock()
	servers := slices.Clone(e.servers)
	e.mu.Unlock()
	e.Stop(servers...)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if keep {
		if e.dbName != "" {
			e.logf("kept database %s and Redis keys %s*", e.dbName, e.redisPrefix)
		}
	} else {
		if e.rdb != nil && e.redisPrefix != "" {
			n, err := deleteKeys(ctx, e.rdb, e.redisPrefix+"*")
			if err != nil {
				e.logf("delete Redis keys: %v", err)
			} else {
				e.logf("deleted %d Redis keys %s*", n, e.redisPrefix)
			}
		}
		if e.admin != nil && e.dbName != "" {
			if _, err := e.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+e.dbName+" WITH (FORCE)"); err != nil {
				e.logf("drop database: %v", err)
			} else {
				e.logf("dropped database %s", e.dbName)
			}
		}
	}
	if e.rdb != nil {
		_ = e.rdb.Close()
	}
	if e.admin != nil {
		_ = e.admin.Close()
	}
	if e.tmpDir != "" {
		_ = os.RemoveAll(e.tmpDir)
	}
}

// logf writes a progress line to stderr, after the tool's name.
func (e *Env) logf(format string, args ...any) { logf(e.cfg.Tool, format, args...) }

func logf(tool, format string, args ...any) {
	fmt.Fprintf(os.Stderr, tool+": "+format+"\n", args...)
}

// deleteKeys deletes the keys matching pattern with SCAN, in batches, so a
// large run does not block Redis with one huge command.
func deleteKeys(ctx context.Context, rdb *redis.Client, pattern string) (int, error) {
	deleted := 0
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	batch := make([]string, 0, 1000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := rdb.Del(ctx, batch...).Result()
		deleted += int(n)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return deleted, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return deleted, err
	}
	return deleted, flush()
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
