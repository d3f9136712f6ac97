// Package auth owns credentials: password hashing and the Redis token
// store shared by REST and the device hub.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"paradise/internal/config"
	"paradise/internal/redisdb"
)

// Module provides the token store and the password hasher.
var Module = fx.Module("auth", fx.Provide(NewTokens, NewHasher))

// Kind tells user tokens from admin tokens; a token of one kind never
// authenticates a route of the other.
type Kind uint8

const (
	// User tokens come from login, register and MAC login.
	User Kind = iota
	// Admin tokens come from the admin login (staff only).
	Admin
)

// prefix is the Django system's key prefix for the kind.
func (k Kind) prefix() string {
	if k == Admin {
		return redisdb.AdminTokenPrefix
	}
	return redisdb.UserTokenPrefix
}

// ErrInvalidToken is returned for a token that is malformed, unknown,
// expired or revoked.
var ErrInvalidToken = errors.New("auth: invalid token")

// Session is what a valid token stands for.
type Session struct {
	Kind   Kind
	Token  string
	UserID int
	// MAC is set for device sessions (tokens from MAC login): the hub
	// treats such a connection as the device itself.
	MAC string
	// Snapshot is the user snapshot stored beside the token (see
	// StoreSnapshot), or nil.
	Snapshot []byte
}

// IsDevice reports whether the session is a device's (MAC login).
func (s Session) IsDevice() bool { return s.MAC != "" }

// Tokens stores tokens in Redis with the Django system's layout:
// token:{token} and admin_token:{token} hold the user id. Beside them,
// token_mac:{token} marks a device session, user_tokens:{user_id} indexes
// a user's tokens so they can all be revoked at once, and
// device_tokens:{mac} indexes a device's sessions so a rebind can revoke
// them. The indexes are sorted sets scored by expiry time, so expired
// entries are trimmed cheaply on every issue (devices log in on every boot;
// indexes would grow).
//
// Tokens issued by the Django system are in no index. Revoking all of a
// user's tokens therefore also stamps user_revoked_at:{user_id}, and a
// token outside the index is accepted only if it was issued after the
// stamp: its issue time is its expiry minus the token lifetime, which both
// systems share (30 days).
type Tokens struct {
	rdb  *redis.Client
	keys redisdb.Keys
	ttl  time.Duration
	now  func() time.Time
}

// NewTokens returns the token store.
func NewTokens(rdb *redis.Client, keys redisdb.Keys, cfg config.Auth) *Tokens {
	return &Tokens{rdb: rdb, keys: keys, ttl: cfg.TokenTTL, now: time.Now}
}

// Issue creates a token for the user. A non-empty mac makes it a device
// session.
func (t *Tokens) Issue(ctx context.Context, kind Kind, userID int, mac string) (string, error) {
	token, _, err := t.issue(ctx, kind, userID, mac, false)
	return token, err
}

// IssueWithSnapshot is Issue that also returns the user's snapshot (see
// StoreSnapshot), or nil, in the same round trip.
func (t *Tokens) IssueWithSnapshot(ctx context.Context, kind Kind, userID int, mac string) (string, []byte, error) {
	return t.issue(ctx, kind, userID, mac, true)
}

func (t *Tokens) issue(ctx context.Context, kind Kind, userID int, mac string, withSnapshot bool) (string, []byte, error) {
	var raw [16]byte // 128 bits
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, fmt.Errorf("auth: token: %w", err)
	}
	token := hex.EncodeToString(raw[:])
	now := t.now()
	expiry := float64(now.Add(t.ttl).Unix())
	expired := strconv.FormatInt(now.Unix(), 10)
	var snap *redis.StringCmd
	_, err := t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, t.keys.Token(kind.prefix(), token), strconv.Itoa(userID), t.ttl)
		index := t.keys.UserTokens(userID)
		p.ZAdd(ctx, index, redis.Z{Score: expiry, Member: kind.prefix() + token})
		p.ZRemRangeByScore(ctx, index, "-inf", expired)
		p.Expire(ctx, index, t.ttl)
		if mac != "" {
			p.Set(ctx, t.keys.TokenMAC(token), mac, t.ttl)
			devIndex := t.keys.DeviceTokens(mac)
			p.ZAdd(ctx, devIndex, redis.Z{Score: expiry, Member: token})
			p.ZRemRangeByScore(ctx, devIndex, "-inf", expired)
			p.Expire(ctx, devIndex, t.ttl)
		}
		if withSnapshot {
			snap = p.Get(ctx, t.keys.UserSnapshot(userID))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", nil, fmt.Errorf("auth: issue token: %w", err)
	}
	if snap != nil {
		if b, err := snap.Bytes(); err == nil {
			return token, b, nil
		}
	}
	return token, nil, nil
}

