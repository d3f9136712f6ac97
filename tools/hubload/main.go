// Command hubload load-tests the WebSocket device hub of Paradise on
// Postgres and Redis, with the servers and the load generator on the same
// machine. `make bench-hub` runs it with its defaults:
//
//	go run ./tools/hubload [-scenarios connect,idle,idleapps,latency,throughput1,throughput]
//	    [-connect-users 1000] [-idle-users 5000] [-idle-apps 10000]
//	    [-pairs 1000] [-duration 30s] [-tp-pairs 1000]
//	    [-steps 5000,10000,20000,30000,35000,40000,45000,50000,60000] [-step-duration 10s]
//	    [-cpuprofile FILE [-profile-scenario NAME]] [-floor]
//
// It builds ./cmd/paradise, creates a scratch Postgres database
// (paradise_hubload_<random>) and a Redis key prefix (hubload:<random>:),
// runs `paradise migrate`, and registers users through the REST API on a
// set-up instance: each user registers (its token is the app's), binds one
// device (MAC 02xxxxxxxxxx) and logs in by MAC (the device's token). Each
// scenario then starts fresh `paradise serve` instances on free loopback
// ports, so one scenario's memory and goroutines do not leak into the next:
//
//   - connect:     N devices connect (token auth, -dial-workers dials in
//     flight), then N apps; reports connects/s for devices, apps and both,
//     and the CPU of server, Postgres, Redis and load generator meanwhile.
//   - idle:        N devices + N apps connect to one instance and stay idle;
//     reports server RSS per connection.
//   - idleapps:    the same with N apps only; reports RSS per app
//     connection.
//   - latency:     N devices each send one chat frame per second, spread
//     evenly, to their app; reports one-way relay latency and loss, and
//     server + Redis CPU seconds per 1,000 relayed frames.
//   - throughput1: every device and app on one instance; the offered rate
//     steps up until p99 passes 50 ms or a frame is lost; reports delivered
//     frames/s, latency and loss per step.
//   - throughput:  the same on two instances A and B sharing Redis; every
//     device on A, the apps of even-numbered pairs on B (relayed through
//     Redis), the rest on A.
//
// The report ends with issue 14's table: each measured figure against its
// target, for the scenarios that ran. -cpuprofile writes the CPU profile
// of one scenario's server (instance A in throughput), from its start to
// the scenario's end, taken through pprof on its PARADISE_DEBUG_ADDR.
//
// -floor measures tools/hubload/floor in Paradise's place in every
// scenario but throughput (Paradise still serves the set-up): a bare relay
// on the same WebSocket library with the same token check, the least any
// such hub pays on this machine.
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
	"path/filepath"
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
	idleApps  int
	settle    time.Duration

	connectUsers int

	pairs    int
	duration time.Duration

	tpPairs      int
	steps        []int
	stepDuration time.Duration
	keepStepping bool

	drain        time.Duration
	setupWorkers int
	dialWorkers  int

	cpuProfile      string
	profileScenario string

	// floor: the scenarios measure tools/hubload/floor, not paradise.
	floor bool

	loadenv.Options // -admin-url, -redis-url, -bin, -keep
}

var allScenarios = []string{"connect", "idle", "idleapps", "latency", "throughput1", "throughput"}

