package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"paradise/tools/internal/loadenv"
)

// memSample is one reading of the server's memory.
type memSample struct {
	rssKiB    int64
	heapInuse int64 // go_memstats_heap_inuse_bytes
	active    int64 // turns in progress at the reading
}

// memSampler reads the server's RSS from /proc and its Go heap from its
// metrics endpoint.
type memSampler struct {
	srv        *loadenv.Server
	metricsURL string
	debugURL   string // the server's pprof listener, to force a collection
}

var sampleClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}

// readCollected forces a full collection first (pprof's heap profile
// with gc=1), so the heap in use is the live heap.
func (m *memSampler) readCollected(active int64) (memSample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.debugURL+"/debug/pprof/heap?gc=1", nil)
	res, err := sampleClient.Do(req)
	if err != nil {
		return memSample{}, fmt.Errorf("force GC: %w", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return m.read(active)
}

func (m *memSampler) read(active int64) (memSample, error) {
	ps, err := m.srv.Sample()
	if err != nil {
		return memSample{}, err
	}
	s := memSample{rssKiB: ps.RSSKiB, active: active}
	res, err := sampleClient.Get(m.metricsURL)
	if err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if ok && name == "go_memstats_heap_inuse_bytes" {
			f, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
			s.heapInuse = int64(f)
		}
	}
	return s, sc.Err()
}

// percentile is the p-th percentile (nearest rank) of xs.
func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
