// Command chaos injects faults into two Paradise instances under load and
// measures what clients see. `make chaos` runs it with its defaults:
//
//	go run ./tools/chaos [-pairs 50] [-rate 10] [-push-every 2s]
//	    [-faults kill,redis,postgres] [-down 5s] [-observe 30s]
//	    [-out docs/reliability.md]
//
// It builds ./cmd/paradise, creates a scratch Postgres database and a
// Redis key prefix (tools/internal/loadenv), and puts an in-process TCP
// proxy (toxiproxy) in front of the shared Postgres and of the shared
// Redis. Two `paradise serve` instances, A and B, reach both through the
// proxies. Each of -pairs users has a device and an app: the device of an
// even pair on A and its app on B, the other way round for odd pairs, so
// every relay crosses instances through Redis. Devices and apps send each
// other sequence-numbered chat frames (-rate per pair, half each way), the
// server pushes commands to the devices through the REST API (one per pair
// every -push-every), and every client reconnects with backoff when its
// session ends, logging in again only when the close code says so.
//
// After a -baseline of steady load, the faults run one after the other:
//
//   - kill:     SIGKILL instance A, restart it on the same port after -down;
//   - crash:    SIGKILL instance A and keep it down for -observe, so its
//     devices cannot reconnect: presence is checked through B while A is
//     still dead, then A restarts;
//   - redis:    disable the Redis proxy for -down (connections reset, new
//     ones refused), then enable it;
//   - postgres: the same for Postgres.
//
// Each is followed by -observe of load, after which every device's status
// in the REST API is compared with whether its session is open. The real
// Postgres and Redis are never touched. The report (Markdown, on stdout,
// and with -out as the "Chaos" section of that file) has per fault: frames
// lost during the fault and after relaying resumed, the time from the
// dependency's return to the first relayed frame on every pair, the close
// codes clients saw and which were wrong, HTTP 401s and 5xx, REST pushes
// lost, presence mismatches, and the open file descriptors of the
// surviving instances before and after.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"paradise/tools/internal/loadenv"
)

type options struct {
	pairs      int
	rate       float64 // chat frames per second per pair, both directions together
	pushEvery  time.Duration
	faults     []string
	down       time.Duration
	observe    time.Duration
	baseline   time.Duration
	backoffMin time.Duration
	backoffMax time.Duration
	out        string
	churners   int
	churnHold  time.Duration

	loadenv.Options // -admin-url, -redis-url, -bin, -keep
}

var allFaults = []string{"kill", "crash", "redis", "postgres"}

