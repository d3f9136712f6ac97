package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// fixtures is the data the scenarios draw from: users[i] holds the device
// macs[i].
type fixtures struct {
	tokens []string // login tokens from registration
	macs   []string // 12 hex digits, as a device would send them
}

// setupParallel bounds concurrent registrations: each one hashes a password
// with argon2id, which is deliberately slow and memory-hungry.
const setupParallel = 4

// setup registers n users through the API and binds one device to each.
func setup(ctx context.Context, baseURL string, n int) (*fixtures, error) {
	f := &fixtures{tokens: make([]string, n), macs: make([]string, n)}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
	jobs := make(chan int)
	errs := make(chan error, setupParallel)
	var wg sync.WaitGroup
	for range setupParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := setupUser(ctx, client, baseURL, f, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case jobs <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return f, err
}

func setupUser(ctx context.Context, client *http.Client, baseURL string, f *fixtures, i int) error {
	var auth struct {
		Token string `json:"token"`
	}
	body := map[string]string{"username": fmt.Sprintf("bench_user_%05d", i), "password": "bench-password-1"}
	if err := postJSON(ctx, client, baseURL+"/api/user/register/", "", body, &auth); err != nil {
		return fmt.Errorf("register user %d: %w", i, err)
	}
	if auth.Token == "" {
		return fmt.Errorf("register user %d: no data.token in the response", i)
	}
	// 02:... is a locally administered address, never a real vendor's.
	mac := fmt.Sprintf("02%010x", i)
	if err := postJSON(ctx, client, baseURL+"/api/device/bind/", auth.Token, map[string]string{"mac_address": mac}, nil); err != nil {
		return fmt.Errorf("bind device of user %d: %w", i, err)
	}
	f.tokens[i], f.macs[i] = auth.Token, mac
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
		return fmt.Errorf("status %d: %s", res.StatusCode, raw)
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
