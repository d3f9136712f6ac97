package main

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"paradise/tools/internal/loadenv"
)

// Targets of the issue (docs/benchmarks.md).
const (
	targetAddedP99 = 20 * time.Millisecond
	targetKiBTurn  = 256
)

// report is what a run measured.
type report struct {
	o         options
	setupTime time.Duration
	idle      memSample
	live      *memSample // collected at the window's start
	samples   []memSample
	cpu       loadenv.CPU // over the window
	results   []result
	// The fake's counters: streaming ASR connections and error frames.
	streams, refused int64
}

func (r *report) lost() int {
	n := 0
	for _, x := range r.results {
		if x.lost != "" {
			n++
		}
	}
	return n
}

func metOr(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func perTurnKiB(loaded, idle, active int64) float64 {
	if active <= 0 {
		return 0
	}
	return float64(loaded-idle) / float64(active)
}

func (r *report) print(w io.Writer) {
	o := r.o
	fmt.Fprintln(w, loadenv.RunLine(time.Now()))
	fmt.Fprintf(w, "`go run ./tools/voiceload -turns %d -seconds %g -frame %s -vendor-delay %s -warmup %s -duration %s`: "+
		"%d devices (one user each) running hub voice turns back to back, %g s of 16 kHz PCM per turn in %s frames at the pace of speech; "+
		"fake Volcengine (streaming ASR, streaming TTS) answering after %s; development LLM provider without pacing.\n\n",
		o.turns, o.seconds, o.frame, o.vendorDelay, o.warmup, o.duration, o.turns, o.seconds, o.frame, o.vendorDelay)
	fmt.Fprintf(w, "Set-up: %d users with a device each in %s.\n\n", o.turns, r.setupTime.Round(100*time.Millisecond))

	fakes := 2 * o.vendorDelay // the final ASR answer and the first sentence's TTS
	var raw, added, toSTT, toTTSStart, toAudio []time.Duration
	measured, partials := 0, 0
	firstLost := ""
	for _, x := range r.results {
		if x.lost != "" && firstLost == "" {
			firstLost = x.lost
		}
		if !x.measured || x.lost != "" {
			continue
		}
		measured++
		partials += x.partials
		raw = append(raw, x.latency)
		added = append(added, x.latency-fakes)
		if x.toSTT > 0 {
			toSTT, toTTSStart, toAudio = append(toSTT, x.toSTT), append(toTTSStart, x.toTTSStart), append(toAudio, x.toAudio)
		}
	}
	lost := r.lost()
	fmt.Fprintln(w, "**Turns**")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Turns | In the window (complete) | Lost | Partial stt per measured turn | Vendor streams | Vendor error frames | Target: none lost |")
	fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|")
	perTurn := 0.0
	if measured > 0 {
		perTurn = float64(partials) / float64(measured)
	}
	fmt.Fprintf(w, "| %d | %d | %d | %.1f | %d | %d | %s |\n\n", len(r.results), measured, lost, perTurn, r.streams, r.refused, metOr(lost == 0))
	if firstLost != "" {
		fmt.Fprintf(w, "First lost turn: `%s`.\n\n", firstLost)
	}

	fmt.Fprintln(w, "**End of speech to the first reply audio frame** (ms; added = measured minus the fakes' 2 x vendor delay)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| | p50 | p99 | max | Target: added p99 < 20 ms |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
	fmt.Fprintf(w, "| measured | %s | %s | %s | |\n", loadenv.Millis(percentile(raw, 50)), loadenv.Millis(percentile(raw, 99)), loadenv.Millis(percentile(raw, 100)))
	fmt.Fprintf(w, "| added by Paradise | %s | %s | %s | %s |\n\n", loadenv.Millis(percentile(added, 50)), loadenv.Millis(percentile(added, 99)),
		loadenv.Millis(percentile(added, 100)), metOr(len(added) > 0 && percentile(added, 99) < targetAddedP99))
	fmt.Fprintln(w, "Its parts, as the device saw them (each percentile on its own, so they do not add up):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| part | p50 | p99 | max |")
	fmt.Fprintln(w, "|---|--:|--:|--:|")
	for _, p := range []struct {
		name string
		d    []time.Duration
	}{
		{"`voice_end` sent → final `stt` (includes the fake ASR's delay)", toSTT},
		{"final `stt` → `tts_start` (profile, chat: budget, history, the model's first sentence)", toTTSStart},
		{"`tts_start` → first audio frame (includes the fake TTS's delay)", toAudio},
	} {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", p.name, loadenv.Millis(percentile(p.d, 50)), loadenv.Millis(percentile(p.d, 99)), loadenv.Millis(percentile(p.d, 100)))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "**Server memory per active turn** (over the idle server)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Reading | Active turns | RSS KiB/turn | Go heap in use KiB/turn | Target: < 256 KiB/turn |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
	if r.live != nil {
		rss := perTurnKiB(r.live.rssKiB, r.idle.rssKiB, r.live.active)
		heap := perTurnKiB(r.live.heapInuse/1024, r.idle.heapInuse/1024, r.live.active)
		fmt.Fprintf(w, "| after a forced GC, window start | %d | %.1f | %.1f | %s (live heap) |\n", r.live.active, rss, heap, metOr(heap < targetKiBTurn))
	}
	if n := len(r.samples); n > 0 {
		var rss, heap, active float64
		for _, s := range r.samples {
			rss += perTurnKiB(s.rssKiB, r.idle.rssKiB, s.active)
			heap += perTurnKiB(s.heapInuse/1024, r.idle.heapInuse/1024, s.active)
			active += float64(s.active)
		}
		fmt.Fprintf(w, "| mean of %d readings in the window | %.0f | %.1f | %.1f | |\n", n, active/float64(n), rss/float64(n), heap/float64(n))
	}
	fmt.Fprintf(w, "\nIdle server (every device connected, no turn): RSS %d KiB, Go heap in use %d KiB. "+
		"RSS rarely shrinks in a Go process, so at small scales its per-turn figure is noise; the live heap is the figure to read.\n",
		r.idle.rssKiB, r.idle.heapInuse/1024)
	if c := r.cpu; len(c.Servers) > 0 {
		fmt.Fprintf(w, "\nCPU over the window (%s), in cores (the machine has %d): server %.2f, load tool (devices and fake vendor) %.2f, "+
			"Postgres %.2f, Redis %.2f, machine %.2f.\n", c.Window.Round(100*time.Millisecond), runtime.NumCPU(), c.Servers[0], c.Loadgen, c.Postgres, c.Redis, c.Machine)
	}
}
