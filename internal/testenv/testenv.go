// Package testenv runs the whole service for integration tests: on real
// Postgres and Redis, each test in its own database and key prefix, or on
// the embedded default (SQLite file + in-process Redis).
//
// Postgres and Redis are found at PARADISE_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres) and PARADISE_TEST_REDIS_URL
// (default redis://127.0.0.1:6379/0). When one is down the test is skipped,
// or fails under CI=true.
package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"paradise/ent/migrate/migrations"
	"paradise/internal/app"
	"paradise/internal/config"
	"paradise/internal/database"
	"paradise/internal/httpapi"
	"paradise/internal/metrics"
)

// Backend names a storage setup a test runs on.
type Backend string

const (
	// Postgres is production mode: Postgres and Redis servers.
	Postgres Backend = "postgres"
	// Embedded is the embedded default: SQLite and in-process Redis.
	Embedded Backend = "embedded"
)

// Backends lists every backend; suites run once per backend.
var Backends = []Backend{Postgres, Embedded}

func adminURL() string {
	if v := os.Getenv("PARADISE_TEST_DATABASE_URL"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func redisURL() string {
	if v := os.Getenv("PARADISE_TEST_REDIS_URL"); v != "" {
		return v
	}
	return "redis://127.0.0.1:6379/0"
}

// unavailable skips the test, or fails it in CI where services must be up.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s unavailable (CI=true, so this fails instead of skipping): %v", what, err)
	}
	t.Skipf("%s unavailable: %v", what, err)
}

// RandomID is a short random lower-case hex string for names.
func RandomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// migrationsHash names the template database, so a changed migration
// directory gets a fresh template.
func migrationsHash() (string, error) {
	sum, err := fs.ReadFile(migrations.FS, "atlas.sum")
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(sum)
	return hex.EncodeToString(h[:6]), nil
}

// template returns a database with every migration applied, created once
// per migration set (and shared across test processes: it is guarded by an
// advisory lock and kept between runs).
func template(ctx context.Context, admin *sql.DB) (string, error) {
	templateOnce.Do(func() {
		templateName, templateErr = buildTemplate(ctx, admin)
	})
	return templateName, templateErr
}

func buildTemplate(ctx context.Context, admin *sql.DB) (string, error) {
	hash, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "paradise_tmpl_" + hash
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// Test binaries of several packages run at once; one builds.
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(74657374)`); err != nil {
		return "", err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(74657374)`) //nolint:errcheck
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+building+` WITH (FORCE)`); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+building); err != nil {
		return "", err
	}
	db, err := sql.Open("pgx", withDatabase(adminURL(), building))
	if err != nil {
		return "", err
	}
	if _, err := database.Migrate(ctx, db); err != nil {
		db.Close()
		return "", fmt.Errorf("migrate template: %w", err)
	}
	db.Close()
	// Rename only once complete, so a crashed build is never used.
	if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+building+` RENAME TO `+name); err != nil {
		return "", err
	}
	return name, nil
}

func withDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + name
	return u.String()
}

// NewPostgresDatabase creates a fresh, migrated database for the test and
// drops it when the test ends. It returns its DSN.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	admin := adminDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tmpl, err := template(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: template database: %v", err)
	}
	// CREATE DATABASE ... TEMPLATE fails while another session is connected
	// to the template; only template builds connect to it, under the lock.
	return createDatabase(t, admin, "paradise_t_"+RandomID(), tmpl)
}

// NewEmptyPostgresDatabase creates a database with nothing in it (no
// migrations) and drops it when the test ends. It returns its DSN.
func NewEmptyPostgresDatabase(t testing.TB) string {
	t.Helper()
	return createDatabase(t, adminDB(t), "paradise_e_"+RandomID(), "")
}

// adminDB connects to the Postgres server for the test's lifetime.
func adminDB(t testing.TB) *sql.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", adminURL())
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		unavailable(t, "Postgres", err)
	}
	t.Cleanup(func() { admin.Close() })
	return admin
}

