package config

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limit is a request rate: Events per Per, in bursts of up to Events. The
// zero Limit is off (no limit).
type Limit struct {
	Events int64
	Per    time.Duration
}

// Off reports whether the limit is disabled.
func (l Limit) Off() bool { return l.Events <= 0 || l.Per <= 0 }

// String is the limit in its setting's syntax ("10/1m0s", or "0").
func (l Limit) String() string {
	if l.Off() {
		return "0"
	}
	return strconv.FormatInt(l.Events, 10) + "/" + l.Per.String()
}

// RateLimits are the request rate limits that guard credentials and
// fan-out (owned by internal/ratelimit's Guard, used by account, device
// and command). Each is "N/duration" (N requests per duration, in bursts
// of up to N) or "0" (off), and is shared by every instance.
type RateLimits struct {
	// LoginIP and LoginUsername limit user and admin logins and
	// registrations per client IP and per username
	// (PARADISE_RATE_LOGIN_IP, default 30/1m; PARADISE_RATE_LOGIN_USERNAME,
	// default 100/1h).
	LoginIP       Limit
	LoginUsername Limit
	// RegisterIP limits registrations per client IP
	// (PARADISE_RATE_REGISTER_IP, default 30/1h).
	RegisterIP Limit
	// DeviceLoginIP and DeviceLoginMAC limit MAC logins, challenges and
	// challenge-response logins per client IP and per MAC
	// (PARADISE_RATE_DEVICE_LOGIN_IP, default 120/1m;
	// PARADISE_RATE_DEVICE_LOGIN_MAC, default 10/1m).
	DeviceLoginIP  Limit
	DeviceLoginMAC Limit
	// BindUser limits binds and claims per user, ClaimIP claims per client
	// IP (PARADISE_RATE_BIND_USER, default 20/1m; PARADISE_RATE_CLAIM_IP,
	// default 30/1m).
	BindUser Limit
	ClaimIP  Limit
	// PushUser and PushDevice limit pushes and commands per user and per
	// device (PARADISE_RATE_PUSH_USER, default 120/1m;
	// PARADISE_RATE_PUSH_DEVICE, default 60/1m).
	PushUser   Limit
	PushDevice Limit
	// LockoutAfter failed logins in a row for one username from one client
	// IP lock further attempts of that pair for LockoutBase, doubling with
	// each further failure up to LockoutMax; a success or a day without
	// failures forgets them (PARADISE_LOGIN_LOCKOUT_AFTER, default 5, 0:
	// off; PARADISE_LOGIN_LOCKOUT_BASE, default 1s;
	// PARADISE_LOGIN_LOCKOUT_MAX, default 15m).
	LockoutAfter int
	LockoutBase  time.Duration
	LockoutMax   time.Duration
}

// Devices is the device credentials section (owned by internal/device).
type Devices struct {
	// MACLogin is the global bare-MAC login policy (PARADISE_MAC_LOGIN):
	// "legacy" (default) lets devices without a secret log in by MAC;
	// "off" refuses MAC login everywhere. A per-device admin override
	// wins over "legacy".
	MACLogin string
	// BindByMAC lets apps bind a device by its bare MAC address
	// (PARADISE_BIND_BY_MAC, default true); devices with a secret are
	// bound by claim code only, whatever this says.
	BindByMAC bool
	// SecretKey encrypts device secrets at rest (AES-256-GCM)
	// (PARADISE_DEVICE_SECRET_KEY: 32 bytes, base64). Required to
	// provision secrets when DATABASE_URL is set; on the embedded default
	// an unset key is generated once into PARADISE_DATA_DIR.
	SecretKey []byte
	// ChallengeTTL is how long a login nonce is valid, and how far a
	// signed timestamp may be from the server's clock
	// (PARADISE_DEVICE_CHALLENGE_TTL, default 60s).
	ChallengeTTL time.Duration
	// ClaimTTL is how long a claim code is valid
	// (PARADISE_CLAIM_CODE_TTL, default 5m).
	ClaimTTL time.Duration
}

