// Command paradise is the Paradise service: one binary with subcommands.
//
//	paradise serve                       run the service
//	paradise migrate                     apply Postgres migrations
//	paradise createsuperuser --username NAME --password PASS
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Usage: paradise <command> [flags]

Commands:
  serve            run the HTTP API and device hub
  migrate          apply pending database migrations (Postgres)
  createsuperuser  create or update a staff user
                   (--username NAME --password PASS; prompts on a terminal otherwise)

Configuration comes from the environment; see the README.
`

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "paradise:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return fmt.Errorf("missing command")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serve()
	case "migrate":
		return migrate(ctx, stdout)
	case "createsuperuser":
		return createSuperuser(ctx, args[1:], stdin, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stdout, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
