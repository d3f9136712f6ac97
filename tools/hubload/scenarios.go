package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"paradise/tools/internal/loadenv"
)

// idleResult is what the idle or the idleapps scenario measured.
type idleResult struct {
	users   int
	devices bool // each user has a device connection too (idle), or only an app (idleapps)
	dial    dialStats
	// Server readings: before the first connection, right after the last,
	// after settling, and after the load generator closed them all.
	before, connected, settled, closed loadenv.ProcSample
	connectCPU                         loadenv.CPU // while connecting
	idleCPU                            loadenv.CPU // while settling
	health                             health
}

func (r *idleResult) conns() int { return r.dial.opened }

// kibPerConn is the growth of the server's RSS per open connection.
func (r *idleResult) kibPerConn() float64 {
	if r.conns() == 0 {
		return 0
	}
	return float64(r.settled.RSSKiB-r.before.RSSKiB) / float64(r.conns())
}

// runIdle opens an app connection per user, and with devices a device
// connection too, against one fresh instance, lets them sit, and reads the
// server's RSS.
func runIdle(ctx context.Context, sc scenario, users []user, devices bool) (*idleResult, error) {
	e, o := sc.e, sc.o
	name, perUser := "idleapps", 1
	if devices {
		name, perUser = "idle", 2
	}
	logf("%s: %d users, %d connections to one instance", name, len(users), perUser*len(users))
	srv, err := sc.startServer(ctx, name, nil)
	defer sc.stop(srv)
	if err != nil {
		return nil, err
	}
	// Let the fresh process finish starting (pools, first GC) before the
	// baseline.
	if !loadenv.Sleep(ctx, 2*time.Second) {
		return nil, ctx.Err()
	}
	before, err := e.SampleUsage(ctx, srv)
	if err != nil {
		return nil, err
	}
	specs := make([]dialSpec, 0, perUser*len(users))
	for i, u := range users {
		if devices {
			specs = append(specs, dialSpec{idx: i, device: true, srv: srv, token: u.deviceToken})
		}
		specs = append(specs, dialSpec{idx: i, device: false, srv: srv, token: u.appToken})
	}
	g, st := dialAll(ctx, specs, o.dialWorkers, noteIdleFrame)
	defer g.closeAll()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logf("%s: %d connections open in %s (%d failed); settling %s", name, st.opened, st.took.Round(time.Millisecond), st.failed, o.settle)
	connected, err := e.SampleUsage(ctx, srv)
	if err != nil {
		return nil, err
	}
	if !loadenv.Sleep(ctx, o.settle) {
		return nil, ctx.Err()
	}
	settled, err := e.SampleUsage(ctx, srv)
	if err != nil {
		return nil, err
	}
	r := &idleResult{users: len(users), devices: devices, dial: st,
		before: before.Servers[0], connected: connected.Servers[0], settled: settled.Servers[0],
		connectCPU: loadenv.CPUBetween(before, connected), idleCPU: loadenv.CPUBetween(connected, settled), health: g.health()}

	// After closing: does the server give the memory back?
	g.closeAll()
	if loadenv.Sleep(ctx, 3*time.Second) {
		if ps, err := srv.Sample(); err == nil {
			r.closed = ps
		}
	}
	if st.failed > 0 {
		return r, fmt.Errorf("%d of %d connections failed (first: %s)", st.failed, len(specs), st.firstErr)
	}
	return r, nil
}

// noteIdleFrame is the frame handler of connections that expect none.
func noteIdleFrame(c *wsClient, frame []byte) {
	if bytes.Equal(frameType(frame), errorType) {
		c.group.noteError(frame)
	} else {
		c.group.noteOther()
	}
}

// connectResult is what the connect scenario measured: devices first,
// then apps.
type connectResult struct {
	users             int
	devices, apps     dialStats
	deviceCPU, appCPU loadenv.CPU
	bothCPU           loadenv.CPU
	health            health
}

// perSec is connections opened per second of dialing.
func perSec(opened int, took time.Duration) float64 {
	if took <= 0 {
		return 0
	}
	return float64(opened) / took.Seconds()
}

func (r *connectResult) bothPerSec() float64 {
	return perSec(r.devices.opened+r.apps.opened, r.devices.took+r.apps.took)
}

