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
// party on the machine, and of the server's RSS.
type usage struct {
	server   procSample    // the server under test
	loadgen  time.Duration // this process
	postgres time.Duration // the server's Postgres backends
	redis    time.Duration // the Redis server
	machine  time.Duration // all processes: the above plus anything else
}

// sampleUsage reads the current usage. It takes a few milliseconds (one
// Postgres and one Redis query), which is noise next to a run of seconds.
func sampleUsage(ctx context.Context, e *env) (usage, error) {
	var u usage
	var err error
	u.loadgen = selfCPU()
	if u.server, err = sampleProc(e.server.Process.Pid); err != nil {
		return u, fmt.Errorf("sample server process: %w", err)
	}
	if u.postgres, u.redis, err = backendCPU(ctx, e); err != nil {
		return u, err
	}
	if u.machine, err = machineCPU(); err != nil {
		return u, err
	}
	return u, nil
}

// procSample is a point-in-time reading of a process's resource use.
type procSample struct {
	cpu    time.Duration // user + system CPU time so far
	rssKiB int64         // resident set size (VmRSS)
}

// sampleProc reads the CPU time and RSS of the process pid from /proc.
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
	rss, err := vmRSS(pid)
	if err != nil {
		return procSample{}, err
	}
	return procSample{cpu: time.Duration(utime+stime) * time.Second / userHZ, rssKiB: rss}, nil
}

func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			// "VmRSS:	   12345 kB"
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
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
// summed, from the first line of /proc/stat. Busy minus the server's
// and the load generator's share is what Postgres, Redis and anything else
// running used.
func machineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
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

// backendCPU returns the CPU time used so far by the Postgres backends
// connected to database dbName (the server's pool; they live as long as
// the pool keeps them open) and by the Redis server (all of it: other
// clients of the same Redis count too).
func backendCPU(ctx context.Context, e *env) (pg, rds time.Duration, err error) {
	rows, err := e.admin.QueryContext(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1", e.dbName)
	if err != nil {
		return 0, 0, fmt.Errorf("list postgres backends: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return 0, 0, err
		}
		// A backend that exits between the query and the read is skipped.
		if s, err := sampleProc(pid); err == nil {
			pg += s.cpu
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	info, err := e.rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, 0, fmt.Errorf("redis INFO cpu: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			sec, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("redis INFO cpu: %s: %w", k, err)
			}
			rds += time.Duration(sec * float64(time.Second))
		}
	}
	return pg, rds, nil
}
