package ratelimit

import (
	"context"

	"strconv"
	"strings"
	"time"

	"paradise/internal/apperr"
	"paradise/internal/config"
	"paradise/internal/metrics"
)

// Guard applies the service's request rate limits (config.RateLimits) and
// the login lockout, shared by every instance. Each method checks every
// limit that applies and answers the first refusal as a 429 with its
// business code and Retry-After; refusals are counted in
// paradise_ratelimit_rejections_total by limit. A Redis failure is
// returned as is (outage.Is sees it): these limits guard credentials, so
// they fail closed (see the package doc).
type Guard struct {
	lim     *Limiter
	lockout *Lockout
	cfg     config.RateLimits
	m       *metrics.Metrics
}

// NewGuard returns the Guard.
func NewGuard(lim *Limiter, lockout *Lockout, cfg config.RateLimits, m *metrics.Metrics) *Guard {
	return &Guard{lim: lim, lockout: lockout, cfg: cfg, m: m}
}

// check is one limit on one subject.
type check struct {
	name  string // metrics label, and the key's stem
	limit config.Limit
	who   string
}

func (g *Guard) allow(ctx context.Context, code int, msg string, checks ...check) error {
	for _, c := range checks {
		if c.limit.Off() || c.who == "" {
			continue
		}
		rate := Rate{Events: c.limit.Events, Per: c.limit.Per}
		dec, err := g.lim.Allow(ctx, c.name+":"+c.who, rate, c.limit.Events)
		if err != nil {
			return err
		}
		if !dec.Allowed {
			g.m.RateLimitRejections.WithLabelValues(c.name).Inc()
			e := apperr.TooManyRequests(msg, dec.RetryAfter)
			e.Code = code
			return e
		}
	}
	return nil
}

// Login checks a user or admin login (or a registration's username)
// against the limits per client IP and per username, and the lockout of
// the username from this IP.
func (g *Guard) Login(ctx context.Context, ip, username string) error {
	if err := g.allow(ctx, apperr.CodeLoginRate, "Too many login attempts; try again later.",
		check{"login_ip", g.cfg.LoginIP, ip},
		check{"login_username", g.cfg.LoginUsername, usernameKey(username)}); err != nil {
		return err
	}
	left, err := g.lockout.Locked(ctx, lockoutKey(ip, username))
	if err != nil {
		return err
	}
	if left > 0 {
		g.m.RateLimitRejections.WithLabelValues("lockout").Inc()
		return lockedError(left)
	}
	return nil
}

// LoginFailed counts a failed password for the username from ip; the
// refusal to answer is a lockout 429 once it locks, so the client sees
// how long to wait.
func (g *Guard) LoginFailed(ctx context.Context, ip, username string) error {
	_, err := g.lockout.Fail(ctx, lockoutKey(ip, username))
	return err
}

// LoginSucceeded forgets the username's failures from ip.
func (g *Guard) LoginSucceeded(ctx context.Context, ip, username string) error {
	return g.lockout.Succeed(ctx, lockoutKey(ip, username))
}

// Register checks a registration against the limits per client IP.
func (g *Guard) Register(ctx context.Context, ip string) error {
	return g.allow(ctx, apperr.CodeLoginRate, "Too many registrations from this address; try again later.",
		check{"register_ip", g.cfg.RegisterIP, ip},
		check{"login_ip", g.cfg.LoginIP, ip})
}

// DeviceLogin checks a MAC login, challenge or challenge-response login
// against the limits per client IP and per (normalised) MAC.
func (g *Guard) DeviceLogin(ctx context.Context, ip, mac string) error {
	return g.allow(ctx, apperr.CodeDeviceLoginRate, "Too many device logins; try again later.",
		check{"device_login_ip", g.cfg.DeviceLoginIP, ip},
		check{"device_login_mac", g.cfg.DeviceLoginMAC, mac})
}

// Bind checks a bind by MAC against the limit per user.
func (g *Guard) Bind(ctx context.Context, userID int) error {
	return g.allow(ctx, apperr.CodeBindRate, "Too many binds; try again later.",
		check{"bind_user", g.cfg.BindUser, strconv.Itoa(userID)})
}

// Claim checks a bind by claim code against the limits per user and per
// client IP, so codes cannot be guessed quickly from one account or one
// address.
func (g *Guard) Claim(ctx context.Context, userID int, ip string) error {
	return g.allow(ctx, apperr.CodeBindRate, "Too many claim attempts; try again later.",
		check{"bind_user", g.cfg.BindUser, strconv.Itoa(userID)},
		check{"claim_ip", g.cfg.ClaimIP, ip})
}

// Push checks a push or a command against the limits per user and per
// device.
func (g *Guard) Push(ctx context.Context, userID int, mac string) error {
	return g.allow(ctx, apperr.CodePushRate, "Too many messages to this device; try again later.",
		check{"push_user", g.cfg.PushUser, strconv.Itoa(userID)},
		check{"push_device", g.cfg.PushDevice, mac})
}

func lockedError(left time.Duration) *apperr.Error {
	e := apperr.TooManyRequests("Too many failed logins for this user; try again later.", left)
	e.Code = apperr.CodeLoginLocked
	return e
}

// usernameKey folds the username's case, so "Alice" and "alice" share one
// budget whatever the database's collation.
func usernameKey(username string) string { return strings.ToLower(username) }

func lockoutKey(ip, username string) string { return usernameKey(username) + "|" + ip }
