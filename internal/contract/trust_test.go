package contract_test

import (
	"fmt"
	"testing"
	"time"

	"paradise/internal/device"
	"paradise/internal/testenv"
)

// The cases of device credentials, claim codes and persistent commands.
func init() {
	restCases["deviceChallenge"] = []restCase{
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/challenge/", body: map[string]any{"mac_address": newMAC()}}
		}},
		{name: "invalid MAC", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/challenge/", body: map[string]any{"mac_address": "zz"}}
		}},
	}
	restCases["deviceLogin"] = []restCase{
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			mac, secret := f.securedDevice(t)
			return f.signedLogin(t, mac, secret)
		}},
		{name: "wrong secret", status: 401, code: 4012, setup: func(t *testing.T, f *fixture) call {
			mac, _ := f.securedDevice(t)
			return f.signedLogin(t, mac, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
		}},
	}
	restCases["createClaimCode"] = []restCase{
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/claim-code/", token: f.MacLogin(t, f.mac).Token}
		}},
		{name: "user token", status: 403, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/claim-code/", token: f.user.Token}
		}},
	}
	restCases["claimDevice"] = []restCase{
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			owner := f.Register(t, "claimed")
			mac := newMAC()
			f.Bind(t, owner.Token, mac)
			var c struct {
				Code string `json:"code"`
			}
			f.must(t, "POST", "/api/device/claim-code/", f.MacLogin(t, mac).Token, nil, 200).Decode(t, &c)
			return call{method: "POST", path: "/api/device/claim/", token: f.Register(t, "claimer").Token,
				body: map[string]any{"claim_code": c.Code, "name": "Claimed"}}
		}},
		{name: "wrong code", status: 400, code: 4013, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/claim/", token: f.user.Token, body: map[string]any{"claim_code": "ZZZZZZZZ"}}
		}},
	}
	restCases["createDeviceCommand"] = []restCase{
		{name: "queued", status: 201, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/device/devices/%d/commands/", f.devID), token: f.user.Token,
				body: map[string]any{"name": "reboot", "params": map[string]any{"delay": 5}, "ttl_seconds": 60}}
		}},
		{name: "same idempotency key", status: 200, setup: func(t *testing.T, f *fixture) call {
			path := fmt.Sprintf("/api/device/devices/%d/commands/", f.devID)
			key := testenv.RandomID()
			f.must(t, "POST", path, f.user.Token, map[string]any{"name": "reboot", "idempotency_key": key}, 201)
			return call{method: "POST", path: path, token: f.user.Token, body: map[string]any{"name": "reboot", "idempotency_key": key}}
		}},
		{name: "another user's device", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/device/devices/%d/commands/", f.devID), token: f.Register(t, "other").Token,
				body: map[string]any{"name": "reboot"}}
		}},
		{name: "ttl too long", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/device/devices/%d/commands/", f.devID), token: f.user.Token,
				body: map[string]any{"name": "reboot", "ttl_seconds": 99999999}}
		}},
	}
	restCases["listDeviceCommands"] = []restCase{
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			f.must(t, "POST", fmt.Sprintf("/api/device/devices/%d/commands/", f.devID), f.user.Token, map[string]any{"name": "reboot"}, 201)
			return call{method: "GET", path: fmt.Sprintf("/api/device/devices/%d/commands/?status=queued", f.devID), token: f.user.Token}
		}},
		{name: "another user's device", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/device/devices/%d/commands/", f.devID), token: f.Register(t, "other").Token}
		}},
	}
	restCases["getDeviceCommand"] = []restCase{
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			var c struct {
				ID int `json:"id"`
			}
			f.must(t, "POST", fmt.Sprintf("/api/device/devices/%d/commands/", f.devID), f.user.Token, map[string]any{"name": "reboot"}, 201).Decode(t, &c)
			return call{method: "GET", path: fmt.Sprintf("/api/device/devices/%d/commands/%d/", f.devID, c.ID), token: f.user.Token}
		}},
		{name: "unknown command", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/device/devices/%d/commands/999999/", f.devID), token: f.user.Token}
		}},
	}
	restCases["adminProvisionDeviceSecret"] = []restCase{
		{name: "created", status: 201, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/device-secrets/", token: f.admin, body: map[string]any{"mac_address": newMAC()}}
		}},
		{name: "invalid MAC", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/device-secrets/", token: f.admin, body: map[string]any{"mac_address": "zz"}}
		}},
		{name: "user token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/device-secrets/", token: f.user.Token, body: map[string]any{"mac_address": newMAC()}}
		}},
	}
	restCases["adminSetDeviceMacLogin"] = []restCase{
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PUT", path: fmt.Sprintf("/api/v1/admin/devices/%d/mac-login/", f.devID), token: f.admin,
				body: map[string]any{"mac_login": "default"}}
		}},
		{name: "unknown device", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PUT", path: "/api/v1/admin/devices/999999/mac-login/", token: f.admin, body: map[string]any{"mac_login": "allow"}}
		}},
		{name: "unknown policy", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PUT", path: fmt.Sprintf("/api/v1/admin/devices/%d/mac-login/", f.devID), token: f.admin, body: map[string]any{"mac_login": "maybe"}}
		}},
	}
}

// securedDevice binds a new device to a new user, then provisions its
// secret.
func (f *fixture) securedDevice(t *testing.T) (mac, secret string) {
	t.Helper()
	mac = newMAC()
	f.Bind(t, f.Register(t, "secured").Token, mac)
	var p struct {
		MACAddress string `json:"mac_address"`
		Secret     string `json:"secret"`
	}
	f.must(t, "POST", "/api/v1/admin/device-secrets/", f.admin, map[string]any{"mac_address": mac}, 201).Decode(t, &p)
	return p.MACAddress, p.Secret
}

// signedLogin is a device login call answering a fresh challenge with the
// secret.
func (f *fixture) signedLogin(t *testing.T, mac, secret string) call {
	t.Helper()
	var c struct {
		Nonce string `json:"nonce"`
	}
	f.must(t, "POST", "/api/device/challenge/", "", map[string]any{"mac_address": mac}, 200).Decode(t, &c)
	ts := time.Now().Unix()
	sig, err := device.Sign(secret, c.Nonce, mac, ts)
	if err != nil {
		t.Fatal(err)
	}
	return call{method: "POST", path: "/api/device/login/", body: map[string]any{
		"mac_address": mac, "nonce": c.Nonce, "timestamp": ts, "signature": sig}}
}