func loadRateLimits(getenv func(string) string) (RateLimits, error) {
	r := RateLimits{}
	for _, s := range []struct {
		name string
		def  Limit
		dst  *Limit
	}{
		{"PARADISE_RATE_LOGIN_IP", Limit{30, time.Minute}, &r.LoginIP},
		{"PARADISE_RATE_LOGIN_USERNAME", Limit{100, time.Hour}, &r.LoginUsername},
		{"PARADISE_RATE_REGISTER_IP", Limit{30, time.Hour}, &r.RegisterIP},
		{"PARADISE_RATE_DEVICE_LOGIN_IP", Limit{120, time.Minute}, &r.DeviceLoginIP},
		{"PARADISE_RATE_DEVICE_LOGIN_MAC", Limit{10, time.Minute}, &r.DeviceLoginMAC},
		{"PARADISE_RATE_BIND_USER", Limit{20, time.Minute}, &r.BindUser},
		{"PARADISE_RATE_CLAIM_IP", Limit{30, time.Minute}, &r.ClaimIP},
		{"PARADISE_RATE_PUSH_USER", Limit{120, time.Minute}, &r.PushUser},
		{"PARADISE_RATE_PUSH_DEVICE", Limit{60, time.Minute}, &r.PushDevice},
	} {
		l, err := rateLimit(getenv, s.name, s.def)
		if err != nil {
			return r, err
		}
		*s.dst = l
	}
	var err error
	if r.LockoutAfter, err = limit(getenv, "PARADISE_LOGIN_LOCKOUT_AFTER", 5); err != nil {
		return r, err
	}
	if r.LockoutBase, err = duration(getenv, "PARADISE_LOGIN_LOCKOUT_BASE", time.Second); err != nil {
		return r, err
	}
	if r.LockoutMax, err = duration(getenv, "PARADISE_LOGIN_LOCKOUT_MAX", 15*time.Minute); err != nil {
		return r, err
	}
	if r.LockoutBase <= 0 || r.LockoutMax < r.LockoutBase {
		return r, fmt.Errorf("config: PARADISE_LOGIN_LOCKOUT_BASE must be positive and at most PARADISE_LOGIN_LOCKOUT_MAX")
	}
	return r, nil
}

// rateLimit parses "N/duration" ("30/1m") or "0" (off).
func rateLimit(getenv func(string) string, name string, def Limit) (Limit, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	if v == "0" {
		return Limit{}, nil
	}
	n, per, ok := strings.Cut(v, "/")
	events, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	if !ok || err != nil || events <= 0 {
		return Limit{}, fmt.Errorf("config: %s: want N/duration like 30/1m, or 0 (off), got %q", name, v)
	}
	d, err := time.ParseDuration(strings.TrimSpace(per))
	// The limiter counts in microseconds: a million events a second at most.
	if err != nil || d <= 0 || d/time.Microsecond < time.Duration(events) {
		return Limit{}, fmt.Errorf("config: %s: want N/duration like 30/1m, or 0 (off), got %q", name, v)
	}
	return Limit{Events: events, Per: d}, nil
}

func loadDevices(getenv func(string) string) (Devices, error) {
	d := Devices{MACLogin: strings.ToLower(or(getenv("PARADISE_MAC_LOGIN"), "legacy")), BindByMAC: true}
	switch d.MACLogin {
	case "legacy", "off":
	default:
		return d, fmt.Errorf("config: PARADISE_MAC_LOGIN %q: want legacy or off", d.MACLogin)
	}
	if v := getenv("PARADISE_BIND_BY_MAC"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return d, fmt.Errorf("config: PARADISE_BIND_BY_MAC: want true or false, got %q", v)
		}
		d.BindByMAC = b
	}
	if v := getenv("PARADISE_DEVICE_SECRET_KEY"); v != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil || len(key) != 32 {
			// Never echo the value: it is a secret.
			return d, fmt.Errorf("config: PARADISE_DEVICE_SECRET_KEY: want 32 bytes in base64")
		}
		d.SecretKey = key
	}
	var err error
	if d.ChallengeTTL, err = duration(getenv, "PARADISE_DEVICE_CHALLENGE_TTL", time.Minute); err != nil {
		return d, err
	}
	if d.ClaimTTL, err = duration(getenv, "PARADISE_CLAIM_CODE_TTL", 5*time.Minute); err != nil {
		return d, err
	}
	if d.ChallengeTTL <= 0 || d.ClaimTTL <= 0 {
		return d, fmt.Errorf("config: PARADISE_DEVICE_CHALLENGE_TTL and PARADISE_CLAIM_CODE_TTL must be positive")
	}
	return d, nil
}
