package main

import (
	"strings"
	"testing"
	"time"

	"paradise/tools/internal/loadenv"
)

func TestGrouped(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 45000: "45,000", 1234567: "1,234,567", -12000: "-12,000"} {
		if got := grouped(n); got != want {
			t.Errorf("grouped(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCPUPer1000(t *testing.T) {
	// 0.5 cores of server and 0.1 of Redis over 10 s is 6 CPU seconds;
	// for 10,000 frames that is 0.6 s per 1,000.
	l := &latencyResult{step: stepResult{received: 10000,
		cpu: loadenv.CPU{Window: 10 * time.Second, Servers: []float64{0.5}, Redis: 0.1}}}
	if got := l.cpuPer1000(); got < 0.5999 || got > 0.6001 {
		t.Errorf("cpuPer1000 = %v, want 0.6", got)
	}
	if l.cpuPer1000Met() {
		t.Error("0.6 s per 1,000 frames met the 0.08 s target")
	}
	if (&latencyResult{}).cpuPer1000Met() {
		t.Error("nothing relayed met the CPU target")
	}
}

func TestSummaryOnlyRowsThatRan(t *testing.T) {
	passing := stepResult{offered: 50000, deliveredPerSec: 49000, all: latencies{n: 1, p99: time.Millisecond}}
	r := &report{
		throughput1: &throughputResult{pairs: 1000, steps: []stepResult{passing}},
		connect: &connectResult{users: 200,
			devices: dialStats{opened: 200, took: 100 * time.Millisecond},
			apps:    dialStats{opened: 200, took: 100 * time.Millisecond}},
	}
	var b strings.Builder
	r.printSummary(&b)
	out := b.String()
	for _, want := range []string{
		"| max relay, one instance, p99 < 50 ms | 49,000 msgs/s | ≥ 45,000 msgs/s | met |",
		"| connects/s, 1,000 devices + 1,000 apps (token auth) | 2,000 | ≥ 12,000 | missed (measured at 200 users, the target is at 1,000) |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, absent := range []string{"instance A, app on B", "relay p99", "idle RSS"} {
		if strings.Contains(out, absent) {
			t.Errorf("summary has a row %q of a scenario that did not run:\n%s", absent, out)
		}
	}
	var none strings.Builder
	(&report{}).printSummary(&none)
	if none.Len() != 0 {
		t.Errorf("summary without scenarios = %q, want nothing", none.String())
	}
}
