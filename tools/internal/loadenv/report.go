package loadenv

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// RunLine is the first line of a report: when it ran and on what
// machine, since figures from different machines are not comparable.
// It has no trailing newline.
func RunLine(at time.Time) string {
	return fmt.Sprintf("Run %s: %s, %d CPUs (%s), %s RAM, load average at end %s.",
		at.UTC().Format("2006-01-02 15:04 UTC"), runtime.Version(), runtime.NumCPU(),
		cpuModel(), memTotal(), loadAvg())
}

// Millis formats d in milliseconds with two decimals, as report tables do.
func Millis(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
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
