package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
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
func setupUsers(ctx context.Context, e *env, o options) ([]user, error) {
	n := o.users()
	srv, err := e.startServer(ctx, "setup", nil)
	defer stopServers(srv)
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
				if err := setupUser(ctx, client, srv.baseURL(), &users[i], i); err != nil {
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
	var reg struct {
		Token string `json:"token"`
	}
	body := map[string]string{"username": fmt.Sprintf("hubload_%06d", i), "password": "hubload-password-1"}
	if err := postJSON(ctx, client, baseURL+"/api/user/register/", "", body, &reg); err != nil {
		return fmt.Errorf("register user %d: %w", i, err)
	}
	if reg.Token == "" {
		return fmt.Errorf("register user %d: no data.token in the response", i)
	}
	// 02:... is a locally administered address, never a real vendor's.
	mac := fmt.Sprintf("02%010x", i)
	if err := postJSON(ctx, client, baseURL+"/api/device/bind/", reg.Token, map[string]string{"mac_address": mac}, nil); err != nil {
		return fmt.Errorf("bind device of user %d: %w", i, err)
	}
	var login struct {
		Token string `json:"token"`
	}
	if err := postJSON(ctx, client, baseURL+"/api/user/mac-login/", "", map[string]string{"mac_address": mac}, &login); err != nil {
		return fmt.Errorf("MAC login of user %d's device: %w", i, err)
	}
	if login.Token == "" {
		return fmt.Errorf("MAC login of user %d's device: no data.token in the response", i)
	}
	*u = user{appToken: reg.Token, deviceToken: login.Token, mac: mac}
	return nil
}

// postJSON posts body and decodes the envelope's data into data (when not
// nil). A non-2xx status is an error carrying the response body.
func postJSON(ctx context.Context, client *http.Client, url, token string, body, data any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("status %d: %s", res.StatusCode, bytes.TrimSpace(raw))
	}
	if data == nil {
		return nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("decode envelope: %w", err)
	}
	return json.Unmarshal(env.Data, data)
}