func main() {
	var o options
	var faults string
	flag.IntVar(&o.pairs, "pairs", 50, "device+app pairs (users)")
	flag.Float64Var(&o.rate, "rate", 10, "chat frames per second per pair, half from the device, half from the app")
	flag.DurationVar(&o.pushEvery, "push-every", 2*time.Second, "interval between REST pushes to each device")
	flag.StringVar(&faults, "faults", strings.Join(allFaults, ","), "comma-separated faults to inject, in order: "+strings.Join(allFaults, ", "))
	flag.DurationVar(&o.down, "down", 5*time.Second, "how long each fault lasts (instance dead, proxy disabled)")
	flag.DurationVar(&o.observe, "observe", 30*time.Second, "load after each fault's end before presence is checked and the next fault starts")
	flag.DurationVar(&o.baseline, "baseline", 5*time.Second, "steady load before the first fault")
	flag.DurationVar(&o.backoffMin, "backoff-min", 100*time.Millisecond, "clients' first reconnect wait (doubled per failed attempt, randomised down to half)")
	flag.DurationVar(&o.backoffMax, "backoff-max", time.Second, "clients' longest reconnect wait")
	flag.IntVar(&o.churners, "churners", 10, "extra users whose device and app sessions close themselves after -churn-hold and reconnect at once, so that sessions open during the faults (they relay nothing)")
	flag.DurationVar(&o.churnHold, "churn-hold", 2*time.Second, "how long a churner keeps a session (randomised down to half)")
	flag.StringVar(&o.out, "out", "", "also write the report as the \"Chaos\" section of this Markdown file (e.g. docs/reliability.md), keeping its other sections")
	o.AddFlags(flag.CommandLine, "the servers under test (through a proxy)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "chaos: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	o.faults = strings.Split(faults, ",")
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	loadenv.Run("chaos", func(ctx context.Context) error { return run(ctx, o) })
}

func (o *options) validate() error {
	for _, f := range o.faults {
		if !slices.Contains(allFaults, f) {
			return fmt.Errorf("unknown fault %q (have %s)", f, strings.Join(allFaults, ", "))
		}
	}
	if o.pairs < 2 || o.rate <= 0 || o.rate > 80 || o.pushEvery < 100*time.Millisecond {
		return errors.New("-pairs must be at least 2, -rate in (0, 80] (the hub allows 50 frames/s per client), -push-every at least 100ms")
	}
	if o.churners < 0 || o.churners > 0 && o.churnHold < 100*time.Millisecond {
		return errors.New("-churners must not be negative, -churn-hold at least 100ms")
	}
	if o.down <= 0 || o.observe < time.Second || o.baseline < time.Second || o.backoffMin <= 0 || o.backoffMax < o.backoffMin {
		return errors.New("-down must be positive, -observe and -baseline at least 1s, 0 < -backoff-min <= -backoff-max")
	}
	return o.CheckLoopback()
}

// phase is the baseline or one fault, as it ran.
type phase struct {
	name    string        // "baseline", "kill -9 instance A", ...
	kind    string        // "" (baseline), "kill", "redis", "postgres"
	start   time.Duration // fault injected (baseline: 0)
	back    time.Duration // the dependency was back (baseline: 0)
	startup time.Duration // kill: restart until ready
	killed  string        // kill: the instance killed
	fds     []fdCount     // the surviving instances' open descriptors
	// presence is the check -observe after back (not for the baseline).
	presence *presenceResult
}

type fdCount struct {
	inst          string
	before, after int
}

func run(ctx context.Context, o options) error {
	started := time.Now()
	e, err := loadenv.Start(ctx, config, o.Options)
	defer e.Close(o.Keep)
	if err != nil {
		return err
	}

	pgUp, err := hostPort(e.DatabaseURL(), "5432")
	if err != nil {
		return err
	}
	redisUp, err := hostPort(e.RedisURL(), "6379")
	if err != nil {
		return err
	}
	proxies, err := newProxies(map[string]string{"postgres": pgUp, "redis": redisUp})
	if err != nil {
		return err
	}
	// The servers stop before the proxies close, so that they do not log
	// a last outage of their own on the way out.
	var insts []*instance
	defer func() {
		for _, in := range insts {
			e.Stop(in.server())
		}
		closeProxies(proxies)
	}()
	dbURL, err := withHost(e.DatabaseURL(), proxies["postgres"].addr())
	if err != nil {
		return err
	}
	redisURL, err := withHost(e.RedisURL(), proxies["redis"].addr())
	if err != nil {
		return err
	}
	logf("proxies: Postgres %s -> %s, Redis %s -> %s", proxies["postgres"].addr(), pgUp, proxies["redis"].addr(), redisUp)
	extra := []string{"DATABASE_URL=" + dbURL, "REDIS_URL=" + redisURL}
	insts = []*instance{{name: "A", extra: extra}, {name: "B", extra: extra}}
	for _, in := range insts {
		if err := in.start(ctx, e); err != nil {
			return err
		}
	}

	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	defer httpClient.CloseIdleConnections()
	setupStart := time.Now()
	users, err := setupUsers(ctx, httpClient, insts[0], o.pairs+o.churners, 8)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	logf("set up %d users in %s", len(users), time.Since(setupStart).Round(time.Millisecond))

	l := newLoad(o, users[:o.pairs], users[o.pairs:], insts, httpClient)
	if err := l.start(ctx); err != nil {
		l.stop()
		return err
	}
	phases := []*phase{{name: "baseline"}}
	var runErr error
	if loadenv.Sleep(ctx, o.baseline) {
		for _, f := range o.faults {
			p, err := injectFault(ctx, e, o, f, insts, proxies, l)
			if p != nil {
				phases = append(phases, p)
			}
			if err != nil {
				runErr = fmt.Errorf("%s: %w", f, err)
				break
			}
		}
	}
	l.stop()
	if err := ctx.Err(); err != nil && runErr == nil {
		runErr = err
	}

	res := account(o, l, phases)
	res.started, res.command = started, commandLine()
	text := res.markdown()
	fmt.Print(text)
	if o.out != "" && runErr == nil {
		if err := writeSection(o.out, "Chaos", text); err != nil {
			return err
		}
		logf("wrote the Chaos section of %s", o.out)
	}
	return runErr
}

// injectFault runs one fault and the observation after it.
func injectFault(ctx context.Context, e *loadenv.Env, o options, kind string, insts []*instance, proxies map[string]*proxy, l *load) (*phase, error) {
	p := &phase{kind: kind}
	survivors := insts
	switch kind {
	case "kill":
		p.name, p.killed = "kill -9 instance A", "A"
		survivors = insts[1:]
	case "crash":
		p.name, p.killed = "kill -9 instance A, down 30 s", "A"
		survivors = insts[1:]
	case "redis":
		p.name = "Redis down"
	case "postgres":
		p.name = "Postgres down"
	}
	for _, in := range survivors {
		p.fds = append(p.fds, fdCount{inst: in.name, before: in.openFDs()})
	}
	logf("%s for %s", p.name, o.down)
	p.start = l.rec.now()
	switch kind {
	case "crash":
		// A stays dead while presence is checked through B: its devices
		// cannot reconnect, so they must read disconnected.
		if err := insts[0].server().Kill(); err != nil {
			return p, err
		}
		if !loadenv.Sleep(ctx, o.observe) {
			return p, ctx.Err()
		}
		pr := checkPresence(ctx, l.rest, survivors, l.users, l.devices)
		p.presence = &pr
		logf("%s: presence wrong for %d of %d devices (%d unknown) with A still down", p.name, pr.wrong, pr.checked, pr.unknown)
		restart := l.rec.now()
		if err := insts[0].start(ctx, e); err != nil {
			return p, fmt.Errorf("restart: %w", err)
		}
		p.back = l.rec.now()
		p.startup = p.back - restart
	case "kill":
		if err := insts[0].server().Kill(); err != nil {
			return p, err
		}
		if !loadenv.Sleep(ctx, o.down) {
			return p, ctx.Err()
		}
		restart := l.rec.now()
		if err := insts[0].start(ctx, e); err != nil {
			return p, fmt.Errorf("restart: %w", err)
		}
		p.back = l.rec.now()
		p.startup = p.back - restart
	default:
		px := proxies[kind]
		px.disable()
		if !loadenv.Sleep(ctx, o.down) {
			return p, ctx.Err()
		}
		if err := px.enable(); err != nil {
			return p, fmt.Errorf("enable the %s proxy: %w", kind, err)
		}
		p.back = l.rec.now()
	}
	logf("%s: back after %s; observing for %s", p.name, (p.back - p.start).Round(time.Millisecond), o.observe)
	if !loadenv.Sleep(ctx, p.back+o.observe-l.rec.now()) {
		return p, ctx.Err()
	}
	if p.presence == nil {
		pr := checkPresence(ctx, l.rest, insts, l.users, l.devices)
		p.presence = &pr
	}
	pr := *p.presence
	for i := range p.fds {
		for _, in := range insts {
			if in.name == p.fds[i].inst {
				p.fds[i].after = in.openFDs()
			}
		}
	}
	logf("%s: presence wrong for %d of %d devices (%d unknown)", p.name, pr.wrong, pr.checked, pr.unknown)
	return p, nil
}

// load is the clients and what they record.
type load struct {
	o       options
	users   []user
	insts   []*instance
	rec     *recorder
	rest    restClient
	devices []*endpoint
	apps    []*endpoint
	churn   []*endpoint // churners' devices and apps
	toApp   []*stream   // chat frames device i -> app i
	toDev   []*stream   // chat frames app i -> device i
	pushes  []*stream   // REST pushes to device i

	clientsCancel context.CancelFunc
	sendCancel    context.CancelFunc
	sendEnd       time.Duration
	wg            sync.WaitGroup
	sendWG        sync.WaitGroup
}

func newLoad(o options, us, churners []user, insts []*instance, httpClient *http.Client) *load {
	l := &load{o: o, users: us, insts: insts, rec: &recorder{}}
	l.rest = restClient{http: httpClient, rec: l.rec}
	wsHTTP := &http.Client{Transport: &http.Transport{Proxy: nil}}
	for i, u := range us {
		toApp, toDev, pushes := &stream{}, &stream{}, &stream{}
		devInst, appInst := insts[i%2], insts[(i+1)%2]
		l.devices = append(l.devices, &endpoint{pair: i, role: "device", inst: devInst, out: toApp, in: toDev, pushes: pushes,
			login: macLogin(l.rest, devInst, u), rec: l.rec, opts: &l.o, http: wsHTTP, token: u.deviceToken})
		l.apps = append(l.apps, &endpoint{pair: i, role: "app", inst: appInst, out: toDev, in: toApp,
			login: appLogin(l.rest, appInst, u), rec: l.rec, opts: &l.o, http: wsHTTP, token: u.appToken})
		l.toApp, l.toDev, l.pushes = append(l.toApp, toApp), append(l.toDev, toDev), append(l.pushes, pushes)
	}
	for i, u := range churners {
		devInst, appInst := insts[i%2], insts[(i+1)%2]
		unused := &stream{} // churners send no frames
		l.churn = append(l.churn,
			&endpoint{pair: -1, role: "device", inst: devInst, out: unused, in: unused, hold: o.churnHold,
				login: macLogin(l.rest, devInst, u), rec: l.rec, opts: &l.o, http: wsHTTP, token: u.deviceToken},
			&endpoint{pair: -1, role: "app", inst: appInst, out: unused, in: unused, hold: o.churnHold,
				login: appLogin(l.rest, appInst, u), rec: l.rec, opts: &l.o, http: wsHTTP, token: u.appToken})
	}
	return l
}

// start connects every client, then starts the senders and pushers.
func (l *load) start(ctx context.Context) error {
	l.rec.base = time.Now()
	cctx, cancel := context.WithCancel(ctx)
	l.clientsCancel = cancel
	all := append(slices.Clone(l.devices), l.apps...)
	var ready sync.WaitGroup
	ready.Add(len(all) + len(l.churn))
	for _, ep := range append(slices.Clone(all), l.churn...) {
		l.wg.Go(func() { ep.run(cctx, ready.Done) })
	}
	done := make(chan struct{})
	go func() { ready.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		return errors.New("not every client connected within 60s")
	case <-ctx.Done():
		return ctx.Err()
	}
	logf("%d sessions open (%d of them churning); starting the load", len(all)+len(l.churn), len(l.churn))

	sctx, scancel := context.WithCancel(cctx)
	l.sendCancel = scancel
	every := time.Duration(float64(2*time.Second) / l.o.rate)
	for _, ep := range all {
		l.sendWG.Go(func() { ep.send(sctx, every) })
	}
	for i, u := range l.users {
		l.sendWG.Go(func() { push(sctx, l.rest, l.insts, u, l.pushes[i], l.o.pushEvery) })
	}
	return nil
}

// stop stops sending, waits for frames still in flight, then closes every
// client.
func (l *load) stop() {
	if l.sendCancel != nil {
		l.sendCancel()
		l.sendWG.Wait()
		l.sendEnd = l.rec.now()
		time.Sleep(2 * time.Second)
	}
	if l.clientsCancel != nil {
		l.clientsCancel()
	}
	l.wg.Wait()
}

func commandLine() string {
	args := []string{"go run ./tools/chaos"}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " \t'\"") {
			a = "'" + a + "'"
		}
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "chaos: "+format+"\n", args...)
}
