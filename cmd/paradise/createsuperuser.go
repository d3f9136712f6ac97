package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.uber.org/fx"
	"golang.org/x/term"

	"paradise/internal/account"
	"paradise/internal/auth"
	"paradise/internal/config"
	"paradise/internal/database"
	"paradise/internal/hub"
	"paradise/internal/logging"
	"paradise/internal/metrics"
	"paradise/internal/ratelimit"
	"paradise/internal/redisdb"
)

// usernamePattern matches the Username schema of openapi.yaml.
var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9@.+_-]{3,150}$`)

// createSuperuser creates a staff user, or makes an existing user staff
// with the new password. Missing flags are prompted for on a terminal.
func createSuperuser(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("createsuperuser", flag.ContinueOnError)
	username := fs.String("username", "", "username of the staff user")
	password := fs.String("password", "", "password (at least 8 characters)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	in := bufio.NewReader(stdin)
	if *username == "" {
		v, err := prompt(in, stdout, "Username: ", false)
		if err != nil {
			return err
		}
		*username = v
	}
	if *password == "" {
		v, err := prompt(in, stdout, "Password: ", true)
		if err != nil {
			return err
		}
		*password = v
	}
	if !usernamePattern.MatchString(*username) {
		return errors.New("username: 3-150 letters, digits and @ . + - _ only")
	}
	if len(*password) < 8 || len(*password) > 128 {
		return errors.New("password: 8 to 128 characters")
	}

	var accounts *account.Service
	// Only what accounts need: no HTTP server, and metrics without their
	// listener (a running server holds its port).
	a := fx.New(config.Module, config.Provide, logging.Module, fx.Provide(metrics.New), database.Module, redisdb.Module,
		ratelimit.Module, auth.Module, hub.Module, account.Module, fx.Populate(&accounts))
	if err := a.Err(); err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	defer a.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // best effort on exit
	u, err := accounts.CreateSuperuser(ctx, *username, *password)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Superuser %q (id %d) is ready.\n", u.Username, u.ID)
	return nil
}

// prompt asks for a value on a terminal; without one it fails, so scripts
// must pass flags.
func prompt(in *bufio.Reader, out io.Writer, label string, secret bool) (string, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", fmt.Errorf("%sflag missing and stdin is not a terminal", strings.ToLower(strings.TrimSuffix(label, ": "))+" ")
	}
	fmt.Fprint(out, label)
	if secret {
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(out)
		return string(b), err
	}
	line, err := in.ReadString('\n')
	return strings.TrimSpace(line), err
}
