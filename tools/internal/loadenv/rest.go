package loadenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// DeviceMAC is the MAC address (12 hex digits, as a device sends it) of
// user i's device. 02:... is a locally administered address, never a real
// vendor's.
func DeviceMAC(i int) string { return fmt.Sprintf("02%010x", i) }

// RegisterWithDevice registers user i as username with password and binds
// the device DeviceMAC(i) to it. It returns the token from registration
// (an app session) and the MAC.
func RegisterWithDevice(ctx context.Context, client *http.Client, baseURL string, i int, username, password string) (token, mac string, err error) {
	var reg struct {
		Token string `json:"token"`
	}
	body := map[string]string{"username": username, "password": password}
	if err := PostJSON(ctx, client, baseURL+"/api/user/register/", "", body, &reg); err != nil {
		return "", "", fmt.Errorf("register user %d: %w", i, err)
	}
	if reg.Token == "" {
		return "", "", fmt.Errorf("register user %d: no data.token in the response", i)
	}
	mac = DeviceMAC(i)
	if err := PostJSON(ctx, client, baseURL+"/api/device/bind/", reg.Token, map[string]string{"mac_address": mac}, nil); err != nil {
		return "", "", fmt.Errorf("bind device of user %d: %w", i, err)
	}
	return reg.Token, mac, nil
}

// PostJSON posts body as JSON (with "Authorization: Token token" unless
// token is empty) and decodes the envelope's data into data (when not
// nil). A non-2xx status is an error carrying the response body.
func PostJSON(ctx context.Context, client *http.Client, url, token string, body, data any) error {
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
