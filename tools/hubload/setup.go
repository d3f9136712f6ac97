package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"paradise/tools/internal/loadenv"
)

// user is one registered user with one bound device.
type user struct {
	appToken    string // from registration: an app session
	deviceToken string // from MAC login: a device session
	mac         string // 12 hex digits, as a device would send it
}

// setupUsers registers o.users() users through the REST API of a set-up
// instance, binds a device to each and logs it in by MAC. The instance is
// stopped afterwards: password hashing makes it big, and the scenarios
// want a fresh process.
func setupUsers(ctx context.Context, e *loadenv.Env, o options) ([]user, error) {
	n := o.users()
	// Not profiled: a scenario without a profiler.
	srv, err := scenario{e: e, o: o}.startServer(ctx, "setup", nil)
	defer e.Stop(srv)
	if err != nil {
		return nil, err
	}
	logf("setting up %d users (register, bind, MAC login) with %d workers", n, o.setupWorkers)
	transport := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: o.setupWorkers, MaxIdleConns: o.setupWorkers}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: 60 * time.Second, Transport: transport}

	users := make([]user, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next, done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range o.setupWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := setupUser(ctx, client, srv.BaseURL(), &users[i], i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				if d := done.Add(1); d%1000 == 0 {
					logf("  %d/%d users", d, n)
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return users, nil
}

func setupUser(ctx context.Context, client *http.Client, baseURL string, u *user, i int) error {
	appToken, mac, err := loadenv.RegisterWithDevice(ctx, client, baseURL, i, fmt.Sprintf("hubload_%06d", i), "hubload-password-1")
	if err != nil {
		return err
	}
	var login struct {
		Token string `json:"token"`
	}
	if err := loadenv.PostJSON(ctx, client, baseURL+"/api/user/mac-login/", "", map[string]string{"mac_address": mac}, &login); err != nil {
		return fmt.Errorf("MAC login of user %d's device: %w", i, err)
	}
	if login.Token == "" {
		return fmt.Errorf("MAC login of user %d's device: no data.token in the response", i)
	}
	*u = user{appToken: appToken, deviceToken: login.Token, mac: mac}
	return nil
}
