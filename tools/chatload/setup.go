package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"paradise/tools/internal/loadenv"
)

// setupUsers registers o.users users through the REST API of a set-up
// instance and returns their session tokens. The instance is stopped
// afterwards: password hashing (argon2id, bounded: a 503 is retried) makes its memory large, and the
// measured server must start fresh.
func setupUsers(ctx context.Context, e *loadenv.Env, o options) ([]string, error) {
	srv, err := e.StartServer(ctx, "setup", nil)
	defer e.Stop(srv)
	if err != nil {
		return nil, err
	}
	logf("registering %d users on a set-up instance (pid %d) with %d workers", o.users, srv.PID(), o.setupWorkers)
	transport := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: o.setupWorkers, MaxIdleConns: o.setupWorkers}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: 60 * time.Second, Transport: transport}

	tokens := make([]string, o.users)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range o.setupWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= o.users {
					return
				}
				var reg struct {
					Token string `json:"token"`
				}
				body := map[string]string{"username": fmt.Sprintf("chatload_%05d", i), "password": "chatload-password-1"}
				err := loadenv.PostJSON(ctx, client, srv.BaseURL()+"/api/user/register/", "", body, &reg)
				// Password hashing is bounded (PARADISE_PASSWORD_HASH_MEMORY):
				// a busy set-up instance answers 503; wait and retry.
				for try := 0; err != nil && strings.HasPrefix(err.Error(), "status 503") && try < 10; try++ {
					if !loadenv.Sleep(ctx, time.Second) {
						break
					}
					err = loadenv.PostJSON(ctx, client, srv.BaseURL()+"/api/user/register/", "", body, &reg)
				}
				if err == nil && reg.Token == "" {
					err = fmt.Errorf("no data.token in the response")
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("register user %d: %w", i, err); cancel() })
					return
				}
				tokens[i] = reg.Token
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return tokens, ctx.Err()
}
