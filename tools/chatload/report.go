package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"paradise/tools/internal/loadenv"
)

// Targets on the 2-core machine (docs/benchmarks.md).
const (
	targetAddedP99  = 5 * time.Millisecond
	targetKiBStream = 64
)

// report is what a run measured.
type report struct {
	o         options
	setupTime time.Duration
	idle      memSample
	live      *memSample // collected with the streams in flight, end of the warm-up; nil if the warm-up was too short
	after     *memSample // idle again after the load; nil if not read
	samples   []memSample
	cpu       loadenv.CPU
	results   []result

	unmatched, rejected, cut int64 // the fake's counters
}

// lost is the streams that did not end with done and the full reply.
func (r *report) lost() int {
	n := 0
	for _, x := range r.results {
		if x.outcome != outcomeOK {
			n++
		}
	}
	return n
}

// latencies are the per-stream durations of the measured streams.
type latencies struct {
	paradise, fake, added, before, relay, whole []time.Duration
}

func (r *report) latencies() latencies {
	var l latencies
	for _, x := range r.results {
		if !x.measured || x.outcome != outcomeOK || x.upstreamCount != 1 || x.upstreamRecv == 0 || x.upstreamFirst == 0 || x.firstDelta == 0 {
			continue
		}
		paradise := time.Duration(x.firstDelta - x.sent)
		fake := time.Duration(x.upstreamFirst - x.upstreamRecv)
		l.paradise = append(l.paradise, paradise)
		l.fake = append(l.fake, fake)
		l.added = append(l.added, paradise-fake)
		l.before = append(l.before, time.Duration(x.upstreamRecv-x.sent))
		l.relay = append(l.relay, time.Duration(x.firstDelta-x.upstreamFirst))
		l.whole = append(l.whole, time.Duration(x.end-x.sent))
	}
	return l
}

