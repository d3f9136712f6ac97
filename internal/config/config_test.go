package config_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"paradise/internal/config"
)

// env is a fake environment for Load.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatalf("Load(empty environment): %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Addr", c.Addr, ":8000"},
		{"DataDir", c.DataDir, "./var"},
		{"DatabaseURL", c.DatabaseURL, ""},
		{"RedisURL", c.RedisURL, ""},
		{"RedisPrefix", c.RedisPrefix, ""},
		{"LogLevel", c.LogLevel, "info"},
		{"LogFormat", c.LogFormat, "console"},
		{"TokenTTL", c.TokenTTL, 720 * time.Hour},
		{"ShutdownTimeout", c.ShutdownTimeout, 15 * time.Second},
		{"Embedded", c.Embedded(), true},
		{"SQLitePath", c.SQLitePath(), filepath.Join("var", "paradise.db")},
		{"TrustedProxies", len(c.TrustedProxies), 0},
		{"Passwords.HashMemory", c.Passwords.HashMemory, int64(256 << 20)},
		{"Hub.LocalRelay", c.Hub.LocalRelay, true},
	}
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) {
			if ch.got != ch.want {
				t.Fatalf("%s = %v, want %v", ch.name, ch.got, ch.want)
			}
		})
	}
}

func TestLoadOverrides(t *testing.T) {
	tests := []struct {
		name  string
		vars  map[string]string
		check func(t *testing.T, c config.Config)
	}{
		{
			name: "production mode logs json by default",
			vars: map[string]string{"DATABASE_URL": "postgres://u@db:5432/paradise", "REDIS_URL": "redis://cache:6379/1"},
			check: func(t *testing.T, c config.Config) {
				if c.LogFormat != "json" || c.Embedded() {
					t.Fatalf("LogFormat = %q, Embedded = %v; want json, false", c.LogFormat, c.Embedded())
				}
				if c.DatabaseURL != "postgres://u@db:5432/paradise" || c.RedisURL != "redis://cache:6379/1" {
					t.Fatalf("DatabaseURL, RedisURL = %q, %q", c.DatabaseURL, c.RedisURL)
				}
			},
		},
		{
			name: "postgresql scheme and rediss accepted",
			vars: map[string]string{"DATABASE_URL": "postgresql://u@db/p", "REDIS_URL": "rediss://cache:6380"},
			check: func(t *testing.T, c config.Config) {
				if c.DatabaseURL != "postgresql://u@db/p" || c.RedisURL != "rediss://cache:6380" {
					t.Fatalf("DatabaseURL, RedisURL = %q, %q", c.DatabaseURL, c.RedisURL)
				}
			},
		},
		{
			name: "explicit console format in production mode",
			vars: map[string]string{"DATABASE_URL": "postgres://db/p", "LOG_FORMAT": "console"},
			check: func(t *testing.T, c config.Config) {
				if c.LogFormat != "console" {
					t.Fatalf("LogFormat = %q, want console", c.LogFormat)
				}
			},
		},
		{
			name: "explicit json format embedded, level and format case-insensitive",
			vars: map[string]string{"LOG_FORMAT": "JSON", "LOG_LEVEL": "Debug"},
			check: func(t *testing.T, c config.Config) {
				if c.LogFormat != "json" || c.LogLevel != "debug" {
					t.Fatalf("LogFormat, LogLevel = %q, %q; want json, debug", c.LogFormat, c.LogLevel)
				}
			},
		},
		{
			name: "addr, data dir, prefix and durations",
			vars: map[string]string{
				"PARADISE_ADDR": "127.0.0.1:9000", "PARADISE_DATA_DIR": "/srv/paradise",
				"PARADISE_REDIS_PREFIX": "staging:", "PARADISE_TOKEN_TTL": "1h30m",
				"PARADISE_SHUTDOWN_TIMEOUT": "2s",
			},
			check: func(t *testing.T, c config.Config) {
				if c.Addr != "127.0.0.1:9000" || c.DataDir != "/srv/paradise" || c.RedisPrefix != "staging:" {
					t.Fatalf("Addr, DataDir, RedisPrefix = %q, %q, %q", c.Addr, c.DataDir, c.RedisPrefix)
				}
				if c.TokenTTL != 90*time.Minute || c.ShutdownTimeout != 2*time.Second {
					t.Fatalf("TokenTTL, ShutdownTimeout = %v, %v", c.TokenTTL, c.ShutdownTimeout)
				}
				if c.SQLitePath() != filepath.Join("/srv/paradise", "paradise.db") {
					t.Fatalf("SQLitePath = %q", c.SQLitePath())
				}
			},
		},
		{
			name: "local relaying off for an upgrade",
			vars: map[string]string{"PARADISE_HUB_LOCAL_RELAY": "false"},
			check: func(t *testing.T, c config.Config) {
				if c.Hub.LocalRelay {
					t.Fatal("Hub.LocalRelay = true, want false")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load(env(tc.vars))
			if err != nil {
				t.Fatalf("Load(%v): %v", tc.vars, err)
			}
			tc.check(t, c)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		mention string // the error names the offending setting
	}{
		{"bad log level", map[string]string{"LOG_LEVEL": "verbose"}, "LOG_LEVEL"},
		{"bad log format", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"mysql database url", map[string]string{"DATABASE_URL": "mysql://u@db/p"}, "DATABASE_URL"},
		{"sqlite database url", map[string]string{"DATABASE_URL": "sqlite:///tmp/x.db"}, "DATABASE_URL"},
		{"bare host database url", map[string]string{"DATABASE_URL": "db:5432"}, "DATABASE_URL"},
		{"http redis url", map[string]string{"REDIS_URL": "http://cache:6379"}, "REDIS_URL"},
		{"bare host redis url", map[string]string{"REDIS_URL": "cache:6379"}, "REDIS_URL"},
		{"unparsable token ttl", map[string]string{"PARADISE_TOKEN_TTL": "30 days"}, "PARADISE_TOKEN_TTL"},
		{"unitless token ttl", map[string]string{"PARADISE_TOKEN_TTL": "3600"}, "PARADISE_TOKEN_TTL"},
		{"zero token ttl", map[string]string{"PARADISE_TOKEN_TTL": "0s"}, "PARADISE_TOKEN_TTL"},
		{"negative token ttl", map[string]string{"PARADISE_TOKEN_TTL": "-1h"}, "PARADISE_TOKEN_TTL"},
		{"bad shutdown timeout", map[string]string{"PARADISE_SHUTDOWN_TIMEOUT": "soon"}, "PARADISE_SHUTDOWN_TIMEOUT"},
		{"hash memory without number", map[string]string{"PARADISE_PASSWORD_HASH_MEMORY": "MiB"}, "PARADISE_PASSWORD_HASH_MEMORY"},
		{"hash memory decimal unit", map[string]string{"PARADISE_PASSWORD_HASH_MEMORY": "256MB"}, "PARADISE_PASSWORD_HASH_MEMORY"},
		{"hash memory zero", map[string]string{"PARADISE_PASSWORD_HASH_MEMORY": "0"}, "PARADISE_PASSWORD_HASH_MEMORY"},
		{"hash memory negative", map[string]string{"PARADISE_PASSWORD_HASH_MEMORY": "-1MiB"}, "PARADISE_PASSWORD_HASH_MEMORY"},
		{"hash memory overflow", map[string]string{"PARADISE_PASSWORD_HASH_MEMORY": "9999999999999GiB"}, "PARADISE_PASSWORD_HASH_MEMORY"},
		{"trusted proxy hostname", map[string]string{"PARADISE_TRUSTED_PROXIES": "proxy.internal"}, "PARADISE_TRUSTED_PROXIES"},
		{"trusted proxy bad cidr", map[string]string{"PARADISE_TRUSTED_PROXIES": "10.0.0.0/33"}, "PARADISE_TRUSTED_PROXIES"},
		{"trusted proxy with port", map[string]string{"PARADISE_TRUSTED_PROXIES": "10.0.0.1:80"}, "PARADISE_TRUSTED_PROXIES"},
		{"local relay not a boolean", map[string]string{"PARADISE_HUB_LOCAL_RELAY": "sometimes"}, "PARADISE_HUB_LOCAL_RELAY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load(env(tc.vars))
			if err == nil {
				t.Fatalf("Load(%v) = %+v, want an error", tc.vars, c)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("Load(%v) error %q does not mention %s", tc.vars, err, tc.mention)
			}
		})
	}
}

func TestLoadPasswordHashMemory(t *testing.T) {
	tests := []struct {
		value string
		want  int64
	}{
		{"", 256 << 20},
		{"67108864", 64 << 20},
		{"19456KiB", 19456 << 10},
		{"512MiB", 512 << 20},
		{" 1 GiB ", 1 << 30},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			c, err := config.Load(env(map[string]string{"PARADISE_PASSWORD_HASH_MEMORY": tc.value}))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Passwords.HashMemory != tc.want {
				t.Fatalf("HashMemory = %d, want %d", c.Passwords.HashMemory, tc.want)
			}
		})
	}
}

