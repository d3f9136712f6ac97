// Package config reads Paradise's settings from the environment. Every
// setting is declared once here, with its default; the README's
// configuration table lists the same names.
package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/fx"
)

// Config is the whole configuration of one Paradise process. It is made of
// one section per module; each module takes only its own section (see
// Sections), and the sections' fields are promoted here so callers can
// still write cfg.Addr or cfg.DatabaseURL.
type Config struct {
	HTTP
	Database
	Redis
	Log
	Auth
	Metrics
	Debug
	// Passwords bounds password hashing.
	Passwords Passwords
	// Hub tunes the WebSocket device hub.
	Hub Hub
	// Presence tunes how device presence is kept and corrected.
	Presence Presence
	// LLM lists the LLM providers in failover order.
	LLM LLM
	// Chat tunes AI conversations: context size and budgets.
	Chat Chat
	// RateLimits are the request rate limits and the login lockout.
	RateLimits RateLimits
	// Devices tunes device credentials, MAC login and claim codes.
	Devices Devices
	// RTC configures real-time voice rooms and the voice agent.
	RTC RTC
	// Speech chooses the speech vendors and bounds voice requests.
	Speech Speech
}

// HTTP is the HTTP server's section.
type HTTP struct {
	// Addr is the HTTP listen address (PARADISE_ADDR, default ":8000").
	Addr string
	// ShutdownTimeout bounds a graceful stop of the server, and of the
	// whole process (PARADISE_SHUTDOWN_TIMEOUT, default 15s).
	ShutdownTimeout time.Duration
	// TrustedProxies are the direct peers whose X-Forwarded-Host and
	// X-Forwarded-Proto are believed when building absolute links
	// (PARADISE_TRUSTED_PROXIES: comma-separated IPs or CIDRs; default
	// empty, trusting nobody). From anyone else those headers are forgeable.
	TrustedProxies []netip.Prefix
}

// Database is the database section.
type Database struct {
	// DataDir holds the embedded default's SQLite file (PARADISE_DATA_DIR,
	// default "./var").
	DataDir string
	// DatabaseURL is a Postgres DSN (DATABASE_URL); empty means the embedded
	// SQLite database under DataDir.
	DatabaseURL string
}

// Embedded reports whether the process runs on the embedded default
// database (SQLite) rather than Postgres.
func (c Database) Embedded() bool { return c.DatabaseURL == "" }

// SQLitePath is where the embedded default keeps its database.
func (c Database) SQLitePath() string { return filepath.Join(c.DataDir, "paradise.db") }

// Redis is the Redis section.
type Redis struct {
	// RedisURL is a redis:// URL (REDIS_URL); empty means an in-process
	// Redis-protocol server.
	RedisURL string
	// RedisPrefix is put before every Redis key (PARADISE_REDIS_PREFIX,
	// default empty, which keeps the Django system's key layout).
	RedisPrefix string
}

// Log is the logging section.
type Log struct {
	// LogLevel is debug, info, warn or error (LOG_LEVEL, default info).
	LogLevel string
	// LogFormat is console or json (LOG_FORMAT; default console on the
	// embedded default, json when DATABASE_URL is set).
	LogFormat string
}

// Auth is the credentials section.
type Auth struct {
	// TokenTTL is the lifetime of login tokens (PARADISE_TOKEN_TTL,
	// default 720h = 30 days, as in the Django system).
	TokenTTL time.Duration
}

// Metrics is the metrics server's section.
type Metrics struct {
	// MetricsAddr is where Prometheus metrics are served, at /metrics
	// (PARADISE_METRICS_ADDR, default "127.0.0.1:9464"): a listener of
	// their own, so the public API port does not expose them. Set
	// ":9464" to let a Prometheus on another host scrape it.
	MetricsAddr string
}

// Debug is the debug server's section.
type Debug struct {
	// DebugAddr, when set, serves pprof profiles on this private address
	// (PARADISE_DEBUG_ADDR, default unset: off). Never expose it publicly.
	DebugAddr string
}

