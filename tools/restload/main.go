// Command restload load-tests the two hottest REST paths of Paradise on
// Postgres and Redis, with the server and the load generator on the same
// machine. It is what `make bench` runs:
//
//	go run ./tools/restload [-users 200] [-concurrency 64] [-duration 20s] [-warmup 3s]
//
// It builds ./cmd/paradise, creates a scratch Postgres database
// (paradise_bench_<random>) and a Redis key prefix (bench:<random>:), runs
// `paradise migrate` and `paradise serve` on a free loopback port, registers
// users and binds one device each through the API, and then runs one
// closed-loop load per scenario:
//
//   - profile:   GET /api/user/profile/ with a random user's token
//   - mac-login: POST /api/user/mac-login/ with a random bound MAC address
//   - get-by-mac: GET /api/device/rtc-token/get_by_mac/ with a random
//     device's token and MAC (voice rooms on with a bench app id and key;
//     tokens come from the cache after the warm-up)
//
// It prints a Markdown table (throughput, errors, latency percentiles, CPU
// used by the server and by itself, server RSS) for docs/benchmarks.md, and
// removes the database, the Redis keys and the server process at the end.
// It exits non-zero when setup fails or a scenario has errors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"paradise/tools/internal/loadenv"
)

// options are the command-line flags.
type options struct {
	users       int
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	scenarios   []string

	loadenv.Options // -admin-url, -redis-url, -bin, -keep
}

// config is how restload names what it creates, and how long the server
// gets to stop on SIGTERM.
var config = loadenv.Config{
	Tool:        "restload",
	DBPrefix:    "paradise_bench_",
	KeyPrefix:   "bench:",
	StopTimeout: 20 * time.Second,
}

// The RTC app of the get-by-mac scenario: any 24-character id and key
// do, no vendor is called.
const (
	benchRTCAppID  = "bench0123456789abcdef012"
	benchRTCAppKey = "bench-rtc-app-key-not-a-secret"
)

func main() {
	var o options
	var scenarios string
	flag.IntVar(&o.users, "users", 200, "users to register, each with one bound device")
	flag.IntVar(&o.concurrency, "concurrency", 64, "concurrent workers (closed loop: each sends its next request when the previous one is answered)")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measured duration of each scenario")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured warm-up before each scenario")
	flag.StringVar(&scenarios, "scenarios", "profile,mac-login,get-by-mac", "comma-separated scenarios to run: "+strings.Join(scenarioNames(), ", "))
	o.AddFlags(flag.CommandLine, "the server under test")
	flag.Parse()
	o.scenarios = strings.Split(scenarios, ",")

	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "restload:", err)
		os.Exit(2)
	}
	loadenv.Run("restload", func(ctx context.Context) error { return run(ctx, o) })
}

func (o *options) validate() error {
	if o.users < 1 || o.concurrency < 1 || o.duration <= 0 || o.warmup < 0 {
		return errors.New("-users and -concurrency must be at least 1, -duration positive, -warmup not negative")
	}
	for _, s := range o.scenarios {
		if _, ok := scenarioByName(s); !ok {
			return fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(scenarioNames(), ", "))
		}
	}
	return o.CheckLoopback()
}

func run(ctx context.Context, o options) error {
	env, err := loadenv.Start(ctx, config, o.Options)
	// env is returned even on a failed start so that whatever was created
	// gets removed; Close also stops the server.
	defer env.Close(o.Keep)
	if err != nil {
		return err
	}
	// Voice rooms on, with a made-up app (tokens are only signed).
	srv, err := env.StartServer(ctx, "", []string{
		"PARADISE_RTC_APP_ID=" + benchRTCAppID, "PARADISE_RTC_APP_KEY=" + benchRTCAppKey})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "restload: server pid %d on %s; setting up %d users with one device each\n", srv.PID(), srv.BaseURL(), o.users)
	start := time.Now()
	fixtures, err := setup(ctx, srv.BaseURL(), o.users)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(os.Stderr, "restload: setup took %s\n", time.Since(start).Round(time.Millisecond))

	var results []result
	for _, name := range o.scenarios {
		sc, _ := scenarioByName(name)
		fmt.Fprintf(os.Stderr, "restload: %s: %d workers, %s warm-up + %s\n", sc.name, o.concurrency, o.warmup, o.duration)
		r, err := runScenario(ctx, env, srv, sc, fixtures, o)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		results = append(results, r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	printReport(os.Stdout, o, results)
	for _, r := range results {
		if r.errors > 0 {
			return fmt.Errorf("%s: %d errors (first: %s)", r.scenario.name, r.errors, r.firstErr)
		}
	}
	return nil
}
