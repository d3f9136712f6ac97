package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"

	"paradise/internal/apperr"
	"paradise/internal/config"
)

// hashWait is how long a hash waits for memory before the caller gets a
// 503: long enough to ride out a burst, short enough that a client is not
// left hanging while the service is flooded.
const hashWait = 2 * time.Second

// busyRetryAfter is the Retry-After of that 503.
const busyRetryAfter = time.Second

// gcFactor is how many times its memory parameter a hash costs the
// process. argon2 allocates a fresh buffer per call, and with GOGC=100 the
// garbage collector lets freed buffers pile up to the size of the live heap
// before it collects, so a process running n hashes at once grows to about
// twice n hashes' memory (measured: docs/benchmarks.md).
const gcFactor = 2

// ErrBusy is the cause of the 503 a Hasher answers when no memory frees up
// within its wait.
var ErrBusy = errors.New("auth: password hashing memory budget exhausted")

// Hasher runs password hashes and checks within a memory budget. Each
// argon2id computation allocates its full memory parameter (19 MiB for our
// hashes), and logins and registrations are unauthenticated, so without a
// bound a burst of wrong logins takes the process to gigabytes. A Hasher
// admits computations while their memory (times gcFactor) fits the budget;
// the rest wait up to hashWait and then fail with a 503 (apperr.CodeBusy,
// Retry-After).
type Hasher struct {
	budget int64 // KiB
	sem    *semaphore.Weighted
	wait   time.Duration
	// hash and check do the work; tests swap them to observe concurrency.
	hash  func(password string) (string, error)
	check func(hash, password string) error
}

// NewHasher returns a Hasher with the configured memory budget
// (PARADISE_PASSWORD_HASH_MEMORY).
func NewHasher(cfg config.Passwords) (*Hasher, error) {
	return newHasher(cfg.HashMemory, hashWait)
}

func newHasher(budgetBytes int64, wait time.Duration) (*Hasher, error) {
	budget := budgetBytes / 1024
	if budget < argonMemory*gcFactor {
		return nil, fmt.Errorf("auth: PARADISE_PASSWORD_HASH_MEMORY is %d bytes, less than one password hash needs (%d KiB)",
			budgetBytes, argonMemory*gcFactor)
	}
	return &Hasher{
		budget: budget,
		sem:    semaphore.NewWeighted(budget),
		wait:   wait,
		hash:   HashPassword,
		check:  CheckPassword,
	}, nil
}

// Slots is how many hashes with our parameters may run at once.
func (h *Hasher) Slots() int { return int(h.budget / (argonMemory * gcFactor)) }

// Hash is HashPassword within the memory budget.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	release, err := h.acquire(ctx, argonMemory*gcFactor)
	if err != nil {
		return "", err
	}
	defer release()
	return h.hash(password)
}

// Check is CheckPassword within the memory budget. A stored hash is
// charged the memory its own parameters ask for.
func (h *Hasher) Check(ctx context.Context, hash, password string) error {
	release, err := h.acquire(ctx, memoryOf(hash)*gcFactor)
	if err != nil {
		return err
	}
	defer release()
	return h.check(hash, password)
}

// acquire waits up to h.wait for kib of the budget. A computation larger
// than the whole budget (a stored hash with bigger parameters) runs alone
// rather than never.
func (h *Hasher) acquire(ctx context.Context, kib int64) (release func(), err error) {
	kib = min(kib, h.budget)
	wctx, cancel := context.WithTimeout(ctx, h.wait)
	defer cancel()
	if err := h.sem.Acquire(wctx, kib); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("auth: waiting to hash a password: %w", ctx.Err())
		}
		busy := apperr.Unavailable("Too many logins at once, retry later.", busyRetryAfter)
		busy.Err = ErrBusy
		return nil, busy
	}
	return func() { h.sem.Release(kib) }, nil
}

// memoryOf is the memory, in KiB, checking hash takes. Django's
// pbkdf2_sha256 hashes need next to none but are as slow as ours, and the
// login that checks one rehashes right after, so they are charged as one
// of ours; so are malformed hashes, which CheckPassword rejects anyway.
func memoryOf(hash string) int64 {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return argonMemory
	}
	var memory, passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil || memory == 0 {
		return argonMemory
	}
	return int64(memory)
}