// createDatabase creates the database, from tmpl unless it is empty, drops
// it when the test ends, and returns its DSN.
func createDatabase(t testing.TB, admin *sql.DB, name, tmpl string) string {
	t.Helper()
	stmt := `CREATE DATABASE ` + name
	if tmpl != "" {
		stmt += ` TEMPLATE ` + tmpl
	}
	if _, err := admin.ExecContext(context.Background(), stmt); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
		}
	})
	return withDatabase(adminURL(), name)
}

// NewRedisPrefix checks that Redis is up and returns a key prefix for the
// test; its keys are deleted when the test ends.
func NewRedisPrefix(t testing.TB) (url, prefix string) {
	t.Helper()
	opts, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatalf("testenv: PARADISE_TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		unavailable(t, "Redis", err)
	}
	prefix = "test:" + RandomID() + ":"
	t.Cleanup(func() {
		defer client.Close()
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return redisURL(), prefix
}

// Config returns a configuration for the backend with isolated storage and
// a free loopback port.
func Config(t testing.TB, b Backend) config.Config {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.ShutdownTimeout = 5 * time.Second
	// The development chat model streams at once in tests.
	cfg.LLM.DevDelay = 0
	// Suites log in and register far more often than a person would, all
	// from 127.0.0.1: request rate limits are off unless a test sets them
	// (the login lockout stays on).
	cfg.RateLimits = config.RateLimits{LockoutAfter: cfg.RateLimits.LockoutAfter,
		LockoutBase: cfg.RateLimits.LockoutBase, LockoutMax: cfg.RateLimits.LockoutMax}
	if b == Postgres {
		// Production needs PARADISE_DEVICE_SECRET_KEY for device secrets
		// (the embedded default makes its own); a fixed test key.
		cfg.Devices.SecretKey = []byte("paradise-test-device-secret-key!")
		cfg.DatabaseURL = NewPostgresDatabase(t)
		cfg.RedisURL, cfg.RedisPrefix = NewRedisPrefix(t)
	}
	return cfg
}

// Service is a running Paradise.
type Service struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string
	// MetricsURL is the metrics server's base URL.
	MetricsURL string
	Config     config.Config
	// Redis is the service's own Redis client (keys carry Config.RedisPrefix).
	Redis *redis.Client
	App   *fxtest.App

	stopOnce sync.Once
}

// Start runs the whole service on the backend until the test ends. Extra
// fx options (fx.Populate, fx.Decorate, ...) are applied last.
func Start(t testing.TB, b Backend, opts ...fx.Option) *Service {
	t.Helper()
	return StartWith(t, Config(t, b), opts...)
}

// StartWith runs the whole service with the given configuration.
func StartWith(t testing.TB, cfg config.Config, opts ...fx.Option) *Service {
	t.Helper()
	var (
		srv     *httpapi.Server
		metrics *metrics.Server
		rdb     *redis.Client
	)
	all := append([]fx.Option{
		fx.Supply(cfg),
		app.Module,
		fx.Decorate(func() *zap.Logger { return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)) }),
		fx.Populate(&srv, &metrics, &rdb),
		fx.NopLogger,
	}, opts...)
	a := fxtest.New(t, all...)
	a.RequireStart()
	s := &Service{URL: "http://" + srv.Addr(), MetricsURL: "http://" + metrics.Addr(), Config: cfg, Redis: rdb, App: a}
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the service gracefully; later calls do nothing.
func (s *Service) Stop() { s.stopOnce.Do(s.App.RequireStop) }

// Key is the service's Redis key for the unprefixed name.
func (s *Service) Key(name string) string { return s.Config.RedisPrefix + name }

// Name is a test-friendly unique name with the given stem.
func Name(stem string) string { return strings.ToLower(stem) + "_" + RandomID() }
