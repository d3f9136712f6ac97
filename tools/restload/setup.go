package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"paradise/tools/internal/loadenv"
)

// fixtures is the data the scenarios draw from: users[i] holds the device
// macs[i].
type fixtures struct {
	tokens       []string // login tokens from registration
	macs         []string // 12 hex digits, as a device would send them
	deviceTokens []string // the devices' tokens from MAC login
}

// setupParallel bounds concurrent registrations: each one hashes a password
// with argon2id, which is deliberately slow and memory-hungry.
const setupParallel = 4

// setup registers n users through the API and binds one device to each.
func setup(ctx context.Context, baseURL string, n int) (*fixtures, error) {
	f := &fixtures{tokens: make([]string, n), macs: make([]string, n), deviceTokens: make([]string, n)}
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
	token, mac, err := loadenv.RegisterWithDevice(ctx, client, baseURL, i, fmt.Sprintf("bench_user_%05d", i), "bench-password-1")
	if err != nil {
		return err
	}
	var login struct {
		Token string `json:"token"`
	}
	if err := loadenv.PostJSON(ctx, client, baseURL+"/api/user/mac-login/", "", map[string]string{"mac_address": mac}, &login); err != nil {
		return fmt.Errorf("mac login: %w", err)
	}
	f.tokens[i], f.macs[i], f.deviceTokens[i] = token, mac, login.Token
	return nil
}
