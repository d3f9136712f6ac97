package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"paradise/internal/config"
	"paradise/internal/database"
)

// migrate applies the versioned migrations to Postgres. The embedded
// SQLite database migrates itself on start, so there it only says so.
func migrate(ctx context.Context, stdout io.Writer) error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	if cfg.Embedded() {
		fmt.Fprintln(stdout, "DATABASE_URL is not set: the embedded SQLite database is migrated when `paradise serve` starts.")
		return nil
	}
	db, err := database.OpenPostgres(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := database.Migrate(ctx, db.SQL)
	if len(applied) > 0 {
		fmt.Fprintf(stdout, "Applied %d migrations: %s\n", len(applied), strings.Join(applied, ", "))
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "No pending migrations.")
	}
	return nil
}