// lookup reads a token, its device MAC and its user's snapshot in one
// round trip: every authenticated request runs it. Keys derived from the
// user id read here (snapshot, revocation stamp, index) cannot be declared
// in KEYS (fine on a single Redis, not on Redis Cluster).
//
// KEYS: token, token_mac. ARGV: snapshot key prefix, revocation stamp
// prefix, index prefix, index member, token lifetime in ms.
var lookup = redis.NewScript(`
local uid = redis.call('GET', KEYS[1])
if not uid then return false end
local stamp = redis.call('GET', ARGV[2] .. uid)
if stamp and not redis.call('ZSCORE', ARGV[3] .. uid, ARGV[4]) then
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl < 0 then return false end
  local t = redis.call('TIME')
  local issued = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + pttl - tonumber(ARGV[5])
  if issued <= tonumber(stamp) then return false end
end
return {uid, redis.call('GET', KEYS[2]), redis.call('GET', ARGV[1] .. uid)}`)

// Lookup resolves a token of the given kind.
func (t *Tokens) Lookup(ctx context.Context, kind Kind, token string) (Session, error) {
	if !wellFormed(token) {
		return Session{}, ErrInvalidToken
	}
	macKey := t.keys.TokenMAC(token)
	if kind != User {
		macKey = t.keys.AdminTokenMAC(token)
	}
	res, err := lookup.Run(ctx, t.rdb, []string{t.keys.Token(kind.prefix(), token), macKey},
		t.keys.UserSnapshotPrefix(), t.keys.UserRevokedAtPrefix(), t.keys.UserTokensPrefix(),
		kind.prefix()+token, t.ttl.Milliseconds()).Slice()
	if errors.Is(err, redis.Nil) {
		return Session{}, ErrInvalidToken
	}
	if err != nil {
		return Session{}, fmt.Errorf("auth: lookup token: %w", err)
	}
	s, _ := res[0].(string)
	userID, err := strconv.Atoi(s)
	if err != nil {
		return Session{}, ErrInvalidToken
	}
	sess := Session{Kind: kind, Token: token, UserID: userID}
	sess.MAC, _ = res[1].(string)
	if snap, ok := res[2].(string); ok {
		sess.Snapshot = []byte(snap)
	}
	return sess, nil
}

// snapshotTTL bounds how long a snapshot can outlive a missed update.
const snapshotTTL = 10 * time.Minute

// StoreSnapshot keeps a snapshot of the user (an opaque blob, owned by the
// account service) beside their tokens, so Lookup returns it without a
// database read. A reader filling a missing snapshot passes onlyIfAbsent,
// so it cannot overwrite a newer snapshot a writer stored meanwhile.
func (t *Tokens) StoreSnapshot(ctx context.Context, userID int, blob []byte, onlyIfAbsent bool) error {
	key := t.keys.UserSnapshot(userID)
	var err error
	if onlyIfAbsent {
		err = t.rdb.SetNX(ctx, key, blob, snapshotTTL).Err()
	} else {
		err = t.rdb.Set(ctx, key, blob, snapshotTTL).Err()
	}
	if err != nil {
		return fmt.Errorf("auth: store user snapshot: %w", err)
	}
	return nil
}

