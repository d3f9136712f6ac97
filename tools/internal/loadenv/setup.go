package loadenv

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SetUp runs one(i) for every i in [0, n) on workers goroutines against a
// set-up instance of the server, and returns what each call returned (a
// session token, say). The instance is stopped afterwards: password
// hashing makes its memory large, and the measured server must start
// fresh. The first error stops the rest.
func (e *Env) SetUp(ctx context.Context, n, workers int, one func(ctx context.Context, c *http.Client, baseURL string, i int) (string, error)) ([]string, error) {
	srv, err := e.StartServer(ctx, "setup", nil)
	defer e.Stop(srv)
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: workers, MaxIdleConns: workers}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: 60 * time.Second, Transport: transport}

	out := make([]string, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				v, err := one(ctx, client, srv.BaseURL(), i)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				out[i] = v
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, ctx.Err()
}

// RetryBusy calls fn until it does not fail with a 503 (password hashing
// is bounded, PARADISE_PASSWORD_HASH_MEMORY: a busy set-up instance
// answers 503), waiting a second between tries, at most ten times.
func RetryBusy(ctx context.Context, fn func() error) error {
	err := fn()
	for try := 0; err != nil && strings.Contains(err.Error(), "status 503") && try < 10; try++ {
		if !Sleep(ctx, time.Second) {
			break
		}
		err = fn()
	}
	return err
}
