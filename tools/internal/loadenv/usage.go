package loadenv

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat. The kernel
// exports them in USER_HZ, which is 100 on every Linux architecture Go
// supports (sysconf(_SC_CLK_TCK) would need cgo to ask).
const userHZ = 100

// Usage is a point-in-time reading of the CPU time used so far by each
// party on the machine, and of the servers' RSS. Subtract two readings to
// get what a window used.
type Usage struct {
	At       time.Time
	Servers  []ProcSample  // in the order of the servers sampled
	Loadgen  time.Duration // this process
	Postgres time.Duration // the scratch database's Postgres backends
	Redis    time.Duration // the Redis server (all of it)
	Machine  time.Duration // all processes: the above plus anything else
}

// SampleUsage reads the current usage of the servers and the rest. It
// takes a few milliseconds (one Postgres and one Redis query), which is
// noise next to a window of seconds.
func (e *Env) SampleUsage(ctx context.Context, servers ...*Server) (Usage, error) {
	u := Usage{At: time.Now(), Loadgen: selfCPU()}
	for _, s := range servers {
		ps, err := s.Sample()
		if err != nil {
			return u, fmt.Errorf("sample %s: %w", s.label(), err)
		}
		u.Servers = append(u.Servers, ps)
	}
	var err error
	if u.Postgres, err = e.postgresCPU(ctx); err != nil {
		return u, err
	}
	if u.Redis, err = e.redisCPU(ctx); err != nil {
		return u, err
	}
	if u.Machine, err = machineCPU(); err != nil {
		return u, err
	}
	return u, nil
}

// ProcSample is a point-in-time reading of a process's resource use.
type ProcSample struct {
	CPU     time.Duration // user + system CPU time so far
	RSSKiB  int64         // resident set size (VmRSS)
	Threads int
}

// Sample reads the server process's CPU time, RSS and thread count.
func (s *Server) Sample() (ProcSample, error) { return sampleProc(s.PID()) }

// sampleProc reads the CPU time, RSS and thread count of the process pid
// from /proc.
func sampleProc(pid int) (ProcSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, err
	}
	// The command name (field 2) is in parentheses and may contain spaces,
	// so split after its closing parenthesis: utime and stime are fields 14
	// and 15 of the line, i.e. 12th and 13th after the name.
	s := string(stat)
	rest := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(rest) < 13 {
		return ProcSample{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(rest[11], 10, 64)
	stime, err2 := strconv.ParseInt(rest[12], 10, 64)
	if err1 != nil || err2 != nil {
		return ProcSample{}, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	ps := ProcSample{CPU: time.Duration(utime+stime) * time.Second / userHZ}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			// "VmRSS:	   12345 kB"
			ps.RSSKiB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		} else if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			ps.Threads, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		return ps, err
	}
	if ps.RSSKiB == 0 {
		return ps, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return ps, nil
}

// selfCPU is the CPU time used so far by this process (the load
// generator), from getrusage, which is finer-grained than /proc ticks.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU returns the busy CPU time of the whole machine, all cores
// summed, from the first line of /proc/stat. Busy minus the parties
// measured on their own is what anything else running used.
func machineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	// user nice system idle iowait irq softirq steal [guest guest_nice];
	// guest time is already counted in user, so stop at steal.
	var ticks [8]int64
	for i := range ticks {
		var err error
		if ticks[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	var sum int64
	for _, t := range ticks {
		sum += t
	}
	idle := ticks[3] + ticks[4] // idle + iowait
	return time.Duration(sum-idle) * time.Second / userHZ, nil
}

// postgresCPU returns the CPU time used so far by the Postgres backends
// connected to the scratch database (the servers' pools; they live as long
// as the pools keep them open).
func (e *Env) postgresCPU(ctx context.Context) (time.Duration, error) {
	rows, err := e.admin.QueryContext(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1", e.dbName)
	if err != nil {
		return 0, fmt.Errorf("list postgres backends: %w", err)
	}
	defer rows.Close()
	var pg time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return 0, err
		}
		// A backend that exits between the query and the read is skipped.
		if s, err := sampleProc(pid); err == nil {
			pg += s.CPU
		}
	}
	return pg, rows.Err()
}

// redisCPU returns the CPU time used so far by the Redis server (all of
// it: other clients of the same Redis count too).
func (e *Env) redisCPU(ctx context.Context) (time.Duration, error) {
	info, err := e.rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO cpu: %w", err)
	}
	var total time.Duration
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			sec, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("redis INFO cpu: %s: %w", k, err)
			}
			total += time.Duration(sec * float64(time.Second))
		}
	}
	return total, nil
}

// Percentile returns the nearest-rank p-quantile (0 < p <= 1) of sorted,
// or 0 when it is empty.
func Percentile[T ~int64](sorted []T, p float64) T {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Sleep sleeps for d and reports false if ctx ended first.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// CPU is the CPU used between two usage readings, in cores (CPU seconds
// per second of wall time).
type CPU struct {
	Window                            time.Duration
	Servers                           []float64 // in the order of the servers sampled
	Loadgen, Postgres, Redis, Machine float64
}

// CPUBetween is the CPU used from before to after.
func CPUBetween(before, after Usage) CPU {
	w := after.At.Sub(before.At)
	c := func(d time.Duration) float64 {
		if w <= 0 {
			return 0
		}
		return d.Seconds() / w.Seconds()
	}
	d := CPU{Window: w, Loadgen: c(after.Loadgen - before.Loadgen),
		Postgres: c(after.Postgres - before.Postgres), Redis: c(after.Redis - before.Redis),
		Machine: c(after.Machine - before.Machine)}
	for i := range after.Servers {
		if i < len(before.Servers) {
			d.Servers = append(d.Servers, c(after.Servers[i].CPU-before.Servers[i].CPU))
		}
	}
	return d
}