// runConnect connects every user's device, then every user's app, to one
// fresh instance with o.dialWorkers dials in flight, timing each half and
// sampling CPU around it.
func runConnect(ctx context.Context, sc scenario, users []user) (*connectResult, error) {
	e, o := sc.e, sc.o
	logf("connect: %d devices, then %d apps, to one instance, %d dials in flight", len(users), len(users), o.dialWorkers)
	srv, err := sc.startServer(ctx, "connect", nil)
	defer sc.stop(srv)
	if err != nil {
		return nil, err
	}
	if !loadenv.Sleep(ctx, 2*time.Second) {
		return nil, ctx.Err()
	}
	r := &connectResult{users: len(users)}
	half := func(device bool) (*clientGroup, dialStats, loadenv.Usage, loadenv.Usage, error) {
		specs := make([]dialSpec, len(users))
		for i, u := range users {
			token := u.appToken
			if device {
				token = u.deviceToken
			}
			specs[i] = dialSpec{idx: i, device: device, srv: srv, token: token}
		}
		before, err := e.SampleUsage(ctx, srv)
		if err != nil {
			return nil, dialStats{}, before, before, err
		}
		g, st := dialAll(ctx, specs, o.dialWorkers, noteIdleFrame)
		after, err := e.SampleUsage(ctx, srv)
		return g, st, before, after, err
	}
	devs, dst, start, devsDone, err := half(true)
	if devs != nil {
		defer devs.closeAll()
	}
	if err != nil {
		return nil, err
	}
	r.devices, r.deviceCPU = dst, loadenv.CPUBetween(start, devsDone)
	logf("connect: %d devices in %s (%d failed)", dst.opened, dst.took.Round(time.Millisecond), dst.failed)
	apps, ast, appsStart, end, err := half(false)
	if apps != nil {
		defer apps.closeAll()
	}
	if err != nil {
		return nil, err
	}
	r.apps, r.appCPU, r.bothCPU = ast, loadenv.CPUBetween(appsStart, end), loadenv.CPUBetween(start, end)
	logf("connect: %d apps in %s (%d failed)", ast.opened, ast.took.Round(time.Millisecond), ast.failed)
	r.health = apps.health()
	if h := devs.health(); h.lost > 0 || h.errorFrames > 0 || h.otherFrames > 0 {
		r.health = h
	}
	if failed := dst.failed + ast.failed; failed > 0 {
		first := dst.firstErr
		if first == "" {
			first = ast.firstErr
		}
		return r, fmt.Errorf("%d of %d connections failed (first: %s)", failed, 2*len(users), first)
	}
	return r, nil
}

// latencyResult is what the latency scenario measured.
type latencyResult struct {
	pairs int
	dial  dialStats
	step  stepResult
}

// latencyMet reports whether p99 met the target with nothing lost.
func (l *latencyResult) latencyMet() bool {
	s := l.step
	return s.all.n > 0 && s.all.p99 <= targetLatencyP99 && s.lost == 0 && s.dupOrOld == 0 && s.sendErrs == 0
}

func (l *latencyResult) cpuPer1000Met() bool {
	return l.step.received > 0 && l.cpuPer1000() <= targetCPUPer1000
}

// cpuPer1000 is the server's and Redis's CPU seconds per 1,000 frames
// relayed (received by their apps, duplicates excluded) while sending.
func (l *latencyResult) cpuPer1000() float64 {
	s := l.step
	if s.received == 0 || len(s.cpu.Servers) == 0 {
		return 0
	}
	cpuSeconds := (s.cpu.Servers[0] + s.cpu.Redis) * s.cpu.Window.Seconds()
	return cpuSeconds / (float64(s.received) / 1000)
}

// runLatency connects each user's device and app to one fresh instance;
// every device sends one chat frame per second to its app.
func runLatency(ctx context.Context, sc scenario, users []user) (*latencyResult, error) {
	e, o := sc.e, sc.o
	logf("latency: %d pairs on one instance, 1 frame/s per device for %s", len(users), o.duration)
	srv, err := sc.startServer(ctx, "latency", nil)
	defer sc.stop(srv)
	if err != nil {
		return nil, err
	}
	one := func(int) *loadenv.Server { return srv }
	p, st, err := connectPairs(ctx, o, users, 1, one, one)
	defer p.group.closeAll()
	if err != nil {
		return nil, err
	}
	logf("latency: %d connections open in %s", st.opened, st.took.Round(time.Millisecond))
	if !loadenv.Sleep(ctx, time.Second) {
		return nil, ctx.Err()
	}
	res, err := runStep(ctx, e, o, p, float64(len(users)), o.duration, []*loadenv.Server{srv})
	if err != nil {
		return nil, err
	}
	logf("latency: sent %d, received %d, p99 %s", res.sent, res.received, loadenv.Millis(res.all.p99))
	return &latencyResult{pairs: len(users), dial: st, step: res}, nil
}

// throughputResult is what the throughput1 or the throughput scenario
// measured.
type throughputResult struct {
	twoInstances bool
	pairs        int
	crossPairs   int // 0 on one instance
	wsRate       int // PARADISE_WS_RATE and PARADISE_WS_BURST given to the servers
	dial         dialStats
	steps        []stepResult
	stopped      string // why stepping stopped early, if it did
}

