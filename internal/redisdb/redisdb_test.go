package redisdb_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"paradise/internal/config"
	"paradise/internal/redisdb"
)

func startEmbedded(t *testing.T) *redis.Client {
	t.Helper()
	srv, err := redisdb.StartEmbedded()
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: srv.Password})
	t.Cleanup(func() {
		client.Close()
		srv.Close()
	})
	return client
}

// TestEmbeddedRequiresPassword checks that another local process cannot
// use the in-process server: only a client with this start's password
// gets in.
func TestEmbeddedRequiresPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := redisdb.StartEmbedded()
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	defer srv.Close()
	if len(srv.Password) < 32 {
		t.Fatalf("password %q: want at least 128 bits of hex", srv.Password)
	}
	other, err := redisdb.StartEmbedded()
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	defer other.Close()
	if other.Password == srv.Password {
		t.Fatal("two starts share a password")
	}
	tests := []struct {
		name     string
		password string
		wantErr  string // empty: the command succeeds
	}{
		{"no password", "", "NOAUTH"},
		{"wrong password", other.Password, "WRONGPASS"},
		{"the server's password", srv.Password, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: tc.password})
			defer client.Close()
			err := client.Set(ctx, "admin_token:t", "1", 0).Err()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("SET with the password: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("SET = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestEmbeddedExpiresByWallClock checks that keys expire without anyone
// fast-forwarding the server. The deadline is generous: this is a
// correctness check, not a timing assertion.
func TestEmbeddedExpiresByWallClock(t *testing.T) {
	ctx := context.Background()
	client := startEmbedded(t)
	tests := []struct {
		name string
		set  func(key string) error
	}{
		{"SET EX", func(k string) error { return client.Set(ctx, k, "v", time.Second).Err() }},
		{"SET PX", func(k string) error { return client.Set(ctx, k, "v", 1500*time.Millisecond).Err() }},
		{"EXPIRE", func(k string) error {
			if err := client.Set(ctx, k, "v", 0).Err(); err != nil {
				return err
			}
			return client.Expire(ctx, k, time.Second).Err()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := "expiring:" + tc.name
			if err := tc.set(key); err != nil {
				t.Fatal(err)
			}
			if v, err := client.Get(ctx, key).Result(); err != nil || v != "v" {
				t.Fatalf("GET right after SET = %q, %v", v, err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err := client.Get(ctx, key).Result()
				if errors.Is(err, redis.Nil) {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if time.Now().After(deadline) {
					t.Fatalf("key %q with a ~1s TTL still exists after 10s", key)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	t.Run("key without TTL survives", func(t *testing.T) {
		if err := client.Set(ctx, "persistent", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(600 * time.Millisecond) // a few clock ticks
		if v, err := client.Get(ctx, "persistent").Result(); err != nil || v != "v" {
			t.Fatalf("GET persistent = %q, %v", v, err)
		}
		if ttl, err := client.TTL(ctx, "persistent").Result(); err != nil || ttl != -1 {
			t.Fatalf("TTL persistent = %v, %v; want -1ns (no expiry)", ttl, err)
		}
	})
}

func TestEmbeddedPubSub(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := startEmbedded(t)
	sub := client.Subscribe(ctx, "device_1")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // subscription confirmation
		t.Fatalf("subscribe: %v", err)
	}
	psub := client.PSubscribe(ctx, "device_*")
	defer psub.Close()
	if _, err := psub.Receive(ctx); err != nil {
		t.Fatalf("psubscribe: %v", err)
	}
	payloads := []string{`{"type":"ping","message":{}}`, "second", ""}
	for _, p := range payloads {
		n, err := client.Publish(ctx, "device_1", p).Result()
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		if n != 2 {
			t.Fatalf("publish reached %d subscribers, want 2", n)
		}
	}
	for _, s := range []struct {
		name string
		ps   *redis.PubSub
	}{{"channel", sub}, {"pattern", psub}} {
		t.Run(s.name, func(t *testing.T) {
			for _, want := range payloads {
				msg, err := s.ps.ReceiveMessage(ctx)
				if err != nil {
					t.Fatalf("receive: %v", err)
				}
				if msg.Channel != "device_1" || msg.Payload != want {
					t.Fatalf("got %q on %q, want %q on device_1", msg.Payload, msg.Channel, want)
				}
			}
		})
	}
	// Other channels do not reach the channel subscriber.
	if n, err := client.Publish(ctx, "other", "x").Result(); err != nil || n != 0 {
		t.Fatalf("publish to other = %d, %v; want 0 subscribers", n, err)
	}
}

// TestKeys pins every key name: the Django system's names are what old
// clients and the old system's tokens use, and the others are shared by
// instances of different versions during a rolling deploy.
func TestKeys(t *testing.T) {
	plain := redisdb.NewKeys(config.Redis{})
	prefixed := redisdb.NewKeys(config.Redis{RedisPrefix: "test:1:"})
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"user token (Django)", plain.Token(redisdb.UserTokenPrefix, "abc"), "token:abc"},
		{"admin token (Django)", plain.Token(redisdb.AdminTokenPrefix, "abc"), "admin_token:abc"},
		{"last seen (Django)", plain.DeviceLastSeen("AA:BB:CC:00:00:01"), "device:last_seen:AA:BB:CC:00:00:01"},
		{"token mac", plain.TokenMAC("abc"), "token_mac:abc"},
		{"admin token mac", plain.AdminTokenMAC("abc"), "admin_token_mac:abc"},
		{"user tokens", plain.UserTokens(7), "user_tokens:7"},
		{"user tokens prefix", plain.UserTokensPrefix(), "user_tokens:"},
		{"device tokens", plain.DeviceTokens("AA:BB:CC:00:00:01"), "device_tokens:AA:BB:CC:00:00:01"},
		{"user snapshot", plain.UserSnapshot(7), "user_snapshot:7"},
		{"user snapshot prefix", plain.UserSnapshotPrefix(), "user_snapshot:"},
		{"user revoked at", plain.UserRevokedAt(7), "user_revoked_at:7"},
		{"user revoked at prefix", plain.UserRevokedAtPrefix(), "user_revoked_at:"},
		{"device conn", plain.DeviceConn("AA:BB:CC:00:00:01"), "device:conn:AA:BB:CC:00:00:01"},
		{"hub group", plain.HubGroup(7), "hub:device_7"},
		{"hub group prefix", plain.HubGroupPrefix(), "hub:device_"},
		{"hub control", plain.HubControl(), "hub:control"},
		{"presence instances", plain.PresenceInstances(), "presence:instances"},
		{"presence devices", plain.PresenceDevices("i1"), "presence:devices:i1"},
		{"rate limit counter", plain.RateLimitCounter("chat:messages:user:7", "2025-03-14"), "ratelimit:daily:chat:messages:user:7:2025-03-14"},
		{"rate limit concurrency", plain.RateLimitConcurrency("chat:streams:user:7"), "ratelimit:concurrency:chat:streams:user:7"},
		{"rate limit rate", plain.RateLimitRate("login:ip:203.0.113.5"), "ratelimit:rate:login:ip:203.0.113.5"},
		{"rate limit lockout", plain.RateLimitLockout("login:alice:203.0.113.5"), "ratelimit:lockout:login:alice:203.0.113.5"},
		{"device nonce", plain.DeviceNonce("n1"), "device:nonce:n1"},
		{"claim code", plain.ClaimCode("K7M3QX"), "claim:code:K7M3QX"},
		{"claim device", plain.ClaimDevice("AA:BB:CC:00:00:01"), "claim:device:AA:BB:CC:00:00:01"},
		{"rtc room token (Django)", plain.RTCRoom(7, "device_aabbcc000001"), "rtc_room:7:device_aabbcc000001"},
		{"rtc agent", plain.RTCAgent("room_7"), "rtc_agent:room_7"},
		{"rtc task", plain.RTCTask("t1"), "rtc_task:t1"},
		{"rtc agents", plain.RTCAgents(), "rtc_agents"},
		{"speech aliyun token", plain.SpeechAliyunToken("LTAI5t"), "speech:aliyun_token:LTAI5t"},
		{"speech audio", plain.SpeechAudio("a1b2"), "speech:audio:a1b2"},
		{"admin events", plain.AdminEvents(), "admin:events"},
		{"admin hub sessions", plain.AdminHubSessions(), "admin:hub_sessions"},
		{"prefixed admin events", prefixed.AdminEvents(), "test:1:admin:events"},
		{"raw", plain.Raw("token:abc"), "token:abc"},
		{"prefixed token", prefixed.Token(redisdb.UserTokenPrefix, "abc"), "test:1:token:abc"},
		{"prefixed group", prefixed.HubGroup(7), "test:1:hub:device_7"},
		{"prefixed rate limit", prefixed.RateLimitRate("login:ip:203.0.113.5"), "test:1:ratelimit:rate:login:ip:203.0.113.5"},
		{"prefixed raw", prefixed.Raw("admin_token:abc"), "test:1:admin_token:abc"},
		{"prefix", prefixed.Prefix(), "test:1:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// TestNewEmbeddedClientAuthenticates checks that the service's own client
// for the in-process server carries the password.
func TestNewEmbeddedClientAuthenticates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lc := fxtest.NewLifecycle(t)
	client, err := redisdb.New(lc, config.Redis{}, zap.NewNop())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	lc.RequireStart()
	defer lc.RequireStop()
	if err := client.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through the service's client: %v", err)
	}
	anon := redis.NewClient(&redis.Options{Addr: client.Options().Addr})
	defer anon.Close()
	if err := anon.Get(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("GET without a password = %v, want NOAUTH", err)
	}
}