// Passwords is the configuration of password hashing.
type Passwords struct {
	// HashMemory is the memory, in bytes, that password hashes running at
	// once may take together (PARADISE_PASSWORD_HASH_MEMORY, default 256MiB;
	// each argon2id hash takes 19 MiB, so 13 run at once).
	HashMemory int64
}

// Hub is the device hub's configuration.
type Hub struct {
	// SendQueue is how many frames may wait for a slow client before it is
	// disconnected (PARADISE_WS_SEND_QUEUE, default 64).
	SendQueue int
	// ReadLimit is the largest frame a client may send, in bytes
	// (PARADISE_WS_READ_LIMIT, default 65536).
	ReadLimit int64
	// Rate and Burst limit the frames a client may send per second
	// (PARADISE_WS_RATE, default 50; PARADISE_WS_BURST, default 100).
	Rate  float64
	Burst int
	// PingInterval is how often the hub pings each client to detect dead
	// peers (PARADISE_WS_PING_INTERVAL, default 30s).
	PingInterval time.Duration
	// MaxSessionsPerUser bounds the hub sessions one user (all of their
	// tokens together) may hold on one instance
	// (PARADISE_WS_MAX_SESSIONS_PER_USER, default 16).
	MaxSessionsPerUser int
	// LocalRelay lets an instance that alone has members of a group relay
	// its frames without Redis (PARADISE_HUB_LOCAL_RELAY, default true).
	// Instances of builds before it do not announce their members, so a
	// cluster upgrading from one runs the new build with false first, and
	// turns it on once no instance of an older build is left.
	LocalRelay bool
}

// Presence is the device presence section (owned by internal/device).
type Presence struct {
	// TTL is how long a device counts as online after its last sign of
	// life: the TTL of device:last_seen:{mac} (PARADISE_PRESENCE_TTL,
	// default 300s, as in the Django system).
	TTL time.Duration
	// SweepInterval is how often each instance marks devices of dead
	// instances disconnected (PARADISE_PRESENCE_SWEEP, default 10s): with
	// the 10 s instance liveness, a crashed instance's devices read
	// disconnected within about 20 s.
	SweepInterval time.Duration
}

// Chat is the AI conversations section (owned by internal/chat).
type Chat struct {
	// HistoryTokens bounds the conversation history sent to the model with
	// each message, in estimated tokens; older turns are dropped first
	// (PARADISE_CHAT_HISTORY_TOKENS, default 2000).
	HistoryTokens int
	// MessagesPerDay is how many chat messages one user may send per UTC
	// day, all instances together; 0 means no limit
	// (PARADISE_CHAT_MESSAGES_PER_DAY, default 200).
	MessagesPerDay int
	// TokensPerDay is how many model tokens (prompt and reply) one user's
	// chats may use per UTC day; 0 means no limit
	// (PARADISE_CHAT_TOKENS_PER_DAY, default 200000).
	TokensPerDay int
	// ConcurrentStreams is how many replies one user may have in progress
	// at once, all instances together; 0 means no limit
	// (PARADISE_CHAT_CONCURRENT_STREAMS, default 2).
	ConcurrentStreams int
}

// Sections are the per-module sections of a Config, provided to fx one by
// one so each module depends on its own settings only.
type Sections struct {
	fx.Out

	HTTP       HTTP
	Database   Database
	Redis      Redis
	Log        Log
	Auth       Auth
	Metrics    Metrics
	Debug      Debug
	Passwords  Passwords
	Hub        Hub
	Presence   Presence
	LLM        LLM
	Chat       Chat
	RateLimits RateLimits
	Devices    Devices
	RTC        RTC
	Speech     Speech
}

