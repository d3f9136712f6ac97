package main

import (
	"time"

	"paradise/tools/internal/loadenv"
)

// cpuDelta is the CPU used between two usage readings, in cores (CPU
// seconds per second of wall time).
type cpuDelta struct {
	window                            time.Duration
	servers                           []float64
	loadgen, postgres, redis, machine float64
}

func delta(before, after loadenv.Usage) cpuDelta {
	w := after.At.Sub(before.At)
	c := func(d time.Duration) float64 {
		if w <= 0 {
			return 0
		}
		return d.Seconds() / w.Seconds()
	}
	d := cpuDelta{window: w, loadgen: c(after.Loadgen - before.Loadgen),
		postgres: c(after.Postgres - before.Postgres), redis: c(after.Redis - before.Redis),
		machine: c(after.Machine - before.Machine)}
	for i := range after.Servers {
		if i < len(before.Servers) {
			d.servers = append(d.servers, c(after.Servers[i].CPU-before.Servers[i].CPU))
		}
	}
	return d
}
