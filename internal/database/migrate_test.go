package database_test

import (
	"bytes"
	"context"
	"database/sql"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"

	"ariga.io/atlas/sql/migrate"
	_ "github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zaptest"

	"paradise/ent/migrate/migrations"
	"paradise/internal/config"
	"paradise/internal/database"
	"paradise/internal/testenv"
)

func openPool(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// allVersions lists the versions of every migration file in the repo.
func allVersions(t *testing.T) []string {
	t.Helper()
	dir, err := database.Dir()
	if err != nil {
		t.Fatalf("Dir: %v", err)
	}
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no migration files")
	}
	var versions []string
	for _, f := range files {
		versions = append(versions, f.Version())
	}
	return versions
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.NewEmptyPostgresDatabase(t)
	db := openPool(t, dsn)
	want := allVersions(t)
	cfg := config.Database{DatabaseURL: dsn}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"every migration pending on an empty database", func(t *testing.T) {
			got, err := database.Pending(ctx, db)
			if err != nil {
				t.Fatalf("Pending: %v", err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Pending = %v, want %v", got, want)
			}
		}},
		{"New refuses a database with pending migrations", func(t *testing.T) {
			lc := fxtest.NewLifecycle(t)
			got, err := database.New(lc, cfg, zaptest.NewLogger(t))
			if err == nil {
				got.Close()
				t.Fatal("New on an unmigrated database succeeded")
			}
			if !strings.Contains(err.Error(), "pending migrations") || !strings.Contains(err.Error(), "paradise migrate") {
				t.Fatalf("New error = %v, want it to point at `paradise migrate`", err)
			}
		}},
		{"Migrate applies every migration in order", func(t *testing.T) {
			got, err := database.Migrate(ctx, db)
			if err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Migrate applied %v, want %v", got, want)
			}
			for _, table := range []string{"users", "devices", "device_types", "user_devices", "atlas_schema_revisions"} {
				var exists bool
				if err := db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, "public."+table).Scan(&exists); err != nil {
					t.Fatal(err)
				}
				if !exists {
					t.Errorf("table %s missing after Migrate", table)
				}
			}
			var revs int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM atlas_schema_revisions WHERE error IS NULL OR error = ''`).Scan(&revs); err != nil {
				t.Fatal(err)
			}
			if revs != len(want) {
				t.Fatalf("%d successful revisions recorded, want %d", revs, len(want))
			}
		}},
		{"nothing pending afterwards", func(t *testing.T) {
			got, err := database.Pending(ctx, db)
			if err != nil {
				t.Fatalf("Pending: %v", err)
			}
			if len(got) != 0 {
				t.Fatalf("Pending after Migrate = %v, want none", got)
			}
		}},
		{"Migrate again applies nothing", func(t *testing.T) {
			got, err := database.Migrate(ctx, db)
			if err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			if len(got) != 0 {
				t.Fatalf("second Migrate applied %v, want nothing", got)
			}
		}},
		{"OpenPostgres and ent work on the migrated schema", func(t *testing.T) {
			pg, err := database.OpenPostgres(ctx, dsn)
			if err != nil {
				t.Fatalf("OpenPostgres: %v", err)
			}
			defer pg.Close()
			if pg.Dialect != "postgres" {
				t.Fatalf("Dialect = %q, want postgres", pg.Dialect)
			}
			if err := pg.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			for name, count := range map[string]func(context.Context) (int, error){
				"users":        pg.Client.User.Query().Count,
				"devices":      pg.Client.Device.Query().Count,
				"device types": pg.Client.DeviceType.Query().Count,
				"user devices": pg.Client.UserDevice.Query().Count,
			} {
				n, err := count(ctx)
				if err != nil {
					t.Fatalf("count %s: %v", name, err)
				}
				if n != 0 {
					t.Fatalf("%d %s in a fresh database", n, name)
				}
			}
		}},
		{"New accepts the migrated database", func(t *testing.T) {
			lc := fxtest.NewLifecycle(t)
			got, err := database.New(lc, cfg, zaptest.NewLogger(t))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			lc.RequireStart()
			if err := got.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			lc.RequireStop()
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow() // later steps depend on this one
		}
	}
}

// TestMigrateConcurrently runs two migrations of one database at once, as
// two instances starting together would: each migration is applied once.
func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.NewEmptyPostgresDatabase(t)
	want := allVersions(t)
	var (
		wg      sync.WaitGroup
		applied [2][]string
		errs    [2]error
	)
	for i := range 2 {
		wg.Go(func() {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			applied[i], errs[i] = database.Migrate(ctx, db)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate #%d: %v", i, err)
		}
	}
	all := append(slices.Clone(applied[0]), applied[1]...)
	slices.Sort(all)
	if !slices.Equal(all, want) {
		t.Fatalf("concurrent Migrate applied %v and %v, want %v once in total", applied[0], applied[1], want)
	}
}

func TestDir(t *testing.T) {
	dir, err := database.Dir()
	if err != nil {
		t.Fatalf("Dir: %v", err)
	}
	if err := migrate.Validate(dir); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	// The directory's checksum is exactly the committed atlas.sum.
	sum, err := dir.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	got, err := sum.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	committed, err := fs.ReadFile(migrations.FS, "atlas.sum")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(committed)) {
		t.Fatalf("checksum of the migration directory:\n%s\ndoes not match atlas.sum:\n%s", got, committed)
	}
	sqlFiles, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(sqlFiles) {
		t.Fatalf("Dir has %d migration files, the embedded FS %d", len(files), len(sqlFiles))
	}

	t.Run("a changed file fails validation", func(t *testing.T) {
		// The same check Dir runs, on a copy with one migration edited.
		tampered := &migrate.MemDir{}
		names, _ := fs.Glob(migrations.FS, "*")
		for _, name := range names {
			data, _ := fs.ReadFile(migrations.FS, name)
			if name == sqlFiles[0] {
				data = append(data, []byte("\n-- edited after it was applied\n")...)
			}
			if err := tampered.WriteFile(name, data); err != nil {
				t.Fatal(err)
			}
		}
		if err := migrate.Validate(tampered); err == nil {
			t.Fatal("Validate accepted an edited migration")
		}
	})
}
