package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"paradise/tools/internal/loadenv"
)

// memSample is one reading of the server's memory.
type memSample struct {
	rssKiB     int64
	heapInuse  int64 // go_memstats_heap_inuse_bytes
	heapAlloc  int64 // go_memstats_heap_alloc_bytes (live and not yet collected objects)
	goroutines int64
	stackInuse int64 // go_memstats_stack_inuse_bytes: goroutine stacks, outside the heap
	threads    int
	inflight   int64 // the client's streams in flight at the reading
	upstream   int64 // the fake's streams in flight at the reading
}

// memSampler reads the server's RSS from /proc and its Go heap from its
// metrics endpoint (the Go collector's go_memstats_*).
type memSampler struct {
	srv        *loadenv.Server
	metricsURL string
	debugURL   string // the server's pprof listener, to force a collection
	once       sync.Once
	c          *http.Client
}

func (m *memSampler) client() *http.Client {
	m.once.Do(func() {
		m.c = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	})
	return m.c
}

// collect makes the server run a full garbage collection (pprof's heap
// profile with gc=1 does), so that the heap in use read next is the live
// heap.
func (m *memSampler) collect() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.debugURL+"/debug/pprof/heap?gc=1", nil)
	res, err := m.client().Do(req)
	if err != nil {
		return fmt.Errorf("force GC: %w", err)
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return err
}

// readCollected is read just after a forced collection.
func (m *memSampler) readCollected(inflight func() int64) (memSample, error) {
	if err := m.collect(); err != nil {
		return memSample{}, err
	}
	return m.read(inflight())
}

func (m *memSampler) read(inflight int64) (memSample, error) {
	ps, err := m.srv.Sample()
	if err != nil {
		return memSample{}, err
	}
	s := memSample{rssKiB: ps.RSSKiB, threads: ps.Threads, inflight: inflight}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.metricsURL, nil)
	res, err := m.client().Do(req)
	if err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	defer res.Body.Close()
	g, err := promGauges(res.Body, "go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_goroutines", "go_memstats_stack_inuse_bytes")
	if err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	s.heapInuse = int64(g["go_memstats_heap_inuse_bytes"])
	s.heapAlloc = int64(g["go_memstats_heap_alloc_bytes"])
	s.goroutines = int64(g["go_goroutines"])
	s.stackInuse = int64(g["go_memstats_stack_inuse_bytes"])
	return s, nil
}