// Split returns the sections of c.
func Split(c Config) Sections {
	return Sections{HTTP: c.HTTP, Database: c.Database, Redis: c.Redis, Log: c.Log,
		Auth: c.Auth, Metrics: c.Metrics, Debug: c.Debug, Passwords: c.Passwords, Hub: c.Hub, Presence: c.Presence,
		LLM: c.LLM, Chat: c.Chat, RateLimits: c.RateLimits, Devices: c.Devices,
		RTC: c.RTC, Speech: c.Speech}
}

// Provide gives the fx graph the sections of the Config it holds; the app
// module includes it, so tests that supply their own Config get them too.
var Provide = fx.Provide(Split)

// Module supplies the Config read from the process environment.
var Module = fx.Module("config", fx.Provide(FromEnv))

// FromEnv reads the configuration from the process environment.
func FromEnv() (Config, error) { return Load(os.Getenv) }

// Load reads the configuration through getenv, applies defaults and
// validates it.
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		HTTP:     HTTP{Addr: or(getenv("PARADISE_ADDR"), ":8000")},
		Database: Database{DataDir: or(getenv("PARADISE_DATA_DIR"), "./var"), DatabaseURL: getenv("DATABASE_URL")},
		Redis:    Redis{RedisURL: getenv("REDIS_URL"), RedisPrefix: getenv("PARADISE_REDIS_PREFIX")},
		Log:      Log{LogLevel: strings.ToLower(or(getenv("LOG_LEVEL"), "info")), LogFormat: strings.ToLower(getenv("LOG_FORMAT"))},
		Metrics:  Metrics{MetricsAddr: or(getenv("PARADISE_METRICS_ADDR"), "127.0.0.1:9464")},
		Debug:    Debug{DebugAddr: getenv("PARADISE_DEBUG_ADDR")},
	}
	if c.LogFormat == "" {
		c.LogFormat = "json"
		if c.Embedded() {
			c.LogFormat = "console"
		}
	}
	var err error
	if c.TokenTTL, err = duration(getenv, "PARADISE_TOKEN_TTL", 30*24*time.Hour); err != nil {
		return Config{}, err
	}
	if c.ShutdownTimeout, err = duration(getenv, "PARADISE_SHUTDOWN_TIMEOUT", 15*time.Second); err != nil {
		return Config{}, err
	}
	if c.TrustedProxies, err = prefixes(getenv, "PARADISE_TRUSTED_PROXIES"); err != nil {
		return Config{}, err
	}
	if c.Passwords.HashMemory, err = byteSize(getenv, "PARADISE_PASSWORD_HASH_MEMORY", 256<<20); err != nil {
		return Config{}, err
	}
	c.Hub, err = loadHub(getenv)
	if err != nil {
		return Config{}, err
	}
	if c.Presence.TTL, err = duration(getenv, "PARADISE_PRESENCE_TTL", 300*time.Second); err != nil {
		return Config{}, err
	}
	if c.Presence.SweepInterval, err = duration(getenv, "PARADISE_PRESENCE_SWEEP", 10*time.Second); err != nil {
		return Config{}, err
	}
	if c.LLM, err = loadLLM(getenv); err != nil {
		return Config{}, err
	}
	if c.Chat, err = loadChat(getenv); err != nil {
		return Config{}, err
	}
	if c.RateLimits, err = loadRateLimits(getenv); err != nil {
		return Config{}, err
	}
	if c.Devices, err = loadDevices(getenv); err != nil {
		return Config{}, err
	}
	if c.RTC, err = loadRTC(getenv); err != nil {
		return Config{}, err
	}
	if c.Speech, err = loadSpeech(getenv); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