// DropSnapshot deletes the user's snapshot (the user was deleted): an id
// the database hands out again must not find the old user's snapshot.
func (t *Tokens) DropSnapshot(ctx context.Context, userID int) error {
	if err := t.rdb.Del(ctx, t.keys.UserSnapshot(userID)).Err(); err != nil {
		return fmt.Errorf("auth: drop user snapshot: %w", err)
	}
	return nil
}

// Revoke deletes one session's token.
func (t *Tokens) Revoke(ctx context.Context, s Session) error {
	_, err := t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, t.keys.Token(s.Kind.prefix(), s.Token), t.keys.TokenMAC(s.Token))
		p.ZRem(ctx, t.keys.UserTokens(s.UserID), s.Kind.prefix()+s.Token)
		if s.MAC != "" {
			p.ZRem(ctx, t.keys.DeviceTokens(s.MAC), s.Token)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: revoke token: %w", err)
	}
	return nil
}

// RevokeUser deletes every token of the user, user and admin alike, except
// the session keep (pass a zero Session to keep none), and stamps the
// revocation so tokens outside the index (the Django system's) stop
// working too.
func (t *Tokens) RevokeUser(ctx context.Context, userID int, keep Session) error {
	index := t.keys.UserTokens(userID)
	members, err := t.rdb.ZRange(ctx, index, 0, -1).Result()
	if err != nil {
		return fmt.Errorf("auth: revoke user tokens: %w", err)
	}
	kept := ""
	if keep.Token != "" {
		kept = keep.Kind.prefix() + keep.Token
	}
	var dels, rems []string
	for _, m := range members {
		if m == kept {
			continue
		}
		dels = append(dels, t.keys.Raw(m))
		if token, ok := strings.CutPrefix(m, User.prefix()); ok {
			dels = append(dels, t.keys.TokenMAC(token))
		}
		rems = append(rems, m)
	}
	now := t.now()
	_, err = t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if len(dels) > 0 {
			p.Del(ctx, dels...)
			p.ZRem(ctx, index, toAny(rems)...)
		}
		if kept != "" {
			// A kept token from the Django system joins the index, so the
			// stamp below does not refuse it.
			p.ZAddNX(ctx, index, redis.Z{Score: float64(now.Add(t.ttl).Unix()), Member: kept})
			p.Expire(ctx, index, t.ttl)
		}
		// Every token issued before now is older than the stamp; after
		// one lifetime none of them can still exist.
		p.Set(ctx, t.keys.UserRevokedAt(userID), now.UnixMilli(), t.ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: revoke user tokens: %w", err)
	}
	return nil
}

// RevokeDevice deletes every device-session token of the device with this
// MAC, whoever it was issued for: the device changed hands. It returns the
// revoked tokens.
func (t *Tokens) RevokeDevice(ctx context.Context, mac string) ([]string, error) {
	index := t.keys.DeviceTokens(mac)
	tokens, err := t.rdb.ZRange(ctx, index, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("auth: revoke device tokens: %w", err)
	}
	if len(tokens) == 0 {
		return nil, nil
	}
	// The user index keeps the dead members until they expire or the
	// user's tokens are revoked; a member whose key is gone is harmless.
	dels := make([]string, 0, 2*len(tokens)+1)
	for _, tok := range tokens {
		dels = append(dels, t.keys.Token(User.prefix(), tok), t.keys.TokenMAC(tok))
	}
	dels = append(dels, index)
	if err := t.rdb.Del(ctx, dels...).Err(); err != nil {
		return nil, fmt.Errorf("auth: revoke device tokens: %w", err)
	}
	return tokens, nil
}

// wellFormed accepts our hex tokens and the Django system's UUID tokens
// (with or without dashes), and keeps junk out of Redis key names.
func wellFormed(token string) bool {
	if len(token) < 16 || len(token) > 128 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ParseHeader extracts the token from an Authorization header value:
// "Token <t>" or "Bearer <t>" (scheme case-insensitive).
func ParseHeader(v string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return "", false
	}
	if !strings.EqualFold(scheme, "Token") && !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
