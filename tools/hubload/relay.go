package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"paradise/tools/internal/loadenv"
)

// pairs is a set of device+app sessions of the same users: device i
// sends chat frames, app i receives them through the hub.
type pairs struct {
	base    time.Time // timestamps in frames are time.Since(base), monotonic
	devices []*wsClient
	apps    []*wsClient
	cross   []bool // app i is on another instance than device i
	rx      []appRx
	// steps are allocated up front, so readers can index them without
	// synchronising with runStep; nextStep is the next one to run.
	steps    []*stepCounters
	nextStep int
	group    *clientGroup
}

// appRx is what app i received, per step, guarded by mu: its reader
// records frames, runStep reads and frees a finished step.
type appRx struct {
	mu      sync.Mutex
	lastSeq int64
	lat     [][]int64 // per step: one-way latencies in ns
	unique  []int64   // per step: frames received, duplicates excluded
}

// stepCounters are the live counters of one step.
type stepCounters struct {
	sent       atomic.Int64
	received   atomic.Int64 // chat frames received, duplicates included
	dupOrOld   atomic.Int64 // frames whose sequence number was not above the last one seen
	sendErrors atomic.Int64
	// The same for the pairs whose app is on another instance.
	sentCross     atomic.Int64
	receivedCross atomic.Int64 // duplicates excluded
	// sentBy[d] is how many frames device d sent; only d's sender shard
	// writes it, runStep reads it after the shards are done.
	sentBy []int64
}

var (
	chatType  = []byte("chat")
	errorType = []byte("error")
	textKey   = []byte(`"text":"`)
)

// connectPairs opens the device and app connections of users: device i
// on devSrv(i), app i on appSrv(i), for up to steps sending steps.
func connectPairs(ctx context.Context, o options, users []user, steps int, devSrv, appSrv func(i int) *loadenv.Server) (*pairs, dialStats, error) {
	p := &pairs{
		base:    time.Now(),
		devices: make([]*wsClient, len(users)),
		apps:    make([]*wsClient, len(users)),
		cross:   make([]bool, len(users)),
		rx:      make([]appRx, len(users)),
		steps:   make([]*stepCounters, steps),
	}
	for i := range p.steps {
		p.steps[i] = &stepCounters{sentBy: make([]int64, len(users))}
	}
	specs := make([]dialSpec, 0, 2*len(users))
	for i, u := range users {
		p.cross[i] = devSrv(i) != appSrv(i)
		specs = append(specs,
			dialSpec{idx: i, device: true, srv: devSrv(i), token: u.deviceToken},
			dialSpec{idx: i, device: false, srv: appSrv(i), token: u.appToken})
	}
	g, st := dialAll(ctx, specs, o.dialWorkers, p.handle)
	p.group = g
	for _, c := range g.clients {
		if c == nil {
			continue
		}
		if c.device {
			p.devices[c.idx] = c
		} else {
			p.apps[c.idx] = c
		}
	}
	if err := ctx.Err(); err != nil {
		return p, st, err
	}
	if st.failed > 0 {
		return p, st, fmt.Errorf("%d of %d connections failed (first: %s)", st.failed, len(specs), st.firstErr)
	}
	return p, st, nil
}

// handle is every reader's frame handler.
func (p *pairs) handle(c *wsClient, frame []byte) {
	typ := frameType(frame)
	if c.device || !bytes.Equal(typ, chatType) {
		if bytes.Equal(typ, errorType) {
			c.group.noteError(frame)
		} else {
			c.group.noteOther()
		}
		return
	}
	now := int64(time.Since(p.base))
	step, seq, ts, ok := parseText(stringField(frame, textKey))
	if !ok || step < 0 || step >= len(p.steps) {
		c.group.noteOther()
		return
	}
	sc := p.steps[step]
	rx := &p.rx[c.idx]
	rx.mu.Lock()
	for len(rx.lat) <= step {
		rx.lat = append(rx.lat, nil)
		rx.unique = append(rx.unique, 0)
	}
	rx.lat[step] = append(rx.lat[step], now-ts)
	old := seq <= rx.lastSeq
	if !old {
		rx.lastSeq = seq
		rx.unique[step]++
	}
	rx.mu.Unlock()
	if old {
		sc.dupOrOld.Add(1)
	} else if p.cross[c.idx] {
		sc.receivedCross.Add(1)
	}
	sc.received.Add(1)
}

