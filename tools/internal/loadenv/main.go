package loadenv

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Run runs a load tool's work until it ends or Ctrl-C (or SIGTERM)
// cancels its context, which still lets its clean-up run; an error is
// printed as "tool: err" and exits 1.
func Run(tool string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted (%w)", err)
		}
		fmt.Fprintln(os.Stderr, tool+":", err)
		stop()
		os.Exit(1)
	}
}
