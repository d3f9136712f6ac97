package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"paradise/tools/internal/loadenv"
)

// The targets of issue 14 (hub performance) on this 2-core machine, and
// the sizes they are stated at.
const (
	targetRelayOne     = 45000 // delivered frames/s, every connection on one instance
	targetRelayTwo     = 35000 // delivered frames/s, devices on A, half the apps on B
	targetLatencyP99   = time.Millisecond
	targetLatencyPairs = 1000
	targetCPUPer1000   = 0.08 // server + Redis CPU seconds per 1,000 relayed frames at 1,000/s
	targetConnectsPerS = 12000
	targetConnectUsers = 1000
	targetKiBPerApp    = 12.0 // idle RSS per app connection
	targetKiBPerConn   = 20.0 // idle RSS per connection, devices and apps together
	targetIdleConns    = 10000
)

// report collects the scenarios' results and prints them as Markdown.
type report struct {
	opts        options
	started     time.Time
	setupUsers  int
	setupTime   time.Duration
	connect     *connectResult
	idle        *idleResult
	idleApps    *idleResult
	latency     *latencyResult
	throughput1 *throughputResult
	throughput  *throughputResult
}

func (r *report) print(w io.Writer) {
	o := r.opts
	fmt.Fprintln(w, loadenv.RunLine(r.started))
	fmt.Fprintf(w, "`%s`\n\n", commandLine())
	fmt.Fprintf(w, "Set-up: %d users registered, each with a bound device and a MAC login, in %s (%d REST workers).\n\n",
		r.setupUsers, r.setupTime.Round(100*time.Millisecond), o.setupWorkers)
	if o.floor {
		fmt.Fprint(w, "**Server under test: the floor** (`tools/hubload/floor`), not Paradise: a bare coder/websocket relay "+
			"with Paradise's token check and nothing else. \"Server\" below is the floor.\n\n")
	}

	if c := r.connect; c != nil {
		fmt.Fprintf(w, "**Connect rate** — %d devices, then %d apps, connect to a fresh instance (token auth, %d dials in flight; "+
			"a connection counts once its `connected` frame arrived):\n\n", c.users, c.users, o.dialWorkers)
		fmt.Fprintln(w, "| Connecting | Opened | Failed | Took | Connects/s | Server | Postgres | Redis | Load-gen | Machine |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		row := func(what string, opened, failed int, took time.Duration, cpu loadenv.CPU) {
			fmt.Fprintf(w, "| %s | %d | %d | %s | %.0f | %s | %s | %s | %s | %s |\n", what, opened, failed,
				took.Round(time.Millisecond), perSec(opened, took), cores(cpu.Servers[0]), cores(cpu.Postgres),
				cores(cpu.Redis), cores(cpu.Loadgen), cores(cpu.Machine))
		}
		row("devices", c.devices.opened, c.devices.failed, c.devices.took, c.deviceCPU)
		row("apps", c.apps.opened, c.apps.failed, c.apps.took, c.appCPU)
		row("both", c.devices.opened+c.apps.opened, c.devices.failed+c.apps.failed, c.devices.took+c.apps.took, c.bothCPU)
		fmt.Fprintln(w)
		fmt.Fprint(w, "Connects/s = connections opened / time from the first dial to the last `connected` frame; "+
			"\"both\" adds the two halves' times. CPU in cores over each half (both: from the first device's dial to the last app's).")
		writeHealth(w, c.health)
		fmt.Fprintln(w)
		fmt.Fprintln(w)
	}

	for _, i := range []*idleResult{r.idle, r.idleApps} {
		if i != nil {
			i.print(w, o)
		}
	}

	if l := r.latency; l != nil {
		s := l.step
		fmt.Fprintf(w, "**Relay latency** — %d pairs on one instance, each device sending 1 chat frame/s (spread evenly) to its app for %s:\n\n", l.pairs, s.duration)
		fmt.Fprintf(w, "| Sent | Received | Lost | Dup/reordered | p50 ms | p90 ms | p99 ms | max ms | Target p99 ≤ %s ms, none lost |\n", loadenv.Millis(targetLatencyP99))
		fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		fmt.Fprintf(w, "| %d | %d | %d | %d | %s | %s | %s | %s | %s |\n",
			s.sent, s.received, s.lost, s.dupOrOld, loadenv.Millis(s.all.p50), loadenv.Millis(s.all.p90), loadenv.Millis(s.all.p99), loadenv.Millis(s.all.max),
			metIf(l.latencyMet(), false))
		fmt.Fprintln(w)
		fmt.Fprintf(w, "CPU while sending: server %s cores, load generator %s, Postgres %s, Redis %s, machine %s; "+
			"server + Redis **%.3f CPU s per 1,000 relayed frames** (target ≤ %.2f: %s).",
			cores(s.cpu.Servers[0]), cores(s.cpu.Loadgen), cores(s.cpu.Postgres), cores(s.cpu.Redis), cores(s.cpu.Machine),
			l.cpuPer1000(), targetCPUPer1000, metIf(l.cpuPer1000Met(), false))
		if s.sendErrs > 0 {
			fmt.Fprintf(w, " %d sends failed.", s.sendErrs)
		}
		if s.lost > 0 {
			fmt.Fprintf(w, " Of the lost frames, %d were on pairs whose connections both stayed open.", s.lostOpen)
		}
		writeHealth(w, s.health)
		fmt.Fprintln(w)
		fmt.Fprintln(w)
	}

	for _, t := range []*throughputResult{r.throughput1, r.throughput} {
		if t != nil {
			t.print(w, o)
		}
	}

	r.printSummary(w)

	fmt.Fprintf(w, "CPU is in cores (CPU seconds / wall seconds; the machine has %d): each server process and the load "+
		"generator from /proc and getrusage, Postgres = the scratch database's backends, Redis = the whole Redis server "+
		"(INFO cpu), Machine = everything (/proc/stat). Latency is one-way, device send to app receipt, on one "+
		"monotonic clock; percentiles are nearest-rank over every frame of the step. \"Send took\" longer than "+
		"the step means the load generator fell behind. Delivered /s = frames received (duplicates excluded) per second of "+
		"sending. Lost = sent − received %s after sending ended; \"cross\" is the part whose app was on the other instance, "+
		"\"open\" the part on pairs whose connections both stayed open (frames dropped without a disconnect).\n", runtime.NumCPU(), o.drain)
}

