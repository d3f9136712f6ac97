package hub_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"

	"paradise/internal/apperr"
	"paradise/internal/testenv"
)

// proxied points the configuration's Postgres and Redis at proxies the
// test can cut.
func proxied(t *testing.T, dsn, redisURL string) (db, rdb *testenv.Proxy, newDSN, newRedisURL string) {
	t.Helper()
	through := func(raw string) (*testenv.Proxy, string) {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		p := testenv.NewProxy(t, u.Host)
		u.Host = p.Addr()
		return p, u.String()
	}
	db, newDSN = through(dsn)
	rdb, newRedisURL = through(redisURL)
	return db, rdb, newDSN, newRedisURL
}

// eventually polls ok until it holds; a liveness check, not a timing one.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
	}
}

// TestOutages: with Redis or Postgres unreachable, valid credentials get
// 503 (code 5032, Retry-After) and hub sessions close with 1013, never
// 401 or 4001/4003; /readyz says what is down; everything works again once
// the dependency is back.
func TestOutages(t *testing.T) {
	cfg := hubConfig(t, testenv.Postgres)
	db, rdb, dsn, redisURL := proxied(t, cfg.DatabaseURL, cfg.RedisURL)
	cfg.DatabaseURL, cfg.RedisURL = dsn, redisURL
	s := testenv.StartWith(t, cfg)
	p := newPair(t, s)

	unavailable := func(t *testing.T, res *testenv.Response) {
		t.Helper()
		if res.Status != http.StatusServiceUnavailable || res.Code != apperr.CodeDependencyDown || res.Header.Get("Retry-After") == "" {
			t.Fatalf("got %d code %d Retry-After %q: %s; want 503 code %d with Retry-After",
				res.Status, res.Code, res.Header.Get("Retry-After"), res.Body, apperr.CodeDependencyDown)
		}
	}
	recovered := func(t *testing.T) {
		t.Helper()
		eventually(t, "recovery", func() bool {
			return s.Do(t, http.MethodGet, "/api/device/devices/", p.owner.Token, nil).Status == http.StatusOK
		})
		s.Dial(t, p.device.Token).ExpectNothing()
	}

	t.Run("redis", func(t *testing.T) {
		rdb.Disable()
		unavailable(t, s.Do(t, http.MethodGet, "/api/user/profile/", p.owner.Token, nil))
		unavailable(t, s.Do(t, http.MethodPost, "/api/user/login/", "",
			map[string]string{"username": p.owner.User.Username, "password": testenv.Password}))
		testenv.DialRaw(t, s.WSURL(p.owner.Token), nil).ExpectClose(websocket.StatusTryAgainLater)
		if res := s.Do(t, http.MethodGet, "/readyz", "", nil); res.Status != http.StatusServiceUnavailable || res.Message != "Not ready: redis unreachable." {
			t.Fatalf("readyz: %d %s", res.Status, res.Body)
		}
		rdb.Enable()
		recovered(t)
	})

	t.Run("postgres", func(t *testing.T) {
		db.Disable()
		// The device's binding cannot be checked: that is no rebind.
		testenv.DialRaw(t, s.WSURL(p.device.Token), nil).ExpectClose(websocket.StatusTryAgainLater)
		unavailable(t, s.Do(t, http.MethodPost, "/api/user/mac-login/", "", map[string]string{"mac_address": p.mac}))
		unavailable(t, s.Do(t, http.MethodGet, "/api/device/devices/", p.owner.Token, nil))
		if res := s.Do(t, http.MethodGet, "/readyz", "", nil); res.Status != http.StatusServiceUnavailable || res.Message != "Not ready: database unreachable." {
			t.Fatalf("readyz: %d %s", res.Status, res.Body)
		}
		db.Enable()
		recovered(t)
	})
}
