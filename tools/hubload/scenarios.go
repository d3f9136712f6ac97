package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"paradise/tools/internal/loadenv"
)

// idleResult is what the idle scenario measured.
type idleResult struct {
	users int
	dial  dialStats
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

// runIdle opens a device and an app connection per user against one
// fresh instance, lets them sit, and reads the server's RSS.
func runIdle(ctx context.Context, e *loadenv.Env, o options, users []user) (*idleResult, error) {
	logf("idle: %d users, %d connections to one instance", len(users), 2*len(users))
	srv, err := startServer(ctx, e, "idle", nil)
	defer e.Stop(srv)
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
	specs := make([]dialSpec, 0, 2*len(users))
	for i, u := range users {
		specs = append(specs,
			dialSpec{idx: i, device: true, srv: srv, token: u.deviceToken},
			dialSpec{idx: i, device: false, srv: srv, token: u.appToken})
	}
	g, st := dialAll(ctx, specs, o.dialWorkers, func(c *wsClient, frame []byte) {
		if bytes.Equal(frameType(frame), errorType) {
			c.group.noteError(frame)
		} else {
			c.group.noteOther()
		}
	})
	defer g.closeAll()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logf("idle: %d connections open in %s (%d failed); settling %s", st.opened, st.took.Round(time.Millisecond), st.failed, o.settle)
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
	r := &idleResult{users: len(users), dial: st,
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

// latencyResult is what the latency scenario measured.
type latencyResult struct {
	pairs int
	dial  dialStats
	step  stepResult
}

// runLatency connects each user's device and app to one fresh instance;
// every device sends one chat frame per second to its app.
func runLatency(ctx context.Context, e *loadenv.Env, o options, users []user) (*latencyResult, error) {
	logf("latency: %d pairs on one instance, 1 frame/s per device for %s", len(users), o.duration)
	srv, err := startServer(ctx, e, "latency", nil)
	defer e.Stop(srv)
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

// throughputResult is what the throughput scenario measured.
type throughputResult struct {
	pairs      int
	crossPairs int
	wsRate     int // PARADISE_WS_RATE and PARADISE_WS_BURST given to the servers
	dial       dialStats
	steps      []stepResult
	stopped    string // why stepping stopped early, if it did
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

// runThroughput starts instances A and B sharing Redis; every device
// connects to A, the apps of even-numbered pairs to B (their frames cross
// instances through Redis) and the others to A (delivered locally). Then
// it steps the offered rate up.
func runThroughput(ctx context.Context, e *loadenv.Env, o options, users []user) (*throughputResult, error) {
	maxStep := 0
	for _, s := range o.steps {
		maxStep = max(maxStep, s)
	}
	// Each device sends maxStep/len(users) frames/s at the top step;
	// leave the rate limit well above that.
	perDevice := float64(maxStep) / float64(len(users))
	wsRate := max(100, int(math.Ceil(4*perDevice)))
	extra := []string{"PARADISE_WS_RATE=" + strconv.Itoa(wsRate), "PARADISE_WS_BURST=" + strconv.Itoa(wsRate)}
	r := &throughputResult{pairs: len(users), crossPairs: (len(users) + 1) / 2, wsRate: wsRate}
	logf("throughput: %d pairs on instances A and B (%d cross-instance), steps %v frames/s, %s each",
		len(users), r.crossPairs, o.steps, o.stepDuration)

	a, err := startServer(ctx, e, "A", extra)
	defer e.Stop(a)
	if err != nil {
		return nil, err
	}
	b, err := startServer(ctx, e, "B", extra)
	defer e.Stop(b)
	if err != nil {
		return nil, err
	}
	p, st, err := connectPairs(ctx, o, users, len(o.steps),
		func(int) *loadenv.Server { return a },
		func(i int) *loadenv.Server {
			if i%2 == 0 {
				return b
			}
			return a
		})
	defer p.group.closeAll()
	r.dial = st
	if err != nil {
		return r, err
	}
	logf("throughput: %d connections open in %s", st.opened, st.took.Round(time.Millisecond))
	if !loadenv.Sleep(ctx, time.Second) {
		return r, ctx.Err()
	}
	for _, rate := range o.steps {
		res, err := runStep(ctx, e, o, p, float64(rate), o.stepDuration, []*loadenv.Server{a, b})
		if err != nil {
			return r, fmt.Errorf("step %d frames/s: %w", rate, err)
		}
		r.steps = append(r.steps, res)
		logf("throughput: offered %d/s: delivered %.0f/s, lost %d (cross-instance %d, on open connections %d), p99 %s ms (local %s, cross %s), CPU A %.2f B %.2f load-gen %.2f",
			rate, res.deliveredPerSec, res.lost, res.lostCross, res.lostOpen, loadenv.Millis(res.all.p99), loadenv.Millis(res.local.p99), loadenv.Millis(res.cross.p99),
			res.cpu.Servers[0], res.cpu.Servers[1], res.cpu.Loadgen)
		if res.health.lost > 0 {
			r.stopped = "connections were closed by the servers"
			break
		}
		if !res.passed() && !o.keepStepping {
			r.stopped = fmt.Sprintf("the %d frames/s step failed", rate)
			break
		}
		if !a.Alive() || !b.Alive() {
			r.stopped = "a server exited"
			break
		}
	}
	return r, nil
}
