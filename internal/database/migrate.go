package database

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"

	"paradise/ent/migrate/migrations"
)

// revisionsTable records applied migrations, under the name the Atlas CLI
// uses, so `atlas migrate status` can read it too.
const revisionsTable = "atlas_schema_revisions"

// migrateLockID is the Postgres advisory lock that keeps two instances
// from migrating at once.
const migrateLockID = 0x7061726164697365 // "paradise"

// Migrate applies the pending versioned migrations (ent/migrate/migrations)
// to a Postgres database and returns the versions it applied.
func Migrate(ctx context.Context, db *sql.DB) ([]string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLockID)); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLockID)) //nolint:errcheck // the lock also ends with the session

	ex, err := executor(ctx, db)
	if err != nil {
		return nil, err
	}
	pending, err := ex.Pending(ctx)
	if errors.Is(err, migrate.ErrNoPendingFiles) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied := make([]string, 0, len(pending))
	for _, f := range pending {
		if err := ex.Execute(ctx, f); err != nil {
			return applied, fmt.Errorf("migrate: %s: %w", f.Name(), err)
		}
		applied = append(applied, f.Version())
	}
	return applied, nil
}

// Pending lists the versions of migrations not yet applied to a Postgres
// database.
func Pending(ctx context.Context, db *sql.DB) ([]string, error) {
	ex, err := executor(ctx, db)
	if err != nil {
		return nil, err
	}
	files, err := ex.Pending(ctx)
	if errors.Is(err, migrate.ErrNoPendingFiles) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	versions := make([]string, len(files))
	for i, f := range files {
		versions[i] = f.Version()
	}
	return versions, nil
}

// Dir returns the embedded migration directory, checked against atlas.sum.
func Dir() (migrate.Dir, error) {
	dir := &migrate.MemDir{}
	names, err := fs.Glob(migrations.FS, "*")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		data, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return nil, err
		}
		if err := dir.WriteFile(name, data); err != nil {
			return nil, err
		}
	}
	if err := migrate.Validate(dir); err != nil {
		return nil, fmt.Errorf("migrate: migration directory does not match atlas.sum: %w", err)
	}
	return dir, nil
}

func executor(ctx context.Context, db *sql.DB) (*migrate.Executor, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	drv, err := postgres.Open(db)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	rrw := &revisions{db: db}
	if err := rrw.init(ctx); err != nil {
		return nil, err
	}
	ex, err := migrate.NewExecutor(drv, dir, rrw)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return ex, nil
}

// revisions stores Atlas revisions in a Postgres table.
type revisions struct{ db *sql.DB }

var _ migrate.RevisionReadWriter = (*revisions)(nil)

func (r *revisions) init(ctx context.Context) error {
	_, err := r.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+revisionsTable+` (
	version text PRIMARY KEY,
	description text NOT NULL,
	type bigint NOT NULL DEFAULT 2,
	applied bigint NOT NULL DEFAULT 0,
	total bigint NOT NULL DEFAULT 0,
	executed_at timestamptz NOT NULL,
	execution_time bigint NOT NULL,
	error text NULL,
	error_stmt text NULL,
	hash text NOT NULL,
	partial_hashes jsonb NULL,
	operator_version text NOT NULL
)`)
	if err != nil {
		return fmt.Errorf("migrate: create %s: %w", revisionsTable, err)
	}
	return nil
}

func (r *revisions) Ident() *migrate.TableIdent {
	return &migrate.TableIdent{Name: revisionsTable, Schema: "public"}
}

const revisionColumns = `version, description, type, applied, total, executed_at, execution_time,
	coalesce(error, ''), coalesce(error_stmt, ''), hash, coalesce(partial_hashes, 'null'::jsonb), operator_version`

func (r *revisions) ReadRevisions(ctx context.Context) ([]*migrate.Revision, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+revisionColumns+` FROM `+revisionsTable+` ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var revs []*migrate.Revision
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, err
		}
		revs = append(revs, rev)
	}
	return revs, rows.Err()
}

func (r *revisions) ReadRevision(ctx context.Context, version string) (*migrate.Revision, error) {
	rev, err := scanRevision(r.db.QueryRowContext(ctx, `SELECT `+revisionColumns+` FROM `+revisionsTable+` WHERE version = $1`, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, migrate.ErrRevisionNotExist
	}
	return rev, err
}

func (r *revisions) WriteRevision(ctx context.Context, rev *migrate.Revision) error {
	partial, err := json.Marshal(rev.PartialHashes)
	if err != nil {
		return err
	}
	_, err = r.db.ExecContext(ctx, `INSERT INTO `+revisionsTable+`
	(version, description, type, applied, total, executed_at, execution_time, error, error_stmt, hash, partial_hashes, operator_version)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
	ON CONFLICT (version) DO UPDATE SET
	description = excluded.description, type = excluded.type, applied = excluded.applied, total = excluded.total,
	executed_at = excluded.executed_at, execution_time = excluded.execution_time, error = excluded.error,
	error_stmt = excluded.error_stmt, hash = excluded.hash, partial_hashes = excluded.partial_hashes,
	operator_version = excluded.operator_version`,
		rev.Version, rev.Description, int64(rev.Type), rev.Applied, rev.Total, rev.ExecutedAt,
		int64(rev.ExecutionTime), rev.Error, rev.ErrorStmt, rev.Hash, partial, operatorVersion)
	return err
}

func (r *revisions) DeleteRevision(ctx context.Context, version string) error {
	_, err := r.db.ExecContext(ctx, `DELETE FROM `+revisionsTable+` WHERE version = $1`, version)
	return err
}

const operatorVersion = "paradise"

type scanner interface{ Scan(dest ...any) error }

func scanRevision(s scanner) (*migrate.Revision, error) {
	var (
		rev      migrate.Revision
		typ      int64
		execTime int64
		partial  []byte
	)
	if err := s.Scan(&rev.Version, &rev.Description, &typ, &rev.Applied, &rev.Total, &rev.ExecutedAt,
		&execTime, &rev.Error, &rev.ErrorStmt, &rev.Hash, &partial, &rev.OperatorVersion); err != nil {
		return nil, err
	}
	rev.Type = migrate.RevisionType(typ)
	rev.ExecutionTime = time.Duration(execTime)
	if err := json.Unmarshal(partial, &rev.PartialHashes); err != nil {
		return nil, fmt.Errorf("migrate: revision %s: %w", rev.Version, err)
	}
	return &rev, nil
}
