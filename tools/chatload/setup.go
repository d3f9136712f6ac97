package main

import (
	"context"
	"fmt"
	"net/http"

	"paradise/tools/internal/loadenv"
)

// setupUsers registers o.users users through the REST API of a set-up
// instance and returns their session tokens.
func setupUsers(ctx context.Context, e *loadenv.Env, o options) ([]string, error) {
	logf("registering %d users on a set-up instance with %d workers", o.users, o.setupWorkers)
	return e.SetUp(ctx, o.users, o.setupWorkers, func(ctx context.Context, client *http.Client, baseURL string, i int) (string, error) {
		var reg struct {
			Token string `json:"token"`
		}
		body := map[string]string{"username": fmt.Sprintf("chatload_%05d", i), "password": "chatload-password-1"}
		err := loadenv.RetryBusy(ctx, func() error {
			return loadenv.PostJSON(ctx, client, baseURL+"/api/user/register/", "", body, &reg)
		})
		if err == nil && reg.Token == "" {
			err = fmt.Errorf("no data.token in the response")
		}
		if err != nil {
			return "", fmt.Errorf("register user %d: %w", i, err)
		}
		return reg.Token, nil
	})
}
