package main

import (
	"strings"
	"testing"
	"time"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestSummarize(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(float64(100 - i)) // 100 ms .. 1 ms, unsorted
	}
	tests := []struct {
		name string
		in   []time.Duration
		want summary
	}{
		{"empty", nil, summary{}},
		{"one", []time.Duration{ms(3)}, summary{1, ms(3), ms(3), ms(3), ms(3)}},
		{"two", []time.Duration{ms(2), ms(1)}, summary{2, ms(1), ms(2), ms(2), ms(2)}},
		{"hundred", hundred, summary{100, ms(50), ms(90), ms(99), ms(100)}},
		{"nearest rank of 1000", func() []time.Duration {
			d := make([]time.Duration, 1000)
			for i := range d {
				d[i] = time.Duration(i + 1)
			}
			return d
		}(), summary{1000, 500, 900, 990, 1000}},
		{"negative values sort first", []time.Duration{ms(1), -ms(1), 0}, summary{3, 0, ms(1), ms(1), ms(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.in); got != tt.want {
				t.Errorf("summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []int64
		want int64
	}{
		{nil, 0},
		{[]int64{5}, 5},
		{[]int64{9, 1}, 1},
		{[]int64{3, 1, 2}, 2},
		{[]int64{4, 1, 3, 2}, 2},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestPromGauges(t *testing.T) {
	const exposition = `# HELP go_memstats_heap_inuse_bytes Number of heap bytes that are in use.
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.2345e+07
go_goroutines 2042
go_memstats_heap_inuse_bytes_total 7
http_requests_total{route="/x"} 3
go_memstats_heap_alloc_bytes 9.5e+06 1700000000000
go_gc_duration_seconds{quantile="0.5"} 0.001
bad_value abc
`
	tests := []struct {
		name  string
		names []string
		want  map[string]float64
	}{
		{"gauges", []string{"go_memstats_heap_inuse_bytes", "go_goroutines"},
			map[string]float64{"go_memstats_heap_inuse_bytes": 12345000, "go_goroutines": 2042}},
		{"with timestamp", []string{"go_memstats_heap_alloc_bytes"}, map[string]float64{"go_memstats_heap_alloc_bytes": 9.5e6}},
		{"labelled and missing are absent", []string{"http_requests_total", "nope", "bad_value"}, map[string]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := promGauges(strings.NewReader(exposition), tt.names...)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}