func main() {
	var o options
	var scenarios, steps string
	flag.StringVar(&scenarios, "scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios to run, in order: "+strings.Join(allScenarios, ", "))
	flag.IntVar(&o.idleUsers, "idle-users", 5000, "idle: users, each with a device and an app connection (2 connections per user)")
	flag.IntVar(&o.idleApps, "idle-apps", 10000, "idleapps: app connections only (one per user), no devices")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "idle, idleapps: wait after the last connection before reading the server's RSS")
	flag.IntVar(&o.connectUsers, "connect-users", 1000, "connect: users whose devices connect, then their apps")
	flag.IntVar(&o.pairs, "pairs", 1000, "latency: device+app pairs, each device sending 1 frame/s")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "latency: how long the devices send")
	flag.IntVar(&o.tpPairs, "tp-pairs", 1000, "throughput1, throughput: device+app pairs")
	flag.StringVar(&steps, "steps", "5000,10000,20000,30000,35000,40000,45000,50000,60000", "throughput1, throughput: offered rates in frames/s (all devices together), in order")
	flag.DurationVar(&o.stepDuration, "step-duration", 10*time.Second, "throughput1, throughput: how long each step sends")
	flag.BoolVar(&o.keepStepping, "keep-stepping", false, "throughput1, throughput: run every step even after one failed (p99 >= 50 ms or loss)")
	flag.DurationVar(&o.drain, "drain", 5*time.Second, "latency, throughput1, throughput: how long to wait after sending for frames still in flight before counting the missing ones lost")
	flag.IntVar(&o.setupWorkers, "setup-workers", 32, "concurrent REST set-up workers")
	flag.IntVar(&o.dialWorkers, "dial-workers", 64, "concurrent WebSocket dials")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the CPU profile of the profiled scenario's server (instance A in throughput) over the whole scenario to this file (go tool pprof reads it)")
	flag.StringVar(&o.profileScenario, "profile-scenario", "", "the scenario -cpuprofile profiles (default: the first one run)")
	flag.BoolVar(&o.floor, "floor", false, "measure the floor instead of Paradise: tools/hubload/floor, a bare coder/websocket relay with Paradise's token check and nothing else (one instance: not with throughput); Paradise still serves the set-up")
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
	if o.has("connect") && o.connectUsers < 1 {
		return errors.New("-connect-users must be at least 1")
	}
	if o.has("idle") && o.idleUsers < 1 {
		return errors.New("-idle-users must be at least 1")
	}
	if o.has("idleapps") && o.idleApps < 1 {
		return errors.New("-idle-apps must be at least 1")
	}
	if o.has("latency") && (o.pairs < 1 || o.duration < time.Second) {
		return errors.New("-pairs must be at least 1 and -duration at least 1s")
	}
	if o.has("throughput1") || o.has("throughput") {
		if o.tpPairs < 2 || o.stepDuration < time.Second {
			return errors.New("-tp-pairs must be at least 2 and -step-duration at least 1s")
		}
		for _, s := range o.steps {
			if s < 1 || s > 1_000_000 {
				return fmt.Errorf("-steps: %d frames/s is out of range (1 to 1,000,000)", s)
			}
		}
	}
	if o.profileScenario != "" {
		if o.cpuProfile == "" {
			return errors.New("-profile-scenario needs -cpuprofile")
		}
		if !o.has(o.profileScenario) {
			return fmt.Errorf("-profile-scenario %q is not among -scenarios", o.profileScenario)
		}
	}
	if o.floor && o.has("throughput") {
		return errors.New("-floor has no second instance: leave out the throughput scenario")
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
	for _, s := range o.scenarios {
		n = max(n, o.scenarioUsers(s))
	}
	return n
}

// scenarioUsers is how many users the scenario uses.
func (o *options) scenarioUsers(scenario string) int {
	switch scenario {
	case "connect":
		return o.connectUsers
	case "idle":
		return o.idleUsers
	case "idleapps":
		return o.idleApps
	case "latency":
		return o.pairs
	case "throughput1", "throughput":
		return o.tpPairs
	}
	return 0
}

// profiled is the scenario -cpuprofile profiles, or "" for none.
func (o *options) profiled() string {
	switch {
	case o.cpuProfile == "":
		return ""
	case o.profileScenario != "":
		return o.profileScenario
	default:
		return o.scenarios[0]
	}
}

// connections is the most connections one process (the load generator, or
// an idle scenario's server) holds at once: two per user (a device and an
// app), except in idleapps, which connects only the apps.
func (o *options) connections() int {
	n := 0
	for _, s := range o.scenarios {
		per := 2
		if s == "idleapps" {
			per = 1
		}
		n = max(n, per*o.scenarioUsers(s))
	}
	return n
}

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
	if o.floor {
		dir, err := os.MkdirTemp("", "hubload-floor-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "floor")
		if err := loadenv.Build(ctx, config.Tool, "./tools/hubload/floor", bin); err != nil {
			return err
		}
		e.ServeWith(bin)
	}

	for _, name := range o.scenarios {
		if err := ctx.Err(); err != nil {
			return err
		}
		var prof *cpuProfiler
		if name == o.profiled() {
			prof = &cpuProfiler{path: o.cpuProfile}
		}
		sc := scenario{e: e, o: o, prof: prof}
		us := users[:o.scenarioUsers(name)]
		var err error
		switch name {
		case "connect":
			rep.connect, err = runConnect(ctx, sc, us)
		case "idle":
			rep.idle, err = runIdle(ctx, sc, us, true)
		case "idleapps":
			rep.idleApps, err = runIdle(ctx, sc, us, false)
		case "latency":
			rep.latency, err = runLatency(ctx, sc, us)
		case "throughput1":
			rep.throughput1, err = runThroughput(ctx, sc, us, false)
		case "throughput":
			rep.throughput, err = runThroughput(ctx, sc, us, true)
		}
		if err == nil && prof != nil {
			err = prof.err
			if err == nil {
				logf("%s: wrote the CPU profile of server %s to %s", name, prof.server, prof.path)
			}
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
