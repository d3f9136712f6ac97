package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/pprof/profile"

	"paradise/tools/internal/loadenv"
)

// profileChunk is how long each of the back-to-back CPU profiles lasts
// that cpuProfiler merges. The server's pprof endpoint profiles for a
// fixed time and a scenario's length is not known in advance (connecting
// and stepping take as long as they take), so the profile is taken in
// short pieces; the last piece runs at most this long past the scenario's
// end, and an idle server adds no samples.
const profileChunk = time.Second

// cpuProfiler takes one server's CPU profile from start to finish (pprof
// on its PARADISE_DEBUG_ADDR) and writes it to path.
type cpuProfiler struct {
	path   string
	server string // the profiled server's name; "" until start

	stopc    chan struct{}
	done     chan struct{} // closed when collect has returned
	chunks   []*profile.Profile
	finished bool
	err      error // valid after finish
}

// start begins profiling the server named server, whose debug listener is
// debugURL.
func (p *cpuProfiler) start(ctx context.Context, server, debugURL string) {
	p.server = server
	p.stopc = make(chan struct{})
	p.done = make(chan struct{})
	go p.collect(ctx, debugURL)
}

// collect takes profiles of profileChunk back to back until stopc is
// closed, finishing the one under way.
func (p *cpuProfiler) collect(ctx context.Context, debugURL string) {
	defer close(p.done)
	dir, err := os.MkdirTemp("", "hubload-profile-")
	if err != nil {
		p.err = err
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "chunk.pprof")
	query := fmt.Sprintf("profile?seconds=%d", int(profileChunk/time.Second))
	for {
		select {
		case <-p.stopc:
			return
		default:
		}
		if err := loadenv.SaveProfile(ctx, debugURL, query, profileChunk+30*time.Second, path); err != nil {
			p.err = err
			return
		}
		chunk, err := parseProfile(path)
		if err != nil {
			p.err = err
			return
		}
		p.chunks = append(p.chunks, chunk)
	}
}

func parseProfile(path string) (*profile.Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return profile.Parse(f)
}

// finish stops profiling, merges the pieces and writes the profile; it
// sets p.err on failure. A nil profiler does nothing, and only the first
// call counts (a scenario with two servers stops both).
func (p *cpuProfiler) finish() {
	if p == nil || p.finished {
		return
	}
	p.finished = true
	if p.stopc == nil {
		p.err = errors.New("-cpuprofile: the scenario started no server to profile")
		return
	}
	close(p.stopc)
	<-p.done
	if p.err != nil {
		p.err = fmt.Errorf("-cpuprofile: %w", p.err)
		return
	}
	if len(p.chunks) == 0 {
		p.err = errors.New("-cpuprofile: the scenario ended before the first profile did")
		return
	}
	merged, err := profile.Merge(p.chunks)
	if err != nil {
		p.err = fmt.Errorf("-cpuprofile: merge: %w", err)
		return
	}
	f, err := os.Create(p.path)
	if err != nil {
		p.err = fmt.Errorf("-cpuprofile: %w", err)
		return
	}
	if err := merged.Write(f); err != nil {
		f.Close()
		p.err = fmt.Errorf("-cpuprofile: %w", err)
		return
	}
	if err := f.Close(); err != nil {
		p.err = fmt.Errorf("-cpuprofile: %w", err)
	}
}
