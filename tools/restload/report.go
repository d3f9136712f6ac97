package main

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"paradise/tools/internal/loadenv"
)

// printReport writes the results as Markdown, ready for docs/benchmarks.md.
func printReport(w io.Writer, o options, results []result) {
	fmt.Fprintln(w, loadenv.RunLine(time.Now()))
	fmt.Fprintf(w, "`go run ./tools/restload -users %d -concurrency %d -duration %s -warmup %s`: "+
		"closed loop, %d workers, keep-alive, %d users with one device each.\n\n",
		o.users, o.concurrency, o.duration, o.warmup, o.concurrency, o.users)

	fmt.Fprintln(w, "| Scenario | Req/s | Target | Requests | Errors | p50 ms | p90 ms | p99 ms | max ms |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range results {
		met := "met"
		if r.reqPerSec() < r.scenario.target {
			met = "missed"
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f (%s) | %d | %d | %s | %s | %s | %s |\n",
			r.scenario.label, r.reqPerSec(), r.scenario.target, met, r.requests, r.errors,
			loadenv.Millis(r.p50), loadenv.Millis(r.p90), loadenv.Millis(r.p99), loadenv.Millis(r.max))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Req/s counts 2xx responses; any other status or a transport error is an error. "+
		"Latency is of 2xx responses, from the load generator's side.")
	fmt.Fprintln(w)

	fmt.Fprintln(w, "| Scenario | Server CPU | Postgres CPU | Redis CPU | Load-gen CPU | Machine CPU | CPU ms/req (server) | Server RSS |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range results {
		a, b := r.after, r.before
		server := a.Servers[0].CPU - b.Servers[0].CPU
		perReq := 0.0
		if n := r.requests - r.errors; n > 0 {
			perReq = server.Seconds() * 1000 / float64(n)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %.3f | %.0f → %.0f MiB |\n",
			r.scenario.label, cores(server, r.window), cores(a.Postgres-b.Postgres, r.window),
			cores(a.Redis-b.Redis, r.window), cores(a.Loadgen-b.Loadgen, r.window),
			cores(a.Machine-b.Machine, r.window), perReq,
			float64(b.Servers[0].RSSKiB)/1024, float64(a.Servers[0].RSSKiB)/1024)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "CPU is in cores: CPU time used during the measured window divided by its length (the machine has %d). "+
		"Postgres is the server's pool backends; Redis is the whole Redis server; "+
		"Machine is every process (from /proc/stat), so Machine minus the others is whatever else was running. "+
		"Server RSS is VmRSS at the start and end of the window.\n", runtime.NumCPU())
}

func cores(d, window time.Duration) string {
	return fmt.Sprintf("%.2f", d.Seconds()/window.Seconds())
}