// parseText parses "<step> <seq> <timestamp>".
func parseText(b []byte) (step int, seq, ts int64, ok bool) {
	var f [3]int64
	n := 0
	for i := 0; i < 3; i++ {
		if len(b) == 0 {
			return 0, 0, 0, false
		}
		var v int64
		j := 0
		for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
			v = v*10 + int64(b[j]-'0')
		}
		if j == 0 {
			return 0, 0, 0, false
		}
		f[i] = v
		n++
		b = b[j:]
		if i < 2 {
			if len(b) == 0 || b[0] != ' ' {
				return 0, 0, 0, false
			}
			b = b[1:]
		}
	}
	return int(f[0]), f[1], f[2], n == 3 && len(b) == 0
}

// stepResult is what one sending step measured.
type stepResult struct {
	offered  float64       // frames/s asked for, all devices together
	duration time.Duration // sending window asked for
	sendTook time.Duration // how long sending actually took
	sent     int64
	received int64 // unique frames received
	dupOrOld int64
	lost     int64
	// lostCross is the part of lost whose app is on another instance
	// than its device.
	lostCross int64
	// lostOpen is the part of lost whose device and app connections
	// were both still open at the end of the step: frames the hub dropped
	// without closing anything.
	lostOpen int64
	sendErrs int64
	// deliveredPerSec is unique frames received per second of sending
	// (the window, or longer if the load generator fell behind).
	deliveredPerSec float64

	all, local, cross latencies
	cpu               loadenv.CPU
	health            health // cumulative for the scenario, read after the step
}

// latencies are nearest-rank percentiles of a set of one-way latencies.
type latencies struct {
	n                  int
	p50, p90, p99, max time.Duration
}

func summarize(ns []int64) latencies {
	slices.Sort(ns)
	l := latencies{n: len(ns)}
	if len(ns) == 0 {
		return l
	}
	pct := func(p float64) time.Duration { return time.Duration(loadenv.Percentile(ns, p)) }
	l.p50, l.p90, l.p99, l.max = pct(0.50), pct(0.90), pct(0.99), time.Duration(ns[len(ns)-1])
	return l
}

// senderShards is how many goroutines share the sending. Each wakes at
// most once a millisecond and sends every frame that is due, so a high
// rate does not cost one timer wake-up per frame.
const senderShards = 8

