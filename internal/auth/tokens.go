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
		return "admin_token:"
	}
	return "token:"
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

// Tokens stores tokens in Redis with the Django system's layout:
// token:{token} and admin_token:{token} hold the user id. Beside them,
// token_mac:{token} marks a device session and user_tokens:{user_id} indexes
// a user's tokens so they can all be revoked at once. The index is a sorted
// set scored by expiry time, so expired entries are trimmed cheaply on
// every issue (devices log in on every boot; indexes would grow).
type Tokens struct {
	rdb  *redis.Client
	keys redisdb.Keys
	ttl  time.Duration
}

// NewTokens returns the token store.
func NewTokens(rdb *redis.Client, keys redisdb.Keys, cfg config.Config) *Tokens {
	return &Tokens{rdb: rdb, keys: keys, ttl: cfg.TokenTTL}
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
	index := t.indexKey(userID)
	now := time.Now()
	var snap *redis.StringCmd
	_, err := t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, t.keys.Key(kind.prefix(), token), strconv.Itoa(userID), t.ttl)
		if mac != "" {
			p.Set(ctx, t.keys.Key("token_mac:", token), mac, t.ttl)
		}
		p.ZAdd(ctx, index, redis.Z{Score: float64(now.Add(t.ttl).Unix()), Member: kind.prefix() + token})
		p.ZRemRangeByScore(ctx, index, "-inf", strconv.FormatInt(now.Unix(), 10))
		p.Expire(ctx, index, t.ttl)
		if withSnapshot {
			snap = p.Get(ctx, t.snapshotKey(userID))
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
// round trip: every authenticated request runs it. The snapshot key is
// derived from the user id read here, so it cannot be declared in KEYS
// (fine on a single Redis, not on Redis Cluster).
var lookup = redis.NewScript(`
local uid = redis.call('GET', KEYS[1])
if not uid then return false end
return {uid, redis.call('GET', KEYS[2]), redis.call('GET', ARGV[1] .. uid)}`)

// Lookup resolves a token of the given kind.
func (t *Tokens) Lookup(ctx context.Context, kind Kind, token string) (Session, error) {
	if !wellFormed(token) {
		return Session{}, ErrInvalidToken
	}
	macKey := t.keys.Key("token_mac:", token)
	if kind != User {
		// Admin tokens are never device sessions; this key never exists.
		macKey = t.keys.Key("admin_token_mac:", token)
	}
	res, err := lookup.Run(ctx, t.rdb, []string{t.keys.Key(kind.prefix(), token), macKey}, t.keys.Key("user_snapshot:")).Slice()
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
	key := t.snapshotKey(userID)
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

// Snapshot returns the user's snapshot, or nil.
func (t *Tokens) Snapshot(ctx context.Context, userID int) ([]byte, error) {
	b, err := t.rdb.Get(ctx, t.snapshotKey(userID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth: user snapshot: %w", err)
	}
	return b, nil
}

// Revoke deletes one session's token.
func (t *Tokens) Revoke(ctx context.Context, s Session) error {
	_, err := t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, t.keys.Key(s.Kind.prefix(), s.Token), t.keys.Key("token_mac:", s.Token))
		p.ZRem(ctx, t.indexKey(s.UserID), s.Kind.prefix()+s.Token)
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: revoke token: %w", err)
	}
	return nil
}

// RevokeUser deletes every token of the user, user and admin alike, except
// the session keep (pass a zero Session to keep none).
func (t *Tokens) RevokeUser(ctx context.Context, userID int, keep Session) error {
	index := t.indexKey(userID)
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
		dels = append(dels, t.keys.Key(m))
		if token, ok := strings.CutPrefix(m, User.prefix()); ok {
			dels = append(dels, t.keys.Key("token_mac:", token))
		}
		rems = append(rems, m)
	}
	if len(rems) == 0 {
		return nil
	}
	_, err = t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, dels...)
		p.ZRem(ctx, index, toAny(rems)...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: revoke user tokens: %w", err)
	}
	return nil
}

func (t *Tokens) snapshotKey(userID int) string {
	return t.keys.Key("user_snapshot:", strconv.Itoa(userID))
}

func (t *Tokens) indexKey(userID int) string {
	return t.keys.Key("user_tokens:", strconv.Itoa(userID))
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