func writeHealth(w io.Writer, h health) {
	if h.lost > 0 {
		fmt.Fprintf(w, " %d connections were closed by the server (first: %s).", h.lost, h.firstLost)
	}
	if h.errorFrames > 0 {
		fmt.Fprintf(w, " %d error frames received (first: `%s`).", h.errorFrames, h.firstError)
	}
	if h.otherFrames > 0 {
		fmt.Fprintf(w, " %d unexpected frames received.", h.otherFrames)
	}
}

// metIf returns "met" or "missed"; partial marks a figure that meets the
// bound at a smaller size than the target's.
func metIf(met, partial bool) string {
	switch {
	case met:
		return "met"
	case partial:
		return "met at this size; target is at 10,000"
	default:
		return "missed"
	}
}

func commandLine() string {
	args := []string{"go run ./tools/hubload"}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " \t'\"") {
			a = "'" + a + "'"
		}
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

func cores(c float64) string { return fmt.Sprintf("%.2f", c) }

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// print writes the idle or the idleapps scenario's section.
func (i *idleResult) print(w io.Writer, o options) {
	what, per, target := "device + app", "connection", targetKiBPerConn
	if !i.devices {
		what, per, target = "app only", "app connection", targetKiBPerApp
	}
	fmt.Fprintf(w, "**Idle connections** — %d users × (%s) on one instance, %s after the last connected frame:\n\n", i.users, what, o.settle)
	fmt.Fprintf(w, "| Connections | Server RSS before | after | Δ RSS | KiB / %s | Target | Connect time | Threads | RSS 3 s after closing all |\n", per)
	fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	fmt.Fprintf(w, "| %d | %s | %s | %s | %.1f | ≤ %.0f (%s) | %s | %d → %d | %s |\n",
		i.conns(), mib(i.before.RSSKiB), mib(i.settled.RSSKiB), mib(i.settled.RSSKiB-i.before.RSSKiB),
		i.kibPerConn(), target, metIf(i.kibPerConn() <= target && i.conns() >= targetIdleConns, i.kibPerConn() <= target),
		i.dial.took.Round(100*time.Millisecond), i.before.Threads, i.settled.Threads, mib(i.closed.RSSKiB))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "While connecting (%s): server %s cores, load generator %s, Postgres %s, Redis %s, machine %s. "+
		"While idle: server %s cores.",
		i.connectCPU.Window.Round(100*time.Millisecond), cores(i.connectCPU.Servers[0]), cores(i.connectCPU.Loadgen),
		cores(i.connectCPU.Postgres), cores(i.connectCPU.Redis), cores(i.connectCPU.Machine), cores(i.idleCPU.Servers[0]))
	if i.conns() < targetIdleConns {
		fmt.Fprint(w, " The target is for 10,000 connections; with fewer, the server's fixed overhead weighs more per connection.")
	}
	if i.dial.failed > 0 {
		fmt.Fprintf(w, " %d connections failed (first: %s).", i.dial.failed, i.dial.firstErr)
	}
	writeHealth(w, i.health)
	fmt.Fprintln(w)
	fmt.Fprintln(w)
}

