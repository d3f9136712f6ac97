// Command migratediff writes a new versioned Postgres migration for the
// difference between ent/schema and the existing migrations:
//
//	go run ./tools/migratediff -name add_chat_messages
//
// It replays the existing migrations into a scratch database that it creates
// and drops on the Postgres server at -admin-url, so it needs no Atlas CLI
// and no container. With -check it writes nothing and fails when the schema
// has changes that no migration covers.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib"

	"paradise/ent/migrate"
)

func main() {
	var (
		name     = flag.String("name", "changes", "name of the new migration")
		dir      = flag.String("dir", "ent/migrate/migrations", "migration directory")
		adminURL = flag.String("admin-url", envOr("PARADISE_DEV_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "Postgres server to create the scratch database on")
		check    = flag.Bool("check", false, "fail if ent/schema has changes no migration covers; write nothing")
		rehash   = flag.Bool("rehash", false, "only rewrite atlas.sum for the migration files as they are (after merging branches that each added migrations)")
	)
	flag.Parse()
	if *rehash {
		if err := rehashDir(*dir); err != nil {
			fmt.Fprintln(os.Stderr, "migratediff:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(context.Background(), *adminURL, *dir, *name, *check); err != nil {
		fmt.Fprintln(os.Stderr, "migratediff:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, adminURL, dirPath, name string, check bool) error {
	dir, err := atlasmigrate.NewLocalDir(dirPath)
	if err != nil {
		return err
	}
	return Diff(ctx, adminURL, dir, name, check)
}

// Diff plans the migration from the files in dir to ent/schema on a scratch
// database. With check set it returns an error when a plan is not empty.
func Diff(ctx context.Context, adminURL string, dir atlasmigrate.Dir, name string, check bool) error {
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	scratch := fmt.Sprintf("paradise_diff_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+scratch); err != nil {
		return fmt.Errorf("create scratch database: %w", err)
	}
	defer admin.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)") //nolint:errcheck // best effort

	u, err := url.Parse(adminURL)
	if err != nil {
		return err
	}
	u.Path = "/" + scratch
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return err
	}
	defer db.Close()

	opts := []schema.MigrateOption{
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.Postgres),
		schema.WithFormatter(atlasmigrate.DefaultFormatter),
		schema.WithErrNoPlan(true),
	}
	if check {
		// Plan into a throwaway copy so nothing is written.
		mem := &atlasmigrate.MemDir{}
		files, err := dir.Files()
		if err != nil {
			return err
		}
		if err := mem.CopyFiles(files); err != nil {
			return err
		}
		sum, err := dir.Checksum()
		if err != nil {
			return err
		}
		if err := atlasmigrate.WriteSumFile(mem, sum); err != nil {
			return err
		}
		opts[0] = schema.WithDir(mem)
	}
	m, err := schema.NewMigrate(entsql.OpenDB(dialect.Postgres, db), opts...)
	if err != nil {
		return err
	}
	err = m.NamedDiff(ctx, name, migrate.Tables...)
	switch {
	case errors.Is(err, atlasmigrate.ErrNoPlan):
		fmt.Println("migratediff: migrations are in sync with ent/schema")
		return nil
	case err != nil:
		return err
	case check:
		return errors.New("ent/schema has changes that no migration covers: run `make migration NAME=...`")
	}
	fmt.Println("migratediff: wrote a new migration to", name)
	return nil
}

// rehashDir rewrites the directory's atlas.sum from its files. Two
// branches that each added a migration conflict only in atlas.sum; their
// files apply in name (timestamp) order, and -check then proves that
// together they still match ent/schema.
func rehashDir(path string) error {
	dir, err := atlasmigrate.NewLocalDir(path)
	if err != nil {
		return err
	}
	sum, err := dir.Checksum()
	if err != nil {
		return err
	}
	return atlasmigrate.WriteSumFile(dir, sum)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
