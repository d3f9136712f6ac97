package main

import (
	"context"
	"fmt"
	"net/http"

	"paradise/tools/internal/loadenv"
)

// setupDevices registers o.turns users through the REST API of a set-up
// instance, binds a device to each and logs it in by MAC; it returns the
// devices' session tokens.
func setupDevices(ctx context.Context, e *loadenv.Env, o options) ([]string, error) {
	logf("registering %d users with a device each on a set-up instance, %d workers", o.turns, o.setupWorkers)
	return e.SetUp(ctx, o.turns, o.setupWorkers, setupDevice)
}

func setupDevice(ctx context.Context, client *http.Client, baseURL string, i int) (string, error) {
	username := fmt.Sprintf("voiceload_%05d", i)
	var mac string
	err := loadenv.RetryBusy(ctx, func() error {
		var err error
		_, mac, err = loadenv.RegisterWithDevice(ctx, client, baseURL, i, username, "voiceload-password-1")
		return err
	})
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
