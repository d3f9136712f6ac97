package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"paradise/tools/internal/loadenv"
)

// user is one registered user with one bound device.
type user struct {
	username    string
	appToken    string // from registration
	deviceToken string // from MAC login
	mac         string
	deviceID    int64
}

const password = "chaos-password-1"

// setupUsers registers n users through inst, binds a device to each, logs
// the device in by MAC and looks up its id. Nothing here is recorded: the
// faults have not started.
func setupUsers(ctx context.Context, client *http.Client, inst *instance, n, workers int) ([]user, error) {
	users := make([]user, n)
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := setupUser(ctx, client, inst.baseURL(), i, &users[i]); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return users, ctx.Err()
}

func setupUser(ctx context.Context, client *http.Client, base string, i int, u *user) error {
	u.username = fmt.Sprintf("chaos_%04d", i)
	var err error
	if u.appToken, u.mac, err = loadenv.RegisterWithDevice(ctx, client, base, i, u.username, password); err != nil {
		return err
	}
	var login struct {
		Token string `json:"token"`
	}
	if err := loadenv.PostJSON(ctx, client, base+"/api/user/mac-login/", "", map[string]string{"mac_address": u.mac}, &login); err != nil {
		return fmt.Errorf("MAC login of user %d's device: %w", i, err)
	}
	u.deviceToken = login.Token
	var page struct {
		Results []struct {
			ID int64 `json:"id"`
		} `json:"results"`
	}
	rc := restClient{http: client}
	if _, err := rc.call(ctx, "setup", http.MethodGet, base+"/api/device/devices/", u.appToken, nil, &page); err != nil {
		return fmt.Errorf("list user %d's devices: %w", i, err)
	}
	if len(page.Results) != 1 {
		return fmt.Errorf("user %d has %d devices, want 1", i, len(page.Results))
	}
	u.deviceID = page.Results[0].ID
	return nil
}

// restClient makes the load's REST calls and records each answer (when
// rec is set).
type restClient struct {
	http *http.Client
	rec  *recorder
}

// call sends a JSON request (body nil: none) with the token (empty: none)
// and decodes the envelope's data into data (nil: ignored). It returns the
// status; any answer other than 2xx is an error.
func (rc restClient) call(ctx context.Context, op, method, url, token string, body, data any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	var at time.Duration
	if rc.rec != nil {
		at = rc.rec.now()
	}
	res, err := rc.http.Do(req)
	var raw []byte
	status := 0
	if err == nil {
		status = res.StatusCode
		raw, err = io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
	}
	if rc.rec != nil && ctx.Err() == nil {
		class := classifyHTTP(status, raw, err)
		e := httpEvent{at: at, op: op, class: class}
		if class == httpUnauthorized || class == http503Envelope || class == httpOther5xx {
			e.detail = fmt.Sprintf("%s %d %s", op, status, truncate(string(bytes.TrimSpace(raw)), 160))
		}
		rc.rec.http(e)
	}
	if err != nil {
		return status, err
	}
	if status < 200 || status > 299 {
		return status, fmt.Errorf("status %d: %s", status, truncate(string(raw), 200))
	}
	if data == nil {
		return status, nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return status, fmt.Errorf("decode envelope: %w", err)
	}
	return status, json.Unmarshal(env.Data, data)
}

// appLogin logs user u in again with its password (an app whose session
// was closed with 4001/4003/4004).
func appLogin(rc restClient, inst *instance, u user) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		var out struct {
			Token string `json:"token"`
		}
		_, err := rc.call(ctx, "login", http.MethodPost, inst.baseURL()+"/api/user/login/", "",
			map[string]string{"username": u.username, "password": password}, &out)
		return out.Token, err
	}
}

// macLogin logs user u's device in again by MAC.
func macLogin(rc restClient, inst *instance, u user) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		var out struct {
			Token string `json:"token"`
		}
		_, err := rc.call(ctx, "mac-login", http.MethodPost, inst.baseURL()+"/api/user/mac-login/", "",
			map[string]string{"mac_address": u.mac}, &out)
		return out.Token, err
	}
}

// push sends REST pushes (a command frame, POST
// /api/device/devices/{id}/messages/) to pair i's device every interval,
// alternating between the instances, until ctx ends. A push the server
// accepted while the device was online must reach the device.
func push(ctx context.Context, rc restClient, insts []*instance, u user, st *stream, every time.Duration) {
	if !loadenv.Sleep(ctx, time.Duration(u.deviceID%10)*every/10) {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		seq := st.next(rc.rec.now())
		inst := insts[seq%len(insts)]
		body := map[string]any{"type": "command", "message": map[string]any{"command_id": fmt.Sprintf("push-%d", seq), "name": "chaos"}}
		var out struct {
			Online bool `json:"online"`
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := rc.call(rctx, "push", http.MethodPost, fmt.Sprintf("%s/api/device/devices/%d/messages/", inst.baseURL(), u.deviceID), u.appToken, body, &out)
		cancel()
		if err != nil || !out.Online {
			st.failed(seq) // not accepted for an online device: nothing to deliver
		}
	}
}

// presenceResult compares each device's status in the REST API with
// whether its session is open.
type presenceResult struct {
	checked, wrong, unknown int
	examples                []string // the first few mismatches
}

// checkPresence reads every device's status through the instances in
// turn. A device whose session opened or closed during its request is
// skipped (in flux); a failed request counts as unknown.
func checkPresence(ctx context.Context, rc restClient, insts []*instance, users []user, devices []*endpoint) presenceResult {
	var r presenceResult
	for i, u := range users {
		before := devices[i].connected()
		var d struct {
			Status string `json:"status"`
		}
		inst := insts[i%len(insts)]
		_, err := rc.call(ctx, "presence", http.MethodGet, fmt.Sprintf("%s/api/device/devices/%d/", inst.baseURL(), u.deviceID), u.appToken, nil, &d)
		after := devices[i].connected()
		if before != after {
			continue
		}
		r.checked++
		if err != nil {
			r.unknown++
			continue
		}
		if (d.Status == "connected") != after {
			r.wrong++
			if len(r.examples) < 3 {
				r.examples = append(r.examples, fmt.Sprintf("device %d: status %s, session %s", i, d.Status, map[bool]string{true: "open", false: "closed"}[after]))
			}
		}
	}
	return r
}

func truncate(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return strings.ToValidUTF8(s, "")
}
