package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"paradise/tools/internal/loadenv"
)

// report collects the scenarios' results and prints them as Markdown.
type report struct {
	opts       options
	started    time.Time
	setupUsers int
	setupTime  time.Duration
	idle       *idleResult
	latency    *latencyResult
	throughput *throughputResult
}

func (r *report) print(w io.Writer) {
	o := r.opts
	fmt.Fprintln(w, loadenv.RunLine(r.started))
	fmt.Fprintf(w, "`%s`\n\n", commandLine())
	fmt.Fprintf(w, "Set-up: %d users registered, each with a bound device and a MAC login, in %s (%d REST workers).\n\n",
		r.setupUsers, r.setupTime.Round(100*time.Millisecond), o.setupWorkers)

	if i := r.idle; i != nil {
		fmt.Fprintf(w, "**Idle connections** — %d users × (device + app) on one instance, %s after the last connected frame:\n\n", i.users, o.settle)
		fmt.Fprintln(w, "| Connections | Server RSS before | after | Δ RSS | KiB / connection | Target | Connect time | Threads | RSS 3 s after closing all |")
		fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		fmt.Fprintf(w, "| %d | %s | %s | %s | %.1f | ≤ 20 (%s) | %s | %d → %d | %s |\n",
			i.conns(), mib(i.before.RSSKiB), mib(i.settled.RSSKiB), mib(i.settled.RSSKiB-i.before.RSSKiB),
			i.kibPerConn(), metIf(i.kibPerConn() <= 20 && i.conns() >= 10000, i.kibPerConn() <= 20),
			i.dial.took.Round(100*time.Millisecond), i.before.Threads, i.settled.Threads, mib(i.closed.RSSKiB))
		fmt.Fprintln(w)
		fmt.Fprintf(w, "While connecting (%s): server %s cores, load generator %s, Postgres %s, Redis %s, machine %s. "+
			"While idle: server %s cores.",
			i.connectCPU.Window.Round(100*time.Millisecond), cores(i.connectCPU.Servers[0]), cores(i.connectCPU.Loadgen),
			cores(i.connectCPU.Postgres), cores(i.connectCPU.Redis), cores(i.connectCPU.Machine), cores(i.idleCPU.Servers[0]))
		if i.conns() < 10000 {
			fmt.Fprint(w, " The target is for 10,000 connections; with fewer, the server's fixed overhead weighs more per connection.")
		}
		if i.dial.failed > 0 {
			fmt.Fprintf(w, " %d connections failed (first: %s).", i.dial.failed, i.dial.firstErr)
		}
		writeHealth(w, i.health)
		fmt.Fprintln(w)
		fmt.Fprintln(w)
	}

	if l := r.latency; l != nil {
		s := l.step
		fmt.Fprintf(w, "**Relay latency** — %d pairs on one instance, each device sending 1 chat frame/s (spread evenly) to its app for %s:\n\n", l.pairs, s.duration)
		fmt.Fprintln(w, "| Sent | Received | Lost | Dup/reordered | p50 ms | p90 ms | p99 ms | max ms | Target p99 < 2 ms, none lost |")
		fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		fmt.Fprintf(w, "| %d | %d | %d | %d | %s | %s | %s | %s | %s |\n",
			s.sent, s.received, s.lost, s.dupOrOld, loadenv.Millis(s.all.p50), loadenv.Millis(s.all.p90), loadenv.Millis(s.all.p99), loadenv.Millis(s.all.max),
			metIf(s.all.p99 < 2*time.Millisecond && s.lost == 0 && s.all.n > 0, false))
		fmt.Fprintln(w)
		fmt.Fprintf(w, "CPU while sending: server %s cores, load generator %s, Postgres %s, Redis %s, machine %s.",
			cores(s.cpu.Servers[0]), cores(s.cpu.Loadgen), cores(s.cpu.Postgres), cores(s.cpu.Redis), cores(s.cpu.Machine))
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

	if t := r.throughput; t != nil {
		fmt.Fprintf(w, "**Throughput** — %d pairs on instances A and B sharing Redis: every device on A; "+
			"the apps of %d pairs (even-numbered) on B, so their frames cross instances through Redis pub/sub; "+
			"the apps of the other %d pairs on A, delivered locally. Each step sends for %s; "+
			"`PARADISE_WS_RATE` = `PARADISE_WS_BURST` = %d.\n\n",
			t.pairs, t.crossPairs, t.pairs-t.crossPairs, o.stepDuration, t.wsRate)
		fmt.Fprintln(w, "| Offered /s | Sent | Send took | Delivered /s | Lost (cross, open) | p50 ms | p99 ms | p99 local | p99 cross | max ms | CPU A | CPU B | Redis | Postgres | Load-gen | Machine | Step |")
		fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
		for _, s := range t.steps {
			verdict := "pass"
			if !s.passed() {
				verdict = "fail"
			}
			fmt.Fprintf(w, "| %.0f | %d | %s | %.0f | %d (%d, %d) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				s.offered, s.sent, s.sendTook.Round(10*time.Millisecond), s.deliveredPerSec, s.lost, s.lostCross, s.lostOpen,
				loadenv.Millis(s.all.p50), loadenv.Millis(s.all.p99), loadenv.Millis(s.local.p99), loadenv.Millis(s.cross.p99), loadenv.Millis(s.all.max),
				cores(s.cpu.Servers[0]), cores(s.cpu.Servers[1]), cores(s.cpu.Redis), cores(s.cpu.Postgres),
				cores(s.cpu.Loadgen), cores(s.cpu.Machine), verdict)
		}
		fmt.Fprintln(w)
		if b := t.best(); b != nil {
			fmt.Fprintf(w, "Highest step with p99 < 50 ms and nothing lost: offered %.0f/s, **%.0f delivered frames/s** (target ≥ 30,000: %s).",
				b.offered, b.deliveredPerSec, metIf(b.deliveredPerSec >= 30000, false))
		} else {
			fmt.Fprint(w, "No step had p99 < 50 ms with nothing lost (target ≥ 30,000 delivered frames/s: missed).")
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