// runStep has every device send chat frames at rate frames/s in all,
// spread evenly over devices and time, for dur; then waits up to drain
// for the frames in flight and summarises the step. CPU is sampled over
// the sending window.
func runStep(ctx context.Context, e *loadenv.Env, o options, p *pairs, rate float64, dur time.Duration, servers []*loadenv.Server) (stepResult, error) {
	if p.nextStep >= len(p.steps) {
		return stepResult{}, errors.New("more steps than connectPairs was told")
	}
	step := p.nextStep
	p.nextStep++
	sc := p.steps[step]
	n := len(p.devices)
	perDevice := int(math.Round(rate * dur.Seconds() / float64(n)))
	res := stepResult{offered: rate, duration: dur}
	if perDevice < 1 {
		return res, fmt.Errorf("%.0f frames/s for %s is less than one frame per device", rate, dur)
	}

	before, err := e.SampleUsage(ctx, servers...)
	if err != nil {
		return res, err
	}
	// Device d sends its k-th frame at start + (k*n + d)/rate.
	start := time.Now().Add(10 * time.Millisecond)
	gap := float64(time.Second) / rate
	var wg sync.WaitGroup
	for s := range min(senderShards, n) {
		wg.Go(func() { p.send(ctx, sc, step, s, perDevice, start, gap) })
	}
	// Writes block only while the server does not read; bound the wait
	// anyway, and unblock the senders by closing the connections.
	sent := make(chan struct{})
	go func() { wg.Wait(); close(sent) }()
	select {
	case <-sent:
	case <-time.After(dur + 60*time.Second):
		p.group.closeAll()
		<-sent
		return res, fmt.Errorf("sending did not finish within %s of its %s window; closed the connections", 60*time.Second, dur)
	}
	sendEnd := time.Now()
	res.sendTook = sendEnd.Sub(start)
	after, err := e.SampleUsage(ctx, servers...)
	if err != nil {
		return res, err
	}
	res.cpu = loadenv.CPUBetween(before, after)

	// Drain: wait for the frames still in flight.
	want := sc.sent.Load()
	drainEnd := time.Now().Add(o.drain)
	for sc.received.Load()-sc.dupOrOld.Load() < want && time.Now().Before(drainEnd) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	res.sent = want
	res.dupOrOld = sc.dupOrOld.Load()
	res.received = sc.received.Load() - res.dupOrOld
	res.lost = res.sent - res.received
	res.lostCross = sc.sentCross.Load() - sc.receivedCross.Load()
	res.sendErrs = sc.sendErrors.Load()
	var all, local, cross []int64
	for i := range p.rx {
		rx := &p.rx[i]
		rx.mu.Lock()
		if step < len(rx.lat) {
			all = append(all, rx.lat[step]...)
			if p.cross[i] {
				cross = append(cross, rx.lat[step]...)
			} else {
				local = append(local, rx.lat[step]...)
			}
			rx.lat[step] = nil // free it; late frames of this step are not counted
		}
		var got int64
		if step < len(rx.unique) {
			got = rx.unique[step]
		}
		rx.mu.Unlock()
		if p.devices[i].open() && p.apps[i].open() {
			res.lostOpen += sc.sentBy[i] - got
		}
	}
	res.all, res.local, res.cross = summarize(all), summarize(local), summarize(cross)
	res.deliveredPerSec = float64(res.received) / max(dur, res.sendTook).Seconds()
	res.health = p.group.health()
	return res, nil
}

// send is one sender shard: it sends the frames of the devices d with
// d % senderShards == shard, in time order.
func (p *pairs) send(ctx context.Context, sc *stepCounters, step, shard, perDevice int, start time.Time, gap float64) {
	n := len(p.devices)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	buf := make([]byte, 0, 128)
	dead := make(map[int]bool)
	for k := range perDevice {
		for d := shard; d < n; d += senderShards {
			due := start.Add(time.Duration(float64(k*n+d) * gap))
			if wait := time.Until(due); wait > time.Millisecond {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
			if dead[d] {
				continue
			}
			c := p.devices[d]
			// The sequence number runs on across steps: step k of n devices.
			seq := int64(step)*1_000_000_000 + int64(k) + 1
			buf = append(buf[:0], `{"type":"chat","message":{"conversation_id":"hubload","text":"`...)
			buf = appendInt(buf, int64(step))
			buf = append(buf, ' ')
			buf = appendInt(buf, seq)
			buf = append(buf, ' ')
			buf = appendInt(buf, int64(time.Since(p.base)))
			buf = append(buf, `"}}`...)
			// Background: no timer per write. A write blocks only while
			// the server does not read; runStep bounds that.
			if err := c.c.Write(context.Background(), websocket.MessageText, buf); err != nil {
				sc.sendErrors.Add(1)
				if !errors.Is(err, context.Canceled) {
					dead[d] = true
				}
				continue
			}
			sc.sent.Add(1)
			sc.sentBy[d]++
			if p.cross[d] {
				sc.sentCross.Add(1)
			}
		}
	}
}

func appendInt(b []byte, v int64) []byte {
	var tmp [20]byte
	i := len(tmp)
	if v == 0 {
		return append(b, '0')
	}
	for v > 0 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[i:]...)
}
