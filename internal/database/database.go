// Package database opens the ent client on the configured database:
// Postgres when DATABASE_URL is set, otherwise the embedded SQLite file.
package database

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"go.uber.org/fx"
	"go.uber.org/zap"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"paradise/ent"
	"paradise/internal/config"
	"paradise/internal/httpapi"
)

// Module provides the *DB and its *ent.Client, and the readiness check.
var Module = fx.Module("database",
	fx.Provide(New, func(db *DB) *ent.Client { return db.Client }),
	fx.Provide(httpapi.AsReadinessCheck(func(db *DB) httpapi.ReadinessCheck {
		return httpapi.ReadinessCheck{Name: "database", Check: db.Ping}
	})),
)

// DB is an open database: the ent client and the pool beneath it.
type DB struct {
	Client  *ent.Client
	SQL     *sql.DB
	Dialect string
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.SQL.PingContext(ctx) }

// Close closes the pool.
func (db *DB) Close() error { return db.Client.Close() }

// WithTx runs fn in a transaction on client, committing if fn returns nil
// and rolling back otherwise.
func WithTx(ctx context.Context, client *ent.Client, fn func(*ent.Tx) error) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("database: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("database: commit: %w", err)
	}
	return nil
}

// Rebind rewrites a hand-written query's $1, $2, ... placeholders for the
// dialect (SQLite takes ?). Queries are written for Postgres.
func (db *DB) Rebind(query string) string {
	if db.Dialect != dialect.SQLite {
		return query
	}
	var b strings.Builder
	for i := 0; i < len(query); i++ {
		if query[i] == '$' && i+1 < len(query) && query[i+1] >= '0' && query[i+1] <= '9' {
			b.WriteByte('?')
			for i+1 < len(query) && query[i+1] >= '0' && query[i+1] <= '9' {
				i++
			}
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// RowLocks reports whether SELECT ... FOR UPDATE locks rows. Postgres
// does; SQLite has no row locks but serialises writers (the embedded
// default runs immediate transactions), so there a write transaction is
// already exclusive.
func (db *DB) RowLocks() bool { return db.Dialect == dialect.Postgres }

// autoMigrate serializes ent's automatic migrations: they write to the
// package-level table descriptions in ent/migrate (index and foreign key
// symbols), so two embedded databases opened at once in one process (the
// tests' parallel services) raced.
var autoMigrate sync.Mutex

// New opens the database and closes it when the app stops. The embedded
// SQLite database is migrated on start with ent's automatic migration;
// Postgres must be migrated with `paradise migrate` first, and New refuses
// to start on a database with pending migrations.
func New(lc fx.Lifecycle, cfg config.Database, log *zap.Logger) (*DB, error) {
	ctx := context.Background()
	db, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	log = log.Named("database")
	if db.Dialect == dialect.SQLite {
		autoMigrate.Lock()
		err := db.Client.Schema.Create(ctx)
		autoMigrate.Unlock()
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("database: migrate sqlite: %w", err)
		}
		log.Info("Using embedded SQLite database", zap.String("path", cfg.SQLitePath()))
	} else {
		pending, err := Pending(ctx, db.SQL)
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		if len(pending) > 0 {
			_ = db.Close()
			return nil, fmt.Errorf("database: %d pending migrations (first %s): run `paradise migrate`", len(pending), pending[0])
		}
		log.Info("Using Postgres database")
	}
	lc.Append(fx.StopHook(db.Close))
	return db, nil
}

// Open opens the configured database without migrating it.
func Open(ctx context.Context, cfg config.Database) (*DB, error) {
	if cfg.Embedded() {
		return openSQLite(ctx, cfg.SQLitePath())
	}
	return OpenPostgres(ctx, cfg.DatabaseURL)
}

// OpenPostgres opens a Postgres database by DSN.
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("database: open postgres: %w", err)
	}
	// Several instances share one Postgres (max_connections defaults to
	// 100), so each keeps a bounded pool.
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(32)
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("database: connect postgres: %w", err)
	}
	return wrap(pool, dialect.Postgres), nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		return nil, fmt.Errorf("database: data dir: %w", err)
	}
	// WAL lets readers run beside the writer; immediate transactions take
	// the write lock up front so concurrent writers wait (busy_timeout)
	// instead of failing half-way; ent needs foreign keys on.
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	pool, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("database: open sqlite: %w", err)
	}
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("database: open sqlite %s: %w", path, err)
	}
	return wrap(pool, dialect.SQLite), nil
}

func wrap(pool *sql.DB, name string) *DB {
	drv := entsql.OpenDB(name, pool)
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: pool, Dialect: name}
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			return path[:i]
		}
	}
	return "."
}