// passed reports whether a step relayed everything with p99 under 50 ms.
func (s *stepResult) passed() bool {
	return s.lost == 0 && s.dupOrOld == 0 && s.sendErrs == 0 && s.health.lost == 0 &&
		s.all.n > 0 && s.all.p99 < throughputP99
}

const throughputP99 = 50 * time.Millisecond

// best is the passing step with the highest delivered rate, or nil.
func (r *throughputResult) best() *stepResult {
	var b *stepResult
	for i := range r.steps {
		s := &r.steps[i]
		if s.passed() && (b == nil || s.deliveredPerSec > b.deliveredPerSec) {
			b = s
		}
	}
	return b
}

// warmUp is how long the throughput scenarios send at their first rate
// before the steps they report.
const warmUp = 3 * time.Second

// runThroughput starts instance A and, with twoInstances, instance B
// sharing Redis; every device connects to A, the apps of even-numbered
// pairs to B (their frames cross instances through Redis) when there is a
// B, the others to A (delivered locally). Then it steps the offered rate
// up.
func runThroughput(ctx context.Context, sc scenario, users []user, twoInstances bool) (*throughputResult, error) {
	e, o := sc.e, sc.o
	name := "throughput1"
	if twoInstances {
		name = "throughput"
	}
	maxStep := 0
	for _, s := range o.steps {
		maxStep = max(maxStep, s)
	}
	// Each device sends maxStep/len(users) frames/s at the top step;
	// leave the rate limit well above that.
	perDevice := float64(maxStep) / float64(len(users))
	wsRate := max(100, int(math.Ceil(4*perDevice)))
	extra := []string{"PARADISE_WS_RATE=" + strconv.Itoa(wsRate), "PARADISE_WS_BURST=" + strconv.Itoa(wsRate)}
	r := &throughputResult{twoInstances: twoInstances, pairs: len(users), wsRate: wsRate}
	a, err := sc.startServer(ctx, "A", extra)
	defer sc.stop(a)
	if err != nil {
		return nil, err
	}
	servers := []*loadenv.Server{a}
	appSrv := func(int) *loadenv.Server { return a }
	if twoInstances {
		r.crossPairs = (len(users) + 1) / 2
		b, err := sc.startServer(ctx, "B", extra)
		defer sc.stop(b)
		if err != nil {
			return nil, err
		}
		servers = append(servers, b)
		appSrv = func(i int) *loadenv.Server {
			if i%2 == 0 {
				return b
			}
			return a
		}
	}
	logf("%s: %d pairs on %d instance(s) (%d cross-instance), steps %v frames/s, %s each",
		name, len(users), len(servers), r.crossPairs, o.steps, o.stepDuration)
	p, st, err := connectPairs(ctx, o, users, len(o.steps)+1, func(int) *loadenv.Server { return a }, appSrv)
	defer p.group.closeAll()
	r.dial = st
	if err != nil {
		return r, err
	}
	logf("%s: %d connections open in %s", name, st.opened, st.took.Round(time.Millisecond))
	if !loadenv.Sleep(ctx, time.Second) {
		return r, ctx.Err()
	}
	// A first step at the first rate (at least a frame a second per
	// device) warms the servers up (goroutines, buffers, the heap's
	// size): without it the first step's p99 said more about start-up
	// than about that rate. It is not reported.
	warmRate := max(o.steps[0], len(users))
	if _, err := runStep(ctx, e, o, p, float64(warmRate), warmUp, servers); err != nil {
		return r, fmt.Errorf("warm-up at %d frames/s: %w", warmRate, err)
	}
	logf("%s: warmed up at %d frames/s for %s", name, warmRate, warmUp)
	for _, rate := range o.steps {
		res, err := runStep(ctx, e, o, p, float64(rate), o.stepDuration, servers)
		if err != nil {
			return r, fmt.Errorf("step %d frames/s: %w", rate, err)
		}
		r.steps = append(r.steps, res)
		logf("%s: offered %d/s: delivered %.0f/s, lost %d (cross-instance %d, on open connections %d), p99 %s ms (local %s, cross %s), CPU servers %s load-gen %.2f",
			name, rate, res.deliveredPerSec, res.lost, res.lostCross, res.lostOpen, loadenv.Millis(res.all.p99), loadenv.Millis(res.local.p99), loadenv.Millis(res.cross.p99),
			coresList(res.cpu.Servers), res.cpu.Loadgen)
		if res.health.lost > 0 {
			r.stopped = "connections were closed by the servers"
			break
		}
		if !res.passed() && !o.keepStepping {
			r.stopped = fmt.Sprintf("the %d frames/s step failed", rate)
			break
		}
		if slices.ContainsFunc(servers, func(s *loadenv.Server) bool { return !s.Alive() }) {
			r.stopped = "a server exited"
			break
		}
	}
	return r, nil
}
