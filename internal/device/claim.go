package device

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/internal/apperr"
	"paradise/internal/config"
	"paradise/internal/redisdb"
)

// ClaimAlphabet has no look-alikes (no 0/O, 1/I/L): a code is read off a
// screen or spoken and typed into an app.
const ClaimAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// ClaimCodeLength is the length of a claim code: 31^8 ≈ 8.5e11 codes, so
// a guesser held to the claim rate limits finds one live code in years.
const ClaimCodeLength = 8

// Claims issues and redeems claim codes: short single-use codes a device
// shows so that an app can bind it without knowing (or trusting) its MAC.
// They live in Redis (claim:code:{code} -> MAC, claim:device:{mac} ->
// code), with the code's lifetime as TTL, one live code per device.
type Claims struct {
	rdb  redis.Cmdable
	keys redisdb.Keys
	ttl  time.Duration
}

// NewClaims returns the claim codes service.
func NewClaims(rdb *redis.Client, keys redisdb.Keys, cfg config.Devices) *Claims {
	return &Claims{rdb: rdb, keys: keys, ttl: cfg.ClaimTTL}
}

// issueScript: KEYS[1] the new code's key, KEYS[2] the device's key,
// KEYS[3] the code key prefix; ARGV: MAC, code, TTL (ms). Retires the
// device's previous code and stores the new one; 0 if the code is taken.
var issueScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local old = redis.call('GET', KEYS[2])
if old then redis.call('DEL', KEYS[3] .. old) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`)

// redeemScript: KEYS[1] the code's key, KEYS[2] the device key prefix;
// ARGV[1] the code. Uses the code up and returns its MAC (nil: no such
// live code).
var redeemScript = redis.NewScript(`
local mac = redis.call('GET', KEYS[1])
if not mac then return false end
redis.call('DEL', KEYS[1])
local dev = KEYS[2] .. mac
if redis.call('GET', dev) == ARGV[1] then redis.call('DEL', dev) end
return mac
`)

// Issue returns a new claim code for the device, replacing its previous
// one.
func (c *Claims) Issue(ctx context.Context, mac string) (string, time.Duration, error) {
	for range 5 {
		code, err := randomCode()
		if err != nil {
			return "", 0, err
		}
		ok, err := issueScript.Run(ctx, c.rdb,
			[]string{c.keys.ClaimCode(code), c.keys.ClaimDevice(mac), c.keys.ClaimCode("")},
			mac, code, c.ttl.Milliseconds()).Int()
		if err != nil {
			return "", 0, fmt.Errorf("device: claim code: %w", err)
		}
		if ok == 1 {
			return code, c.ttl, nil
		}
	}
	return "", 0, errors.New("device: claim code: no free code after 5 tries")
}

// Redeem uses a claim code up and returns its device's MAC.
func (c *Claims) Redeem(ctx context.Context, raw string) (string, error) {
	code := NormalizeClaimCode(raw)
	if len(code) != ClaimCodeLength {
		return "", claimInvalid()
	}
	mac, err := redeemScript.Run(ctx, c.rdb, []string{c.keys.ClaimCode(code), c.keys.ClaimDevice("")}, code).Text()
	if errors.Is(err, redis.Nil) {
		return "", claimInvalid()
	}
	if err != nil {
		return "", fmt.Errorf("device: redeem claim code: %w", err)
	}
	return mac, nil
}

func claimInvalid() *apperr.Error {
	return apperr.Coded(http.StatusBadRequest, apperr.CodeClaimCodeInvalid, "Invalid or expired claim code.")
}

// NormalizeClaimCode upper-cases a typed code and drops spaces and dashes.
func NormalizeClaimCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r == ' ' || r == '-' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func randomCode() (string, error) {
	b := make([]byte, ClaimCodeLength)
	n := big.NewInt(int64(len(ClaimAlphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, n)
		if err != nil {
			return "", err
		}
		b[i] = ClaimAlphabet[v.Int64()]
	}
	return string(b), nil
}