// memPerStream is the growth of a memory figure over the idle server,
// per stream in flight, in KiB.
func memPerStream(loadedKiB, idleKiB, inflight int64) float64 {
	if inflight <= 0 {
		return 0
	}
	return float64(loadedKiB-idleKiB) / float64(inflight)
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func metOr(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func (r *report) print(w io.Writer) {
	o := r.o
	fmt.Fprintln(w, loadenv.RunLine(time.Now()))
	relayFlag := ""
	if o.relay {
		relayFlag = " -relay"
	}
	fmt.Fprintf(w, "`go run ./tools/chatload%s -streams %d -users %d -tokens %d -token-delay %s -warmup %s -duration %s`: "+
		"%d closed-loop streamed chats (`POST /api/ai/chat/`, `\"stream\": true`), %d users with up to %d streams each, "+
		"each worker continuing its own conversation; the fake provider streams %d tokens, %s apart.\n\n",
		relayFlag, o.streams, o.users, o.tokens, o.tokenDelay, o.warmup, o.duration,
		o.streams, o.users, o.streamsPerUser(), o.tokens, o.tokenDelay)
	if o.relay {
		fmt.Fprintln(w, "**Server: the floor** (`-relay`), not Paradise: `tools/chatload/relay`, a bare net/http handler that calls the fake "+
			"with Paradise's provider client and relays the same events, with no authentication, database, Redis, history or budgets. "+
			"\"Paradise\" below means this relay.")
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "Set-up: %d users registered in %s (%d workers, on a separate instance).\n\n", o.users, r.setupTime.Round(100*time.Millisecond), o.setupWorkers)
	}

	// Streams.
	var counts [numOutcomes]int
	measured, retried := 0, 0
	firstFail := map[outcome]string{}
	for _, x := range r.results {
		counts[x.outcome]++
		if x.measured {
			measured++
		}
		if x.upstreamCount > 1 {
			retried++
		}
		if x.outcome != outcomeOK && firstFail[x.outcome] == "" {
			firstFail[x.outcome] = x.detail
		}
	}
	lost := r.lost()
	fmt.Fprintln(w, "**Streams**")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Sent | In the window | Complete | Lost | non-200 | transport | error event | no done | wrong reply | upstream requests > 1 | Target: none lost |")
	fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	fmt.Fprintf(w, "| %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %s |\n\n",
		len(r.results), measured, counts[outcomeOK], lost, counts[outcomeStatus], counts[outcomeTransport],
		counts[outcomeError], counts[outcomeNoDone], counts[outcomeText], retried, metOr(lost == 0))
	fmt.Fprintln(w, "Complete = the stream ended with `done`, finish reason `stop`, not truncated, "+
		"`completion_tokens` as sent, and the deltas joined are exactly the fake's reply; every other stream is lost "+
		"(warm-up and window alike).")
	for oc := outcome(1); oc < numOutcomes; oc++ {
		if d := firstFail[oc]; d != "" {
			fmt.Fprintf(w, " First %s: `%s`.", outcomeNames[oc], strings.ReplaceAll(truncate(d, 200), "`", "'"))
		}
	}
	if r.unmatched > 0 || r.rejected > 0 || r.cut > 0 {
		fmt.Fprintf(w, " The fake saw %d requests naming no stream, refused %d, and had %d streams cut by the server.", r.unmatched, r.rejected, r.cut)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)

	// TTFT.
	l := r.latencies()
	added := summarize(l.added)
	fmt.Fprintf(w, "**Time to first token** — the %d complete streams sent in the %s window:\n\n", len(l.added), o.duration)
	fmt.Fprintln(w, "| | p50 ms | p90 ms | p99 ms | max ms |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
	row := func(label string, s summary) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", label, loadenv.Millis(s.p50), loadenv.Millis(s.p90), loadenv.Millis(s.p99), loadenv.Millis(s.max))
	}
	row("Paradise TTFT: request sent → first `delta` parsed (client)", summarize(l.paradise))
	row("Fake's TTFT: request received → first token written (fake)", summarize(l.fake))
	row("**Added TTFT** = Paradise's − the fake's", added)
	row("… of which before upstream: request sent → fake received it", summarize(l.before))
	row("… of which relay: fake wrote the first token → client parsed its `delta`", summarize(l.relay))
	row("Whole stream: request sent → `done` parsed", summarize(l.whole))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "All instants are on one monotonic clock in the load tool's process, which runs both the client and the fake provider. "+
		"Per stream, added TTFT = (client's first delta − client's send) − (fake's first-token write − fake's receipt) "+
		"= (fake's receipt − client's send) + (client's first delta − fake's first-token write): "+
		"authentication, budgets and history before Paradise calls the provider (the user's message is stored meanwhile), "+
		"plus reading, parsing and re-sending the first token, including the client's own read. "+
		"Percentiles are nearest-rank over every stream, each part on its own (they do not add up per percentile).")
	fmt.Fprintln(w)

	// Memory.
	var rss, heap, stack, inflight, upstream, gor []int64
	var peak memSample
	for _, s := range r.samples {
		rss = append(rss, s.rssKiB)
		heap = append(heap, s.heapInuse/1024)
		stack = append(stack, s.stackInuse/1024)
		inflight = append(inflight, s.inflight)
		upstream = append(upstream, s.upstream)
		gor = append(gor, s.goroutines)
		if s.rssKiB > peak.rssKiB {
			peak = s
		}
	}
	mRSS, mHeap, mStack, mIn := median(rss), median(heap), median(stack), median(inflight)
	rssPer := memPerStream(mRSS, r.idle.rssKiB, mIn)
	peakPer := memPerStream(peak.rssKiB, r.idle.rssKiB, peak.inflight)
	heapPer := memPerStream(mHeap, r.idle.heapInuse/1024, mIn)
	stackPer := memPerStream(mStack, r.idle.stackInuse/1024, mIn)
	livePer := 0.0
	opt := func(s *memSample, f func(memSample) string) string {
		if s == nil {
			return "–"
		}
		return f(*s)
	}
	if r.live != nil {
		livePer = memPerStream(r.live.heapInuse/1024, r.idle.heapInuse/1024, r.live.inflight)
	}
	rssOf := func(s memSample) string { return mib(s.rssKiB) }
	heapOf := func(s memSample) string { return mib(s.heapInuse / 1024) }
	gorOf := func(s memSample) string { return fmt.Sprint(s.goroutines) }
	stackOf := func(s memSample) string { return mib(s.stackInuse / 1024) }
	inOf := func(s memSample) string { return fmt.Sprintf("%d / %d", s.inflight, s.upstream) }
	fmt.Fprintf(w, "**Server memory** — %d readings during the window (one every %s) against the idle server; "+
		"\"collected\" readings follow a forced garbage collection (pprof `heap?gc=1` on `PARADISE_DEBUG_ADDR`):\n\n", len(r.samples), o.sample)
	fmt.Fprintln(w, "| | Idle before, collected | End of warm-up, collected | Window median | Window peak-RSS reading | Idle after, collected |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	fmt.Fprintf(w, "| RSS | %s | %s | %s | %s | %s |\n", mib(r.idle.rssKiB), opt(r.live, rssOf), mib(mRSS), mib(peak.rssKiB), opt(r.after, rssOf))
	fmt.Fprintf(w, "| Go heap in use | %s | %s | %s | %s | %s |\n", heapOf(r.idle), opt(r.live, heapOf), mib(mHeap), heapOf(peak), opt(r.after, heapOf))
	fmt.Fprintf(w, "| Goroutine stacks | %s | %s | %s | %s | %s |\n", stackOf(r.idle), opt(r.live, stackOf), mib(mStack), stackOf(peak), opt(r.after, stackOf))
	fmt.Fprintf(w, "| Goroutines | %d | %s | %d | %d | %s |\n", r.idle.goroutines, opt(r.live, gorOf), median(gor), peak.goroutines, opt(r.after, gorOf))
	fmt.Fprintf(w, "| Streams in flight (client / fake) | 0 / 0 | %s | %d / %d | %s | %s |\n\n", opt(r.live, inOf), mIn, median(upstream), inOf(peak), opt(r.after, inOf))
	fmt.Fprintln(w, "| Per stream in flight = (loaded − idle before) / streams in flight | KiB |")
	fmt.Fprintln(w, "|---|--:|")
	fmt.Fprintf(w, "| RSS, window peak reading | %.1f |\n", peakPer)
	fmt.Fprintf(w, "| RSS, window median | %.1f |\n", rssPer)
	fmt.Fprintf(w, "| Go heap, live (collected at the end of the warm-up) | %s |\n", opt(r.live, func(memSample) string { return fmt.Sprintf("%.1f", livePer) }))
	fmt.Fprintf(w, "| Go heap in use, window median (live and garbage) | %.1f |\n", heapPer)
	fmt.Fprintf(w, "| Goroutine stacks, window median | %.1f |\n\n", stackPer)
	fmt.Fprintf(w, "RSS is VmRSS (`/proc/<pid>/status`); Go heap in use is `go_memstats_heap_inuse_bytes` and goroutine stacks `go_memstats_stack_inuse_bytes` from the server's metrics endpoint "+
		"(`PARADISE_METRICS_ADDR`). Server threads: %d idle, %d at the peak reading.\n\n", r.idle.threads, peak.threads)

	// CPU.
	c := r.cpu
	fmt.Fprintf(w, "CPU over the window (%s), in cores (the machine has %d): server %.2f, load tool (clients and fake provider) %.2f, "+
		"Postgres %.2f, Redis %.2f, machine %.2f (machine minus the others is whatever else was running).\n\n",
		c.Window.Round(100*time.Millisecond), runtime.NumCPU(), c.Servers[0], c.Loadgen, c.Postgres, c.Redis, c.Machine)

	// Targets.
	fmt.Fprintln(w, "| Target | Result |")
	fmt.Fprintln(w, "|---|---|")
	fmt.Fprintf(w, "| added TTFT p99 < %d ms at %d concurrent streams | **p99 %s ms** (p50 %s ms): %s |\n", targetAddedP99.Milliseconds(), o.streams,
		loadenv.Millis(added.p99), loadenv.Millis(added.p50), metOr(added.n > 0 && added.p99 < targetAddedP99))
	worst := max(rssPer, peakPer)
	fmt.Fprintf(w, "| < %d KiB server memory per stream in flight | **%.1f KiB RSS** (peak reading; %.1f at the median; live Go heap %.1f): %s |\n",
		targetKiBStream, peakPer, rssPer, livePer, metOr(len(r.samples) > 0 && worst < targetKiBStream))
	fmt.Fprintf(w, "| no stream lost | **%d lost** of %d: %s |\n", lost, len(r.results), metOr(lost == 0))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