// target is the delivered rate the scenario's best step is held to.
func (t *throughputResult) target() int {
	if t.twoInstances {
		return targetRelayTwo
	}
	return targetRelayOne
}

// print writes the throughput1 or the throughput scenario's section.
func (t *throughputResult) print(w io.Writer, o options) {
	if t.twoInstances {
		fmt.Fprintf(w, "**Throughput, two instances** — %d pairs on instances A and B sharing Redis: every device on A; "+
			"the apps of %d pairs (even-numbered) on B, so their frames cross instances through Redis pub/sub; "+
			"the apps of the other %d pairs on A, delivered locally.", t.pairs, t.crossPairs, t.pairs-t.crossPairs)
	} else {
		fmt.Fprintf(w, "**Throughput, one instance** — %d pairs, every device and app on instance A.", t.pairs)
	}
	fmt.Fprintf(w, " Each step sends for %s; `PARADISE_WS_RATE` = `PARADISE_WS_BURST` = %d.\n\n", o.stepDuration, t.wsRate)
	if t.twoInstances {
		fmt.Fprintln(w, "| Offered /s | Sent | Send took | Delivered /s | Lost (cross, open) | p50 ms | p99 ms | p99 local | p99 cross | max ms | CPU A | CPU B | Redis | Postgres | Load-gen | Machine | Step |")
		fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	} else {
		fmt.Fprintln(w, "| Offered /s | Sent | Send took | Delivered /s | Lost (open) | p50 ms | p99 ms | max ms | CPU A | Redis | Postgres | Load-gen | Machine | Step |")
		fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	}
	for _, s := range t.steps {
		verdict := "pass"
		if !s.passed() {
			verdict = "fail"
		}
		fmt.Fprintf(w, "| %.0f | %d | %s | %.0f | ", s.offered, s.sent, s.sendTook.Round(10*time.Millisecond), s.deliveredPerSec)
		if t.twoInstances {
			fmt.Fprintf(w, "%d (%d, %d) | %s | %s | %s | %s | %s | %s | %s | ", s.lost, s.lostCross, s.lostOpen,
				loadenv.Millis(s.all.p50), loadenv.Millis(s.all.p99), loadenv.Millis(s.local.p99), loadenv.Millis(s.cross.p99), loadenv.Millis(s.all.max),
				cores(s.cpu.Servers[0]), cores(s.cpu.Servers[1]))
		} else {
			fmt.Fprintf(w, "%d (%d) | %s | %s | %s | %s | ", s.lost, s.lostOpen,
				loadenv.Millis(s.all.p50), loadenv.Millis(s.all.p99), loadenv.Millis(s.all.max), cores(s.cpu.Servers[0]))
		}
		fmt.Fprintf(w, "%s | %s | %s | %s | %s |\n", cores(s.cpu.Redis), cores(s.cpu.Postgres), cores(s.cpu.Loadgen), cores(s.cpu.Machine), verdict)
	}
	fmt.Fprintln(w)
	if b := t.best(); b != nil {
		fmt.Fprintf(w, "Highest step with p99 < 50 ms and nothing lost: offered %.0f/s, **%.0f delivered frames/s** (target ≥ %d: %s).",
			b.offered, b.deliveredPerSec, t.target(), metIf(b.deliveredPerSec >= float64(t.target()), false))
	} else {
		fmt.Fprintf(w, "No step had p99 < 50 ms with nothing lost (target ≥ %d delivered frames/s: missed).", t.target())
	}
	if t.stopped != "" {
		fmt.Fprintf(w, " Stopped stepping: %s.", t.stopped)
	}
	if n := len(t.steps); n > 0 {
		writeHealth(w, t.steps[n-1].health)
		if e := t.steps[n-1].sendErrs; e > 0 {
			fmt.Fprintf(w, " %d sends failed in the last step.", e)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
}

// summaryRow is one row of the table.
type summaryRow struct {
	metric, measured, target string
	met                      bool
	// smaller names the size measured when it is below the target's,
	// where a figure does not compare.
	smaller string
}

// printSummary writes issue 14's table, with a row for each metric
// whose scenario ran.
func (r *report) printSummary(w io.Writer) {
	var rows []summaryRow
	sizeNote := func(have, want int, unit string) string {
		if have >= want {
			return ""
		}
		return fmt.Sprintf("measured at %s %s, the target is at %s", grouped(have), unit, grouped(want))
	}
	relay := func(t *throughputResult, metric string) {
		row := summaryRow{metric: metric, measured: "no passing step", target: "≥ " + grouped(t.target()) + " msgs/s"}
		if b := t.best(); b != nil {
			row.measured = grouped(int(math.Round(b.deliveredPerSec))) + " msgs/s"
			row.met = b.deliveredPerSec >= float64(t.target())
		}
		rows = append(rows, row)
	}
	if t := r.throughput1; t != nil {
		relay(t, "max relay, one instance, p99 < 50 ms")
	}
	if t := r.throughput; t != nil {
		relay(t, "max relay, device on instance A, app on B")
	}
	if l := r.latency; l != nil {
		note := sizeNote(l.pairs, targetLatencyPairs, "pairs")
		rows = append(rows,
			summaryRow{metric: "relay p99 at 1,000 msgs/s (1,000 device+app pairs)",
				measured: loadenv.Millis(l.step.all.p99) + " ms", target: "≤ " + loadenv.Millis(targetLatencyP99) + " ms, none lost",
				met: l.latencyMet(), smaller: note},
			summaryRow{metric: "server+Redis CPU per 1,000 relayed msgs at 1,000/s",
				measured: fmt.Sprintf("%.3f s", l.cpuPer1000()), target: fmt.Sprintf("≤ %.2f s", targetCPUPer1000),
				met: l.cpuPer1000Met(), smaller: note})
	}
	if c := r.connect; c != nil {
		rows = append(rows, summaryRow{metric: "connects/s, 1,000 devices + 1,000 apps (token auth)",
			measured: grouped(int(math.Round(c.bothPerSec()))), target: "≥ " + grouped(targetConnectsPerS),
			met: c.bothPerSec() >= targetConnectsPerS && c.devices.failed+c.apps.failed == 0, smaller: sizeNote(c.users, targetConnectUsers, "users")})
	}
	if i := r.idleApps; i != nil {
		rows = append(rows, summaryRow{metric: "idle RSS per app connection at 10,000",
			measured: fmt.Sprintf("%.1f KiB", i.kibPerConn()), target: fmt.Sprintf("≤ %.0f KiB", targetKiBPerApp),
			met: i.kibPerConn() <= targetKiBPerApp, smaller: sizeNote(i.conns(), targetIdleConns, "app connections")})
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "**Summary** (issue 14's targets):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Metric | Measured | Target | |")
	fmt.Fprintln(w, "|---|--:|--:|---|")
	for _, row := range rows {
		verdict := "missed"
		if row.met {
			verdict = "met"
		}
		if row.smaller != "" {
			verdict += " (" + row.smaller + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", row.metric, row.measured, row.target, verdict)
	}
	fmt.Fprintln(w)
}

// grouped formats n with a comma between groups of three digits, as the
// issue's table writes its targets.
func grouped(n int) string {
	if n < 0 {
		return "-" + grouped(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// coresList formats one CPU figure per server, A/B.
func coresList(cs []float64) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = cores(c)
	}
	return strings.Join(parts, "/")
}
