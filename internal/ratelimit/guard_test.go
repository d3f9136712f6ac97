package ratelimit_test

import (
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"paradise/internal/apperr"
	"paradise/internal/config"
	"paradise/internal/testenv"
)

// login posts a login from the client address ip (the test is the
// trusted proxy that says so in X-Forwarded-For).
func login(t *testing.T, s *testenv.Service, ip, username, password string) *testenv.Response {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL+"/api/user/login/",
		strings.NewReader(`{"username":"`+username+`","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	return s.Send(t, req)
}

func want(t *testing.T, what string, res *testenv.Response, status, code int) {
	t.Helper()
	if res.Status != status || res.Code != code {
		t.Fatalf("%s: %d code %d (%s), want %d code %d", what, res.Status, res.Code, res.Body, status, code)
	}
	if status == http.StatusTooManyRequests {
		secs, err := strconv.Atoi(res.Header.Get("Retry-After"))
		if err != nil || secs < 1 {
			t.Fatalf("%s: Retry-After %q, want whole seconds >= 1", what, res.Header.Get("Retry-After"))
		}
	}
}

// limitedConfig trusts the test as a proxy, so X-Forwarded-For sets the
// client address.
func limitedConfig(t *testing.T) config.Config {
	cfg := testenv.Config(t, testenv.Postgres)
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	return cfg
}

// TestLimitsAcrossInstances: two instances share each limit; refusals are
// 429 envelopes with their business code and Retry-After, and counted.
func TestLimitsAcrossInstances(t *testing.T) {
	cfg := limitedConfig(t)
	cfg.RateLimits.LoginIP = config.Limit{Events: 3, Per: time.Hour}
	cfg.RateLimits.DeviceLoginMAC = config.Limit{Events: 2, Per: time.Hour}
	cfg.RateLimits.PushDevice = config.Limit{Events: 2, Per: time.Hour}
	cfg.RateLimits.BindUser = config.Limit{Events: 3, Per: time.Hour}
	a := testenv.StartWith(t, cfg)
	b := testenv.StartWith(t, cfg)
	alice := a.Register(t, "alice") // from 127.0.0.1, which is a trusted proxy: not counted against 203.0.113.5
	const ip = "203.0.113.5"
	want(t, "login 1 on a", login(t, a, ip, alice.User.Username, testenv.Password), 200, 200)
	want(t, "login 2 on b", login(t, b, ip, alice.User.Username, testenv.Password), 200, 200)
	want(t, "login 3 on a", login(t, a, ip, alice.User.Username, testenv.Password), 200, 200)
	want(t, "login 4 on b", login(t, b, ip, alice.User.Username, testenv.Password), 429, apperr.CodeLoginRate)
	want(t, "another address", login(t, b, "198.51.100.7", alice.User.Username, testenv.Password), 200, 200)

	const mac = "AA:BB:CC:30:00:01"
	id := a.Bind(t, alice.Token, mac)
	a.Bind(t, alice.Token, mac)
	want(t, "bind 3 on b", b.Do(t, "POST", "/api/device/bind/", alice.Token, map[string]any{"mac_address": mac}), 200, 200)
	want(t, "bind 4 on a", a.Do(t, "POST", "/api/device/bind/", alice.Token, map[string]any{"mac_address": mac}), 429, apperr.CodeBindRate)

	want(t, "mac login 1 on a", a.Do(t, "POST", "/api/user/mac-login/", "", map[string]any{"mac_address": mac}), 200, 200)
	want(t, "challenge on b", b.Do(t, "POST", "/api/device/challenge/", "", map[string]any{"mac_address": "aa-bb-cc-30-00-01"}), 200, 200)
	want(t, "mac login 3 on a", a.Do(t, "POST", "/api/user/mac-login/", "", map[string]any{"mac_address": mac}), 429, apperr.CodeDeviceLoginRate)

	push := map[string]any{"type": "notification", "message": map[string]any{"title": "t", "body": "b"}}
	path := "/api/device/devices/" + strconv.Itoa(id) + "/messages/"
	want(t, "push 1 on a", a.Do(t, "POST", path, alice.Token, push), 200, 200)
	want(t, "push 2 on b", b.Do(t, "POST", path, alice.Token, push), 200, 200)
	want(t, "command 3 on a", a.Do(t, "POST", "/api/device/devices/"+strconv.Itoa(id)+"/commands/", alice.Token, map[string]any{"name": "reboot"}), 429, apperr.CodePushRate)

	res, err := http.Get(a.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, limit := range []string{"bind_user", "device_login_mac", "push_device"} {
		if !strings.Contains(string(body), `paradise_ratelimit_rejections_total{limit="`+limit+`"} 1`) {
			t.Errorf("metrics of a: no rejection counted for %s", limit)
		}
	}
}

// TestLoginLockout: failed passwords for one username from one address
// lock that pair (even the right password waits), not the user
// everywhere; the lock ends by itself.
func TestLoginLockout(t *testing.T) {
	cfg := limitedConfig(t)
	cfg.RateLimits.LockoutAfter, cfg.RateLimits.LockoutBase, cfg.RateLimits.LockoutMax = 3, time.Minute, 10*time.Minute
	a := testenv.StartWith(t, cfg)
	b := testenv.StartWith(t, cfg)
	alice := a.Register(t, "alice")
	const attacker = "203.0.113.66"
	want(t, "wrong 1", login(t, a, attacker, alice.User.Username, "wrong"), 400, 400)
	want(t, "wrong 2", login(t, b, attacker, alice.User.Username, "wrong"), 400, 400)
	want(t, "wrong 3", login(t, a, attacker, alice.User.Username, "wrong"), 400, 400)
	res := login(t, b, attacker, alice.User.Username, testenv.Password)
	want(t, "right password while locked", res, 429, apperr.CodeLoginLocked)
	if secs, _ := strconv.Atoi(res.Header.Get("Retry-After")); secs > 60 {
		t.Fatalf("first lock Retry-After %d s, want at most the 60 s base", secs)
	}
	want(t, "alice from her own address", login(t, a, "198.51.100.7", alice.User.Username, testenv.Password), 200, 200)
	// The lock ends by itself (its end moved into the past here).
	if err := a.Redis.HSet(t.Context(), a.Key("ratelimit:lockout:"+strings.ToLower(alice.User.Username)+"|"+attacker), "until", "0").Err(); err != nil {
		t.Fatal(err)
	}
	want(t, "after the lock", login(t, b, attacker, alice.User.Username, testenv.Password), 200, 200)
}
