package main

import (
	"context"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/term"

	"paradise/ent"
	"paradise/ent/user"
	"paradise/internal/auth"
	"paradise/internal/config"
	"paradise/internal/database"
	"paradise/internal/testenv"
)

// runCmd runs the CLI and returns what it printed.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(args, strings.NewReader(""), &out)
	return out.String(), err
}

// setEnv isolates the process environment the CLI reads: the embedded
// default in a temporary directory unless vars say otherwise.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	base := map[string]string{
		"PARADISE_DATA_DIR":     t.TempDir(),
		"DATABASE_URL":          "",
		"REDIS_URL":             "",
		"PARADISE_REDIS_PREFIX": "",
		"LOG_LEVEL":             "error",
		"LOG_FORMAT":            "",
	}
	for k, v := range vars {
		base[k] = v
	}
	for k, v := range base {
		t.Setenv(k, v)
	}
}

func TestMigrateCommand(t *testing.T) {
	dsn := testenv.NewEmptyPostgresDatabase(t)
	setEnv(t, map[string]string{"DATABASE_URL": dsn})
	steps := []struct {
		name string
		want string
	}{
		{"first run applies every migration", "Applied "},
		{"second run has nothing to do", "No pending migrations."},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			out, err := runCmd(t, "migrate")
			if err != nil {
				t.Fatalf("migrate: %v\n%s", err, out)
			}
			if !strings.Contains(out, s.want) {
				t.Fatalf("migrate printed %q, want %q", out, s.want)
			}
		})
	}
	db, err := database.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pending, err := database.Pending(context.Background(), db.SQL)
	if err != nil || len(pending) != 0 {
		t.Fatalf("Pending after `paradise migrate` = %v, %v", pending, err)
	}
}

func TestMigrateCommandEmbedded(t *testing.T) {
	setEnv(t, nil)
	out, err := runCmd(t, "migrate")
	if err != nil {
		t.Fatalf("migrate on the embedded default: %v", err)
	}
	if !strings.Contains(out, "DATABASE_URL is not set") {
		t.Fatalf("migrate printed %q", out)
	}
}

func TestCreateSuperuserEmbedded(t *testing.T) {
	setEnv(t, nil)
	tests := []struct {
		name     string
		args     []string
		wantOut  string
		wantErr  string
		password string // the stored password after the step, if it succeeded
	}{
		{"create", []string{"--username", "root_x", "--password", "long-enough-pw"}, "Superuser", "", "long-enough-pw"},
		{"again updates the password", []string{"--username", "root_x", "--password", "another-long-pw"}, "Superuser", "", "another-long-pw"},
		{"equals form of flags", []string{"--username=root_y", "--password=long-enough-pw"}, "Superuser", "", ""},
		{"too short password", []string{"--username", "root_z", "--password", "short"}, "", "password", ""},
		{"too long password", []string{"--username", "root_z", "--password", strings.Repeat("p", 129)}, "", "password", ""},
		{"username with a space", []string{"--username", "bad name", "--password", "long-enough-pw"}, "", "username", ""},
		{"username too short", []string{"--username", "ab", "--password", "long-enough-pw"}, "", "username", ""},
		{"username with a slash", []string{"--username", "a/b/c", "--password", "long-enough-pw"}, "", "username", ""},
		{"unknown flag", []string{"--user", "root_x", "--password", "long-enough-pw"}, "", "flag provided but not defined", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCmd(t, append([]string{"createsuperuser"}, tc.args...)...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("createsuperuser %v = %v, want an error mentioning %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("createsuperuser %v: %v\n%s", tc.args, err, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Fatalf("createsuperuser printed %q, want %q", out, tc.wantOut)
			}
			if tc.password != "" {
				checkStaff(t, "root_x", tc.password)
			}
		})
	}
	// Failed attempts created nobody.
	db := openEmbedded(t)
	n, err := db.Client.User.Query().Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d users in the database, want 2 (root_x, root_y)", n)
	}
}

func TestCreateSuperuserNoTerminal(t *testing.T) {
	if term.IsTerminal(int(os.Stdin.Fd())) {
		t.Skip("stdin is a terminal: createsuperuser would prompt")
	}
	setEnv(t, nil)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing password", []string{"--username", "root_x"}, "password"},
		{"missing username", []string{"--password", "long-enough-pw"}, "username"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCmd(t, append([]string{"createsuperuser"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "not a terminal") {
				t.Fatalf("createsuperuser %v = %v, want a missing-%s error", tc.args, err, tc.want)
			}
		})
	}
}

func TestCreateSuperuserPostgres(t *testing.T) {
	dsn := testenv.NewPostgresDatabase(t)
	redisURL, prefix := testenv.NewRedisPrefix(t)
	setEnv(t, map[string]string{"DATABASE_URL": dsn, "REDIS_URL": redisURL, "PARADISE_REDIS_PREFIX": prefix})
	out, err := runCmd(t, "createsuperuser", "--username", "root_pg", "--password", "long-enough-pw")
	if err != nil {
		t.Fatalf("createsuperuser: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Superuser") {
		t.Fatalf("createsuperuser printed %q", out)
	}
	db, err := database.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkUser(t, db.Client, "root_pg", "long-enough-pw")
}

func TestRunCommands(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		wantOut string
	}{
		{"no args", nil, "missing command", "Usage: paradise"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`, "Usage: paradise"},
		{"help", []string{"help"}, "", "Usage: paradise"},
		{"--help", []string{"--help"}, "", "createsuperuser"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCmd(t, tc.args...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("run(%q) = %v, want nil", tc.args, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("run(%q) = %v, want an error mentioning %q", tc.args, err, tc.wantErr)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Fatalf("run(%q) printed %q, want %q", tc.args, out, tc.wantOut)
			}
		})
	}
}

func openEmbedded(t *testing.T) *database.DB {
	t.Helper()
	db, err := database.Open(context.Background(), config.Database{DataDir: os.Getenv("PARADISE_DATA_DIR")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func checkStaff(t *testing.T, username, password string) {
	t.Helper()
	checkUser(t, openEmbedded(t).Client, username, password)
}

func checkUser(t *testing.T, client *ent.Client, username, password string) {
	t.Helper()
	u, err := client.User.Query().Where(user.Username(username)).Only(context.Background())
	if err != nil {
		t.Fatalf("user %q: %v", username, err)
	}
	if !u.IsStaff || !u.IsActive {
		t.Fatalf("user %q: is_staff %v, is_active %v; want both true", username, u.IsStaff, u.IsActive)
	}
	if err := auth.CheckPassword(u.PasswordHash, password); err != nil {
		t.Fatalf("user %q: password %q does not match: %v", username, password, err)
	}
}
