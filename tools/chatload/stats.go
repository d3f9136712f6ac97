package main

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"paradise/tools/internal/loadenv"
)

// summary is the distribution of one latency over the measured streams.
type summary struct {
	n                  int
	p50, p90, p99, max time.Duration
}

// summarize sorts ds in place and returns their nearest-rank percentiles.
func summarize(ds []time.Duration) summary {
	slices.Sort(ds)
	s := summary{n: len(ds)}
	if len(ds) == 0 {
		return s
	}
	s.p50 = loadenv.Percentile(ds, 0.50)
	s.p90 = loadenv.Percentile(ds, 0.90)
	s.p99 = loadenv.Percentile(ds, 0.99)
	s.max = ds[len(ds)-1]
	return s
}

// median returns the median (the lower one of an even count) of xs,
// sorting a copy; 0 when empty.
func median(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// promGauges reads the named unlabelled samples from a Prometheus text
// exposition (the /metrics endpoint); names not found are absent from the
// result.
func promGauges(r io.Reader, names ...string) (map[string]float64, error) {
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		// "value" or "value timestamp"
		v, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		out[name] = f
	}
	return out, sc.Err()
}