func TestLoadTrustedProxies(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  []string
	}{
		{"unset trusts nobody", "", nil},
		{"only separators", " , ,", nil},
		{"bare IPv4 is a /32", "10.0.0.5", []string{"10.0.0.5/32"}},
		{"bare IPv6 is a /128", "::1", []string{"::1/128"}},
		{"IPv4-mapped IPv6 is unmapped", "::ffff:10.0.0.5", []string{"10.0.0.5/32"}},
		{"CIDRs are masked", "10.1.2.3/8, fd00::1/64", []string{"10.0.0.0/8", "fd00::/64"}},
		{"mixed list with spaces", " 127.0.0.1 ,192.168.0.0/16", []string{"127.0.0.1/32", "192.168.0.0/16"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load(env(map[string]string{"PARADISE_TRUSTED_PROXIES": tc.value}))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var got []string
			for _, p := range c.TrustedProxies {
				got = append(got, p.String())
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") || len(got) != len(tc.want) {
				t.Fatalf("TrustedProxies = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("PARADISE_ADDR", "127.0.0.1:8123")
	t.Setenv("DATABASE_URL", "")
	t.Setenv("LOG_FORMAT", "")
	t.Setenv("LOG_LEVEL", "warn")
	c, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8123" || c.LogLevel != "warn" || c.LogFormat != "console" {
		t.Fatalf("FromEnv = Addr %q, LogLevel %q, LogFormat %q", c.Addr, c.LogLevel, c.LogFormat)
	}
}

// TestRTCSettings checks the voice rooms section: defaults, secrets kept
// out of String, and the settings that cannot work.
func TestRTCSettings(t *testing.T) {
	base := map[string]string{
		"PARADISE_RTC_APP_ID": "0123456789abcdef01234567", "PARADISE_RTC_APP_KEY": "app-key-secret",
		"PARADISE_RTC_ACCESS_KEY": "AKLT", "PARADISE_RTC_SECRET_KEY": "secret-key-secret",
		"PARADISE_RTC_TTS_TOKEN": "tts-token-secret", "PARADISE_RTC_PUBLIC_BASE_URL": "https://api.example.com/",
	}
	with := func(over map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := over[k]; ok {
				return v
			}
			return base[k]
		}
	}
	c, err := config.Load(with(nil))
	if err != nil {
		t.Fatal(err)
	}
	r := c.RTC
	if !r.TokensEnabled() || !r.AgentEnabled() || r.AgentLLMMode != "CustomLLM" || r.PublicBaseURL != "https://api.example.com" ||
		r.TokenTTL != 24*time.Hour || r.LegacyGetByMAC || r.LegacyPerIP != 30 || r.LegacyPerMAC != 10 || r.Region != "cn-north-1" {
		t.Fatalf("defaults: %+v", r)
	}
	for _, secret := range []string{"app-key-secret", "secret-key-secret", "tts-token-secret"} {
		if strings.Contains(r.String(), secret) || strings.Contains(fmt.Sprint(r), secret) {
			t.Fatalf("String leaks a secret: %s", r)
		}
	}
	tests := []struct {
		name string
		over map[string]string
	}{
		{"short app id", map[string]string{"PARADISE_RTC_APP_ID": "short"}},
		{"app id without key", map[string]string{"PARADISE_RTC_APP_KEY": ""}},
		{"refresh beyond ttl", map[string]string{"PARADISE_RTC_TOKEN_TTL": "5m"}},
		{"unknown mode", map[string]string{"PARADISE_RTC_AGENT_LLM_MODE": "Other"}},
		{"ArkV3 without endpoint", map[string]string{"PARADISE_RTC_AGENT_LLM_MODE": "ArkV3"}},
		{"CustomLLM without base URL", map[string]string{"PARADISE_RTC_PUBLIC_BASE_URL": ""}},
		{"legacy not a bool", map[string]string{"PARADISE_RTC_LEGACY_GET_BY_MAC": "sometimes"}},
		{"zero per-IP limit", map[string]string{"PARADISE_RTC_LEGACY_PER_IP": "0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := config.Load(with(tc.over)); err == nil {
				t.Fatal("Load accepted it")
			}
		})
	}
}

func TestSpeech(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	c, err := config.Load(env(nil))
	if err != nil || len(c.Speech.Providers) != 0 || c.Speech.MaxAudioSeconds != 30 {
		t.Fatalf("defaults: %+v %v", c.Speech, err)
	}
	c, err = config.Load(env(map[string]string{
		"AUDIO_SERVICE_PROVIDER":           "Volcano",
		"PARADISE_SPEECH_FAILOVER":         "tencent, aliyun, volcengine",
		"PARADISE_SPEECH_VOLCENGINE_APPID": "a", "PARADISE_SPEECH_VOLCENGINE_ACCESS_TOKEN": "t",
		"PARADISE_SPEECH_TENCENT_SECRET_ID": "i", "PARADISE_SPEECH_TENCENT_SECRET_KEY": "k",
		"PARADISE_SPEECH_ALIYUN_ACCESS_KEY_ID": "i", "PARADISE_SPEECH_ALIYUN_ACCESS_KEY_SECRET": "s", "PARADISE_SPEECH_ALIYUN_APPKEY": "a",
	}))
	if err != nil || strings.Join(c.Speech.Providers, ",") != "volcengine,tencent,aliyun" {
		t.Fatalf("providers %v, %v", c.Speech.Providers, err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PARADISE_SPEECH_PROVIDER": "azure"}, "unknown speech provider"},
		{map[string]string{"PARADISE_SPEECH_PROVIDER": "aliyun", "PARADISE_SPEECH_ALIYUN_ACCESS_KEY_SECRET": "sekrit"}, "PARADISE_SPEECH_ALIYUN_ACCESS_KEY_ID, _APPKEY"},
		{map[string]string{"PARADISE_SPEECH_MAX_AUDIO_BYTES": "2MiB"}, "PARADISE_SPEECH_MAX_AUDIO_BYTES"},
	} {
		_, err := config.Load(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "sekrit") {
			t.Fatalf("%v: err = %v, want %q", tc.env, err, tc.want)
		}
	}
}
