// Command hubload load-tests the WebSocket device hub of Paradise on
// Postgres and Redis, with the servers and the load generator on the same
// machine. `make bench-hub` runs it with its defaults:
//
//	go run ./tools/hubload [-scenarios idle,latency,throughput] [-idle-users 5000]
//	    [-pairs 1000] [-duration 30s] [-tp-pairs 1000]
//	    [-steps 5000,10000,20000,30000,40000,60000] [-step-duration 10s]
//
// It builds ./cmd/paradise, creates a scratch Postgres database
// (paradise_hubload_<random>) and a Redis key prefix (hubload:<random>:),
// runs `paradise migrate`, and registers users through the REST API on a
// set-up instance: each user registers (its token is the app's), binds one
// device (MAC 02xxxxxxxxxx) and logs in by MAC (the device's token). Each
// scenario then starts fresh `paradise serve` instances on free loopback
// ports, so one scenario's memory and goroutines do not leak into the next:
//
//   - idle:       N devices + N apps connect to one instance and stay idle;
//     reports server RSS per connection.
//   - latency:    N devices each send one chat frame per second, spread
//     evenly, to their app; reports one-way relay latency and loss.
//   - throughput: two instances A and B sharing Redis; every device on A,
//     the apps of even-numbered pairs on B (relayed through Redis), the rest
//     on A; the offered rate steps up until p99 passes 50 ms or a frame is
//     lost; reports delivered frames/s, latency and loss per step.
//
// It prints a Markdown report on stdout (progress and server warnings go to
// stderr), and removes the servers it started (by pid), the database and
// the Redis keys at the end, after a failure or on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"paradise/tools/internal/loadenv"
)

// options are the command-line flags.
type options struct {
	scenarios []string

	idleUsers int
	settle    time.Duration

	pairs    int
	duration time.Duration

	tpPairs      int
	steps        []int
	stepDuration time.Duration
	keepStepping bool

	drain        time.Duration
	setupWorkers int
	dialWorkers  int

	loadenv.Options // -admin-url, -redis-url, -bin, -keep
}

var allScenarios = []string{"idle", "latency", "throughput"}

func main() {
	var o options
	var scenarios, steps string
	flag.StringVar(&scenarios, "scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios to run, in order: "+strings.Join(allScenarios, ", "))
	flag.IntVar(&o.idleUsers, "idle-users", 5000, "idle: users, each with a device and an app connection (2 connections per user)")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "idle: wait after the last connection before reading the server's RSS")
	flag.IntVar(&o.pairs, "pairs", 1000, "latency: device+app pairs, each device sending 1 frame/s")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "latency: how long the devices send")
	flag.IntVar(&o.tpPairs, "tp-pairs", 1000, "throughput: device+app pairs")
	flag.StringVar(&steps, "steps", "5000,10000,20000,30000,40000,60000", "throughput: offered rates in frames/s (all devices together), in order")
	flag.DurationVar(&o.stepDuration, "step-duration", 10*time.Second, "throughput: how long each step sends")
	flag.BoolVar(&o.keepStepping, "keep-stepping", false, "throughput: run every step even after one failed (p99 >= 50 ms or loss)")
	flag.DurationVar(&o.drain, "drain", 5*time.Second, "latency, throughput: how long to wait after sending for frames still in flight before counting the missing ones lost")
	flag.IntVar(&o.setupWorkers, "setup-workers", 32, "concurrent REST set-up workers")
	flag.IntVar(&o.dialWorkers, "dial-workers", 64, "concurrent WebSocket dials")
	o.AddFlags(flag.CommandLine, "the servers under test")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "hubload: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	o.scenarios = strings.Split(scenarios, ",")
	for _, s := range strings.Split(steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fmt.Fprintf(os.Stderr, "hubload: -steps: %q is not a number\n", s)
			os.Exit(2)
		}
		o.steps = append(o.steps, n)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "hubload:", err)
		os.Exit(2)
	}

	loadenv.Run("hubload", func(ctx context.Context) error { return run(ctx, o) })
}

func (o *options) validate() error {
	for _, s := range o.scenarios {
		if !slices.Contains(allScenarios, s) {
			return fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ", "))
		}
	}
	if o.has("idle") && o.idleUsers < 1 {
		return errors.New("-idle-users must be at least 1")
	}
	if o.has("latency") && (o.pairs < 1 || o.duration < time.Second) {
		return errors.New("-pairs must be at least 1 and -duration at least 1s")
	}
	if o.has("throughput") {
		if o.tpPairs < 2 || o.stepDuration < time.Second {
			return errors.New("-tp-pairs must be at least 2 and -step-duration at least 1s")
		}
		for _, s := range o.steps {
			if s < 1 || s > 1_000_000 {
				return fmt.Errorf("-steps: %d frames/s is out of range (1 to 1,000,000)", s)
			}
		}
	}
	if o.settle < 0 || o.drain < 0 || o.setupWorkers < 1 || o.dialWorkers < 1 {
		return errors.New("-settle and -drain must not be negative, -setup-workers and -dial-workers at least 1")
	}
	return o.CheckLoopback()
}

func (o *options) has(scenario string) bool { return slices.Contains(o.scenarios, scenario) }

// users is how many users the scenarios need: they share them, one
// scenario at a time.
func (o *options) users() int {
	n := 0
	if o.has("idle") {
		n = max(n, o.idleUsers)
	}
	if o.has("latency") {
		n = max(n, o.pairs)
	}
	if o.has("throughput") {
		n = max(n, o.tpPairs)
	}
	return n
}

// connections is the most connections one process (the load generator, or
// the idle scenario's server) holds at once.
func (o *options) connections() int { return 2 * o.users() }

func run(ctx context.Context, o options) error {
	// Every connection is a file descriptor in this process and in the
	// server; the servers inherit the limit raised here.
	if err := raiseFileLimit(o.connections() + 1024); err != nil {
		return err
	}
	e, err := loadenv.Start(ctx, config, o.Options)
	// e is returned even on a failed start so that whatever was created
	// gets removed; Close also stops every server still running.
	defer e.Close(o.Keep)
	if err != nil {
		return err
	}

	rep := &report{opts: o, started: time.Now()}
	start := time.Now()
	users, err := setupUsers(ctx, e, o)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	rep.setupUsers, rep.setupTime = len(users), time.Since(start)
	logf("set up %d users in %s", len(users), rep.setupTime.Round(time.Millisecond))

	for _, name := range o.scenarios {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch name {
		case "idle":
			rep.idle, err = runIdle(ctx, e, o, users[:o.idleUsers])
		case "latency":
			rep.latency, err = runLatency(ctx, e, o, users[:o.pairs])
		case "throughput":
			rep.throughput, err = runThroughput(ctx, e, o, users[:o.tpPairs])
		}
		if err != nil {
			// Print what was measured so far, then fail.
			rep.print(os.Stdout)
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	rep.print(os.Stdout)
	return nil
}

// raiseFileLimit raises this process's soft RLIMIT_NOFILE to its hard
// limit, and fails if that is below need. Child processes (the servers)
// inherit it.
func raiseFileLimit(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("setrlimit NOFILE %d: %w", lim.Max, err)
		}
	}
	if lim.Cur < uint64(need) {
		return fmt.Errorf("need %d file descriptors, the hard limit is %d: raise it (ulimit -Hn) or use fewer users", need, lim.Cur)
	}
	return nil
}

// logf writes a progress line to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "hubload: "+format+"\n", args...)
}
