// Command hashload measures the memory Paradise takes while it is flooded
// with wrong-password logins, each of which costs an argon2id check
// (19 MiB). It is a manual measurement for docs/benchmarks.md, not part of
// CI or `make test`:
//
//	go run ./tools/hashload [-concurrency 100] [-duration 15s] [-hash-memory 256MiB] [-bin path]
//
// It builds ./cmd/paradise (or takes -bin, e.g. a build of an older
// commit), creates a scratch Postgres database and Redis key prefix as
// tools/restload does, starts `paradise serve`, registers one user, and
// then runs -concurrency workers that each post a wrong password to
// /api/user/login/ in a closed loop. It samples the server's RSS every
// 20ms and prints the idle RSS, the highest sample, the kernel's peak
// (VmHWM) and the answers by status.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"paradise/tools/internal/loadenv"
)

var config = loadenv.Config{
	Tool:        "hashload",
	DBPrefix:    "paradise_hashload_",
	KeyPrefix:   "hashload:",
	StopTimeout: 20 * time.Second,
}

type options struct {
	concurrency int
	duration    time.Duration
	hashMemory  string
	loadenv.Options
}

func main() {
	var o options
	flag.IntVar(&o.concurrency, "concurrency", 100, "concurrent workers sending wrong-password logins")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "how long the flood lasts")
	flag.StringVar(&o.hashMemory, "hash-memory", "", "PARADISE_PASSWORD_HASH_MEMORY for the server (empty: its default)")
	o.AddFlags(flag.CommandLine, "the server under test")
	flag.Parse()
	if o.concurrency < 1 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "hashload: -concurrency must be at least 1 and -duration positive")
		os.Exit(2)
	}
	if err := o.CheckLoopback(); err != nil {
		fmt.Fprintln(os.Stderr, "hashload:", err)
		os.Exit(2)
	}
	loadenv.Run("hashload", func(ctx context.Context) error { return run(ctx, o) })
}

func run(ctx context.Context, o options) error {
	env, err := loadenv.Start(ctx, config, o.Options)
	defer env.Close(o.Keep)
	if err != nil {
		return err
	}
	var extra []string
	if o.hashMemory != "" {
		extra = append(extra, "PARADISE_PASSWORD_HASH_MEMORY="+o.hashMemory)
	}
	srv, err := env.StartServer(ctx, "", extra)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: o.concurrency * 2}}
	if err := loadenv.PostJSON(ctx, client, srv.BaseURL()+"/api/user/register/", "",
		map[string]string{"username": "hashload", "password": "right-password"}, nil); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	time.Sleep(time.Second) // let the registration's garbage settle
	idle, err := srv.Sample()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "hashload: server pid %d, idle RSS %d MiB; %d workers for %s\n",
		srv.PID(), idle.RSSKiB>>10, o.concurrency, o.duration)

	loadCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var (
		mu         sync.Mutex
		byStatus   = map[int]int{}
		retryAfter int // 503s that carried Retry-After
		failures   int
		firstErr   error
	)
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for loadCtx.Err() == nil {
				status, ra, err := wrongLogin(loadCtx, client, srv.BaseURL())
				mu.Lock()
				switch {
				case err != nil && loadCtx.Err() == nil:
					failures++
					if firstErr == nil {
						firstErr = err
					}
				case err == nil:
					byStatus[status]++
					if status == http.StatusServiceUnavailable && ra != "" {
						retryAfter++
					}
				}
				mu.Unlock()
			}
		})
	}
	var peakSample int64
	tick := time.NewTicker(20 * time.Millisecond)
	for loadCtx.Err() == nil {
		if s, err := srv.Sample(); err == nil && s.RSSKiB > peakSample {
			peakSample = s.RSSKiB
		}
		<-tick.C
	}
	tick.Stop()
	wg.Wait()
	hwm, err := vmHWM(srv.PID())
	if err != nil {
		return err
	}

	fmt.Printf("| Server | Workers | Duration | Idle RSS | Peak RSS (sampled) | Peak RSS (VmHWM) | 400 | 503 (with Retry-After) | Other | Transport errors |\n")
	fmt.Printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	other := 0
	for status, n := range byStatus {
		if status != 400 && status != 503 {
			other += n
		}
	}
	label := "this build"
	if o.Bin != "" {
		label = o.Bin
	}
	if o.hashMemory != "" {
		label += ", PARADISE_PASSWORD_HASH_MEMORY=" + o.hashMemory
	}
	fmt.Printf("| %s | %d | %s | %d MiB | %d MiB | %d MiB | %d | %d (%d) | %d | %d |\n",
		label, o.concurrency, o.duration, idle.RSSKiB>>10, peakSample>>10, hwm>>10,
		byStatus[400], byStatus[503], retryAfter, other, failures)
	if firstErr != nil {
		return fmt.Errorf("%d transport errors, first: %w", failures, firstErr)
	}
	return nil
}

// wrongLogin posts a wrong password and returns the status and the
// Retry-After header.
func wrongLogin(ctx context.Context, client *http.Client, base string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/user/login/",
		strings.NewReader(`{"username":"hashload","password":"wrong-password"}`))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return 0, "", err
	}
	return res.StatusCode, res.Header.Get("Retry-After"), nil
}

// vmHWM is the process's peak resident set size in KiB, as the kernel
// tracked it.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
}
