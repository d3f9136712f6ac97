package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paradise/internal/apperr"
)

// gate is a fake hash function that counts the computations in progress
// and holds each until released.
type gate struct {
	running, peak atomic.Int32
	entered       chan struct{}
	release       chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (g *gate) run() {
	n := g.running.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	g.entered <- struct{}{}
	<-g.release
	g.running.Add(-1)
}

// TestHasherBoundsConcurrency fills a budget of three hashes with held
// computations, checks that a fourth waits and then gets the 503, and that
// the held ones complete once released.
func TestHasherBoundsConcurrency(t *testing.T) {
	const slots = 3
	tests := []struct {
		name string
		call func(h *Hasher, ctx context.Context) error
	}{
		{"Hash", func(h *Hasher, ctx context.Context) error { _, err := h.Hash(ctx, "pw"); return err }},
		{"Check", func(h *Hasher, ctx context.Context) error {
			return h.Check(ctx, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5", "pw")
		}},
		{"Check of a Django hash", func(h *Hasher, ctx context.Context) error { return h.Check(ctx, djangoHashForTest, "pw") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := newHasher(slots*argonMemory*gcFactor*1024, 50*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if h.Slots() != slots {
				t.Fatalf("Slots() = %d, want %d", h.Slots(), slots)
			}
			g := newGate()
			h.hash = func(string) (string, error) { g.run(); return "hashed", nil }
			h.check = func(string, string) error { g.run(); return nil }

			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, slots)
			for range slots {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- tc.call(h, ctx)
				}()
			}
			for range slots {
				<-g.entered
			}
			// The budget is full: one more waits for its 50ms and gives up.
			err = tc.call(h, ctx)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Status != 503 || ae.Code != apperr.CodeBusy || ae.RetryAfter <= 0 {
				t.Fatalf("call over the budget = %v, want a 503 with code %d and a Retry-After", err, apperr.CodeBusy)
			}
			if !errors.Is(err, ErrBusy) {
				t.Fatalf("call over the budget = %v, want ErrBusy as its cause", err)
			}
			if n := g.running.Load(); n != slots {
				t.Fatalf("%d computations running, want %d", n, slots)
			}
			close(g.release)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("admitted call: %v", err)
				}
			}
			if p := g.peak.Load(); p != slots {
				t.Fatalf("peak concurrency %d, want %d", p, slots)
			}
			// Released memory is usable again.
			g2 := newGate()
			close(g2.release)
			h.hash = func(string) (string, error) { g2.run(); return "hashed", nil }
			h.check = func(string, string) error { g2.run(); return nil }
			if err := tc.call(h, ctx); err != nil {
				t.Fatalf("call after release: %v", err)
			}
		})
	}
}

// TestHasherManyCallers runs many callers against a small budget and
// checks the peak never exceeds it; every caller either succeeds or gets
// the 503.
func TestHasherManyCallers(t *testing.T) {
	const slots, callers = 2, 40
	h, err := newHasher(slots*argonMemory*gcFactor*1024, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	g := newGate()
	close(g.release)
	g.entered = make(chan struct{}, callers)
	h.check = func(string, string) error {
		g.run()
		time.Sleep(time.Millisecond) // overlap the callers
		return nil
	}
	var wg sync.WaitGroup
	var busy, ok atomic.Int32
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := h.Check(context.Background(), djangoHashForTest, "pw"); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrBusy):
				busy.Add(1)
			default:
				t.Errorf("Check: %v", err)
			}
		}()
	}
	wg.Wait()
	if p := g.peak.Load(); p > slots || p < 1 {
		t.Fatalf("peak concurrency %d, want 1..%d", p, slots)
	}
	if ok.Load()+busy.Load() != callers || ok.Load() == 0 {
		t.Fatalf("ok %d + busy %d, want %d callers with at least one ok", ok.Load(), busy.Load(), callers)
	}
}

// TestHasherCallerGone checks that a caller whose context ends while it
// waits gets its context's error, not the 503.
func TestHasherCallerGone(t *testing.T) {
	h, err := newHasher(argonMemory*gcFactor*1024, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	g := newGate()
	h.hash = func(string) (string, error) { g.run(); return "hashed", nil }
	done := make(chan error, 1)
	go func() { _, err := h.Hash(context.Background(), "pw"); done <- err }()
	<-g.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) || errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with a cancelled context = %v, want context.Canceled", err)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatalf("first Hash: %v", err)
	}
}

func TestHasherBudget(t *testing.T) {
	tests := []struct {
		name   string
		budget int64
		slots  int // 0: NewHasher fails
	}{
		{"default 256 MiB", 256 << 20, 6},
		{"exactly one hash", argonMemory * gcFactor * 1024, 1},
		{"less than one hash", argonMemory*gcFactor*1024 - 1, 0},
		{"zero", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := newHasher(tc.budget, time.Second)
			if tc.slots == 0 {
				if err == nil {
					t.Fatalf("newHasher(%d) = %d slots, want an error", tc.budget, h.Slots())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Slots() != tc.slots {
				t.Fatalf("Slots() = %d, want %d", h.Slots(), tc.slots)
			}
		})
	}
}

func TestMemoryOf(t *testing.T) {
	tests := []struct {
		hash string
		want int64
	}{
		{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5", 19456},
		{"$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$a2V5", 65536},
		{"$argon2id$v=19$m=0,t=2,p=1$c2FsdA$a2V5", argonMemory},
		{"$argon2id$v=19$garbage$c2FsdA$a2V5", argonMemory},
		{djangoHashForTest, argonMemory},
		{"", argonMemory},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%.30s", tc.hash), func(t *testing.T) {
			if got := memoryOf(tc.hash); got != tc.want {
				t.Fatalf("memoryOf(%q) = %d, want %d", tc.hash, got, tc.want)
			}
		})
	}
}

// TestHasherRealHash runs the real argon2id through a Hasher once.
func TestHasherRealHash(t *testing.T) {
	h, err := newHasher(argonMemory*gcFactor*1024, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hash, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Check(ctx, hash, "correct horse"); err != nil {
		t.Fatalf("Check(right password) = %v", err)
	}
	if err := h.Check(ctx, hash, "wrong horse"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Check(wrong password) = %v, want ErrMismatch", err)
	}
}

const djangoHashForTest = "pbkdf2_sha256$1000$salt$YywoEuRtRgQQK6dhjp1tfS+BKPYma0oDJk0qBGC33LM="
