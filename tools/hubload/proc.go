package main

import (
	"bufio"
	"context"
	"fmt"
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

// usage is a point-in-time reading of the CPU time used so far by each
// party on the machine, and of the servers' RSS.
type usage struct {
	at       time.Time
	servers  []procSample  // in the order of the servers sampled
	loadgen  time.Duration // this process
	postgres time.Duration // the scratch database's Postgres backends
	redis    time.Duration // the Redis server (all of it)
	machine  time.Duration // all processes: the above plus anything else
}

// sampleUsage reads the current usage of the servers and the rest. It
// takes a few milliseconds (one Postgres and one Redis query).
func sampleUsage(ctx context.Context, e *env, servers ...*server) (usage, error) {
	u := usage{at: time.Now(), loadgen: selfCPU()}
	for _, s := range servers {
		ps, err := sampleProc(s.pid())
		if err != nil {
			return u, fmt.Errorf("sample server %s: %w", s.name, err)
		}
		u.servers = append(u.servers, ps)
	}
	var err error
	if u.postgres, err = postgresCPU(ctx, e); err != nil {
		return u, err
	}
	if u.redis, err = redisCPU(ctx, e); err != nil {
		return u, err
	}
	if u.machine, err = machineCPU(); err != nil {
		return u, err
	}
	return u, nil
}

// cpuDelta is the CPU used between two usage readings, in cores (CPU
// seconds per second of wall time).
type cpuDelta struct {
	window                            time.Duration
	servers                           []float64
	loadgen, postgres, redis, machine float64
}

func delta(before, after usage) cpuDelta {
	w := after.at.Sub(before.at)
	c := func(d time.Duration) float64 {
		if w <= 0 {
			return 0
		}
		return d.Seconds() / w.Seconds()
	}
	d := cpuDelta{window: w, loadgen: c(after.loadgen - before.loadgen),
		postgres: c(after.postgres - before.postgres), redis: c(after.redis - before.redis),
		machine: c(after.machine - before.machine)}
	for i := range after.servers {
		if i < len(before.servers) {
			d.servers = append(d.servers, c(after.servers[i].cpu-before.servers[i].cpu))
		}
	}
	return d
}

// procSample is a point-in-time reading of a process's resource use.
type procSample struct {
	cpu     time.Duration // user + system CPU time so far
	rssKiB  int64         // resident set size (VmRSS)
	threads int
}

// sampleProc reads the CPU time, RSS and thread count of the process pid
// from /proc.
func sampleProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	// The command name (field 2) is in parentheses and may contain spaces,
	// so split after its closing parenthesis: utime and stime are fields 14
	// and 15 of the line, i.e. 12th and 13th after the name.
	s := string(stat)
	rest := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(rest) < 13 {
		return procSample{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(rest[11], 10, 64)
	stime, err2 := strconv.ParseInt(rest[12], 10, 64)
	if err1 != nil || err2 != nil {
		return procSample{}, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	ps := procSample{cpu: time.Duration(utime+stime) * time.Second / userHZ}
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
			ps.rssKiB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		} else if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			ps.threads, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		return ps, err
	}
	if ps.rssKiB == 0 {
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
// summed, from the first line of /proc/stat.
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
// connected to the scratch database (the servers' pools).
func postgresCPU(ctx context.Context, e *env) (time.Duration, error) {
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
			pg += s.cpu
		}
	}
	return pg, rows.Err()
}

// redisCPU returns the CPU time used so far by the Redis server (all of
// it: other clients of the same Redis count too).
func redisCPU(ctx context.Context, e *env) (time.Duration, error) {
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
