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

// setupDevices registers o.turns users through the REST API of a set-up
// instance, binds a device to each and logs it in by MAC; it returns the
// devices' session tokens. The instance is stopped afterwards: password
// hashing makes it big, and the measured server starts fresh.
func setupDevices(ctx context.Context, e *loadenv.Env, o options) ([]string, error) {
	srv, err := e.StartServer(ctx, "setup", nil)
	defer e.Stop(srv)
	if err != nil {
		return nil, err
	}
	logf("registering %d users with a device each on a set-up instance (pid %d), %d workers", o.turns, srv.PID(), o.setupWorkers)
	transport := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: o.setupWorkers, MaxIdleConns: o.setupWorkers}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: 60 * time.Second, Transport: transport}

	tokens := make([]string, o.turns)
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
				if i >= o.turns {
					return
				}
				tok, err := setupDevice(ctx, client, srv.BaseURL(), i)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				tokens[i] = tok
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return tokens, ctx.Err()
}

func setupDevice(ctx context.Context, client *http.Client, baseURL string, i int) (string, error) {
	username := fmt.Sprintf("voiceload_%05d", i)
	_, mac, err := loadenv.RegisterWithDevice(ctx, client, baseURL, i, username, "voiceload-password-1")
	// Password hashing is bounded: a busy set-up instance answers 503.
	for try := 0; err != nil && strings.Contains(err.Error(), "status 503") && try < 10; try++ {
		if !loadenv.Sleep(ctx, time.Second) {
			break
		}
		_, mac, err = loadenv.RegisterWithDevice(ctx, client, baseURL, i, username, "voiceload-password-1")
	}
	if err != nil {
		return "", err
	}
	var login struct {
		Token string `json:"token"`
	}
	if err := loadenv.PostJSON(ctx, client, baseURL+"/api/user/mac-login/", "", map[string]string{"mac_address": mac}, &login); err != nil {
		return "", fmt.Errorf("MAC login of device %d: %w", i, err)
	}
	if login.Token == "" {
		return "", fmt.Errorf("MAC login of device %d: no token", i)
	}
	return login.Token, nil
}
