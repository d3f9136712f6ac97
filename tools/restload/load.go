package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"paradise/tools/internal/loadenv"
)

// scenario is one request shape to load the server with.
type scenario struct {
	name   string
	label  string // as printed in the report
	target float64
	// request builds the next request for a random fixture.
	request func(ctx context.Context, baseURL string, f *fixtures) (*http.Request, error)
}

var scenarios = []scenario{
	{
		name:   "profile",
		label:  "`GET /api/user/profile/`",
		target: 15000,
		request: func(ctx context.Context, baseURL string, f *fixtures) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/user/profile/", nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Token "+f.tokens[rand.IntN(len(f.tokens))])
			return req, nil
		},
	},
	{
		name:   "mac-login",
		label:  "`POST /api/user/mac-login/`",
		target: 5000,
		request: func(ctx context.Context, baseURL string, f *fixtures) (*http.Request, error) {
			body := []byte(`{"mac_address":"` + f.macs[rand.IntN(len(f.macs))] + `"}`)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/user/mac-login/", bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			return req, nil
		},
	},
	{
		// The device's own token (MAC login) and its MAC: after the
		// warm-up every token comes from the Redis cache.
		name:   "get-by-mac",
		label:  "`GET /api/device/rtc-token/get_by_mac/` (cached, device token)",
		target: 5000,
		request: func(ctx context.Context, baseURL string, f *fixtures) (*http.Request, error) {
			i := rand.IntN(len(f.macs))
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/device/rtc-token/get_by_mac/?mac_address="+f.macs[i], nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Token "+f.deviceTokens[i])
			return req, nil
		},
	},
}

func scenarioByName(name string) (scenario, bool) {
	for _, s := range scenarios {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

func scenarioNames() []string {
	var names []string
	for _, s := range scenarios {
		names = append(names, s.name)
	}
	return names
}

// result is what one scenario measured.
type result struct {
	scenario scenario
	window   time.Duration // length of the measured window
	requests int           // requests started in the window, errors included
	errors   int
	firstErr string

	p50, p90, p99, max time.Duration

	// Resource use over the window: after minus before, except RSS.
	before, after loadenv.Usage
}

func (r result) reqPerSec() float64 { return float64(r.requests-r.errors) / r.window.Seconds() }

// worker is one closed-loop client: it sends a request, waits for the whole
// response, and sends the next one.
type worker struct {
	latencies []time.Duration // of successful requests in the window
	requests  int
	errors    int
	firstErr  string
}

// maxPrealloc bounds the latency slots preallocated over all workers (64 MiB
// of time.Duration); a longer run grows the slices as it goes.
const maxPrealloc = 8 << 20

// runScenario runs sc for o.warmup + o.duration with o.concurrency workers
// and samples the CPU use of the server, its Postgres backends, Redis, the
// load generator and the machine (and the server's RSS) at the edges of the
// measured window.
func runScenario(ctx context.Context, e *loadenv.Env, srv *loadenv.Server, sc scenario, f *fixtures, o options) (result, error) {
	// One keep-alive connection per worker: without enough idle slots the
	// transport would close and re-dial connections, and we would measure
	// TCP handshakes. Proxy is nil so HTTP_PROXY cannot divert loopback
	// traffic.
	transport := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        o.concurrency * 2,
		MaxIdleConnsPerHost: o.concurrency * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	// Size the latency slices for a generous 100,000 req/s so that
	// recording never reallocates mid-run: copying a growing slice would
	// cost the load generator CPU and show up as latency spikes.
	perWorker := min(int(o.duration.Seconds()*100_000)/o.concurrency, maxPrealloc/o.concurrency) + 1

	start := time.Now()
	measureFrom := start.Add(o.warmup)
	until := measureFrom.Add(o.duration)

	workers := make([]*worker, o.concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{latencies: make([]time.Duration, 0, perWorker)}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, client, srv.BaseURL(), sc, f, measureFrom, until)
		}()
	}

	// Sample at the edges of the measured window, not of the warm-up.
	var before, after loadenv.Usage
	var sampleErr error
	if loadenv.Sleep(ctx, time.Until(measureFrom)) {
		before, sampleErr = e.SampleUsage(ctx, srv)
		if loadenv.Sleep(ctx, time.Until(until)) && sampleErr == nil {
			after, sampleErr = e.SampleUsage(ctx, srv)
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	if sampleErr != nil {
		return result{}, sampleErr
	}

	r := result{scenario: sc, window: o.duration, before: before, after: after}
	var all []time.Duration
	for _, w := range workers {
		r.requests += w.requests
		r.errors += w.errors
		if r.firstErr == "" {
			r.firstErr = w.firstErr
		}
		all = append(all, w.latencies...)
	}
	slices.Sort(all)
	r.p50, r.p90, r.p99 = loadenv.Percentile(all, 0.50), loadenv.Percentile(all, 0.90), loadenv.Percentile(all, 0.99)
	if len(all) > 0 {
		r.max = all[len(all)-1]
	}
	return r, nil
}

// run sends requests until the window ends. Requests started before
// measureFrom are warm-up and not recorded; the worker sends no request
// after until, so the run stops by itself (each request is bounded by the
// client timeout).
func (w *worker) run(ctx context.Context, client *http.Client, baseURL string, sc scenario, f *fixtures, measureFrom, until time.Time) {
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(until) {
			return
		}
		err := do(ctx, client, baseURL, sc, f)
		elapsed := time.Since(t0)
		if t0.Before(measureFrom) || ctx.Err() != nil {
			continue
		}
		w.requests++
		if err != nil {
			w.errors++
			if w.firstErr == "" {
				w.firstErr = err.Error()
			}
			continue
		}
		w.latencies = append(w.latencies, elapsed)
	}
}

// do sends one request and reads the whole response; any transport error
// or non-2xx status is an error.
func do(ctx context.Context, client *http.Client, baseURL string, sc scenario, f *fixtures) error {
	req, err := sc.request(ctx, baseURL, f)
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("status %d: %s", res.StatusCode, bytes.TrimSpace(body))
	}
	// Drain the body so the connection goes back to the pool.
	_, err = io.Copy(io.Discard, res.Body)
	return err
}
