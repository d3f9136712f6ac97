package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// printReport writes the results as Markdown, ready for docs/benchmarks.md.
func printReport(w io.Writer, o options, results []result) {
	fmt.Fprintf(w, "Run %s: %s, %d CPUs (%s), %s RAM, load average at end %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.Version(), runtime.NumCPU(),
		cpuModel(), memTotal(), loadAvg())
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
			ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Req/s counts 2xx responses; any other status or a transport error is an error. "+
		"Latency is of 2xx responses, from the load generator's side.")
	fmt.Fprintln(w)

	fmt.Fprintln(w, "| Scenario | Server CPU | Postgres CPU | Redis CPU | Load-gen CPU | Machine CPU | CPU ms/req (server) | Server RSS |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range results {
		a, b := r.after, r.before
		server := a.server.cpu - b.server.cpu
		perReq := 0.0
		if n := r.requests - r.errors; n > 0 {
			perReq = server.Seconds() * 1000 / float64(n)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %.3f | %.0f → %.0f MiB |\n",
			r.scenario.label, cores(server, r.window), cores(a.postgres-b.postgres, r.window),
			cores(a.redis-b.redis, r.window), cores(a.loadgen-b.loadgen, r.window),
			cores(a.machine-b.machine, r.window), perReq,
			float64(b.server.rssKiB)/1024, float64(a.server.rssKiB)/1024)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "CPU is in cores: CPU time used during the measured window divided by its length (the machine has %d). "+
		"Postgres is the server's pool backends; Redis is the whole Redis server; "+
		"Machine is every process (from /proc/stat), so Machine minus the others is whatever else was running. "+
		"Server RSS is VmRSS at the start and end of the window.\n", runtime.NumCPU())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func cores(d, window time.Duration) string {
	return fmt.Sprintf("%.2f", d.Seconds()/window.Seconds())
}

func cpuModel() string {
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		return v
	}
	return "unknown CPU"
}

func memTotal() string {
	var kib int64
	if _, err := fmt.Sscanf(procField("/proc/meminfo", "MemTotal"), "%d kB", &kib); err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// procField returns the value of the first "name: value" line of a /proc
// file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