func loadHub(getenv func(string) string) (Hub, error) {
	h := Hub{}
	var err error
	if h.SendQueue, err = integer(getenv, "PARADISE_WS_SEND_QUEUE", 64); err != nil {
		return h, err
	}
	readLimit, err := integer(getenv, "PARADISE_WS_READ_LIMIT", 64<<10)
	if err != nil {
		return h, err
	}
	h.ReadLimit = int64(readLimit)
	rate, err := integer(getenv, "PARADISE_WS_RATE", 50)
	if err != nil {
		return h, err
	}
	h.Rate = float64(rate)
	if h.Burst, err = integer(getenv, "PARADISE_WS_BURST", 100); err != nil {
		return h, err
	}
	if h.PingInterval, err = duration(getenv, "PARADISE_WS_PING_INTERVAL", 30*time.Second); err != nil {
		return h, err
	}
	if h.MaxSessionsPerUser, err = integer(getenv, "PARADISE_WS_MAX_SESSIONS_PER_USER", 16); err != nil {
		return h, err
	}
	if h.LocalRelay, err = boolean(getenv, "PARADISE_HUB_LOCAL_RELAY", true); err != nil {
		return h, err
	}
	return h, nil
}

func loadChat(getenv func(string) string) (Chat, error) {
	c := Chat{}
	var err error
	if c.HistoryTokens, err = integer(getenv, "PARADISE_CHAT_HISTORY_TOKENS", 2000); err != nil {
		return c, err
	}
	if c.MessagesPerDay, err = limit(getenv, "PARADISE_CHAT_MESSAGES_PER_DAY", 200); err != nil {
		return c, err
	}
	if c.TokensPerDay, err = limit(getenv, "PARADISE_CHAT_TOKENS_PER_DAY", 200000); err != nil {
		return c, err
	}
	if c.ConcurrentStreams, err = limit(getenv, "PARADISE_CHAT_CONCURRENT_STREAMS", 2); err != nil {
		return c, err
	}
	return c, nil
}

// limit parses a non-negative integer; 0 means no limit.
func limit(getenv func(string) string, name string, def int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("config: %s: want a non-negative integer (0: no limit), got %q", name, v)
	}
	return n, nil
}

func integer(getenv func(string) string, name string, def int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("config: %s: want a positive integer, got %q", name, v)
	}
	return n, nil
}

// boolean parses true or false (or 1 or 0).
func boolean(getenv func(string) string, name string, def bool) (bool, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("config: %s: want true or false, got %q", name, v)
	}
	return b, nil
}

// byteSize parses a size: a positive integer of bytes, or one with a KiB, MiB
// or GiB suffix ("256MiB").
func byteSize(getenv func(string) string, name string, def int64) (int64, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	number, unit := v, int64(1)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			number, unit = strings.TrimSpace(n), u.size
			break
		}
	}
	n, err := strconv.ParseInt(number, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/unit {
		return 0, fmt.Errorf("config: %s: want a positive size like 256MiB, got %q", name, v)
	}
	return n * unit, nil
}

// prefixes parses a comma-separated list of IPs and CIDRs; a bare IP is a
// prefix of its full length.
func prefixes(getenv func(string) string, name string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(getenv(name), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("config: %s: %w", name, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", name, err)
		}
		// Peers' IPv4 addresses arrive unmapped; match them as such.
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "console", "json":
	default:
		return fmt.Errorf("config: LOG_FORMAT %q: want console or json", c.LogFormat)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return fmt.Errorf("config: DATABASE_URL must be a postgres:// URL")
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		return fmt.Errorf("config: REDIS_URL must be a redis:// or rediss:// URL")
	}
	if c.TokenTTL <= 0 {
		return fmt.Errorf("config: PARADISE_TOKEN_TTL must be positive")
	}
	if c.Hub.PingInterval <= 0 || c.Presence.TTL <= 0 || c.Presence.SweepInterval <= 0 {
		return fmt.Errorf("config: PARADISE_WS_PING_INTERVAL, PARADISE_PRESENCE_TTL and PARADISE_PRESENCE_SWEEP must be positive")
	}
	if err := c.LLM.Validate(); err != nil {
		return err
	}
	if err := c.Speech.Validate(); err != nil {
		return err
	}
	return c.RTC.Validate()
}

func duration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("config: %s: %w", name, err)
	}
	return d, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
