package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/internal/auth"
	"paradise/internal/config"
	"paradise/internal/redisdb"
	"paradise/internal/testenv"
)

const tokenTTL = time.Hour

// store is a token store on real Redis under the test's own key prefix.
type store struct {
	*auth.Tokens
	rdb  *redis.Client
	keys redisdb.Keys
}

func newStore(t *testing.T) *store {
	t.Helper()
	url, prefix := testenv.NewRedisPrefix(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	keys := redisdb.NewKeys(config.Redis{RedisPrefix: prefix})
	return &store{Tokens: auth.NewTokens(rdb, keys, config.Auth{TokenTTL: tokenTTL}), rdb: rdb, keys: keys}
}

func (s *store) issue(t *testing.T, kind auth.Kind, userID int, mac string) string {
	t.Helper()
	tok, err := s.Issue(context.Background(), kind, userID, mac)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok
}

// valid asserts that the token is (or is not) a session of the user.
func (s *store) valid(t *testing.T, kind auth.Kind, token string, userID int, want bool) auth.Session {
	t.Helper()
	sess, err := s.Lookup(context.Background(), kind, token)
	switch {
	case want && err != nil:
		t.Fatalf("Lookup(kind %d, %s) = %v, want a session of user %d", kind, token, err, userID)
	case want && (sess.UserID != userID || sess.Token != token || sess.Kind != kind):
		t.Fatalf("Lookup(kind %d, %s) = %+v, want user %d", kind, token, sess, userID)
	case !want && !errors.Is(err, auth.ErrInvalidToken):
		t.Fatalf("Lookup(kind %d, %s) = %+v, %v; want ErrInvalidToken", kind, token, sess, err)
	}
	return sess
}

func (s *store) indexKey(userID int) string {
	return s.keys.UserTokens(userID)
}

// index lists the user_tokens index of the user.
func (s *store) index(t *testing.T, userID int) []string {
	t.Helper()
	m, err := s.rdb.ZRange(context.Background(), s.indexKey(userID), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTokensIssueLookup(t *testing.T) {
	s := newStore(t)
	tests := []struct {
		name   string
		kind   auth.Kind
		other  auth.Kind
		userID int
		mac    string
	}{
		{"user token", auth.User, auth.Admin, 7, ""},
		{"admin token", auth.Admin, auth.User, 8, ""},
		{"device session", auth.User, auth.Admin, 9, "AA:BB:CC:00:00:01"},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := s.issue(t, tc.kind, tc.userID, tc.mac)
			if len(tok) < 32 {
				t.Fatalf("token %q is shorter than 128 bits of hex", tok)
			}
			if seen[tok] {
				t.Fatalf("token %q issued twice", tok)
			}
			seen[tok] = true
			sess := s.valid(t, tc.kind, tok, tc.userID, true)
			if sess.MAC != tc.mac {
				t.Fatalf("session MAC = %q, want %q", sess.MAC, tc.mac)
			}
			// A token of one kind never authenticates the other kind.
			s.valid(t, tc.other, tok, 0, false)
			// The key layout is the Django system's.
			prefix := map[auth.Kind]string{auth.User: "token:", auth.Admin: "admin_token:"}[tc.kind]
			got, err := s.rdb.Get(context.Background(), s.keys.Token(prefix, tok)).Result()
			if err != nil || got != strconv.Itoa(tc.userID) {
				t.Fatalf("GET %s%s = %q, %v; want %d", prefix, tok, got, err, tc.userID)
			}
		})
	}
	t.Run("unknown token", func(t *testing.T) {
		s.valid(t, auth.User, "0123456789abcdef0123456789abcdef", 0, false)
		s.valid(t, auth.Admin, "0123456789abcdef0123456789abcdef", 0, false)
	})
	t.Run("Django UUID token accepted", func(t *testing.T) {
		const tok = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
		if err := s.rdb.Set(context.Background(), s.keys.Token("token:", tok), "42", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		s.valid(t, auth.User, tok, 42, true)
	})
	t.Run("non-numeric user id is invalid", func(t *testing.T) {
		const tok = "ffffffffffffffffffffffffffffffff"
		if err := s.rdb.Set(context.Background(), s.keys.Token("token:", tok), "nobody", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		s.valid(t, auth.User, tok, 0, false)
	})
}

func TestTokensTTL(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	tok := s.issue(t, auth.User, 11, "AA:BB:CC:00:00:02")
	admin := s.issue(t, auth.Admin, 11, "")
	keys := []string{
		s.keys.Token("token:", tok),
		s.keys.TokenMAC(tok),
		s.keys.Token("admin_token:", admin),
		s.keys.UserTokens(11),
	}
	for _, k := range keys {
		t.Run(k, func(t *testing.T) {
			ttl, err := s.rdb.TTL(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl <= 0 || ttl > tokenTTL {
				t.Fatalf("TTL %s = %v, want in (0, %v]", k, ttl, tokenTTL)
			}
		})
	}
}

func TestTokensRevoke(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const uid = 21
	device := s.issue(t, auth.User, uid, "AA:BB:CC:00:00:03")
	other := s.issue(t, auth.User, uid, "")
	sess := s.valid(t, auth.User, device, uid, true)

	if err := s.Revoke(ctx, sess); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	s.valid(t, auth.User, device, uid, false)
	s.valid(t, auth.User, other, uid, true)
	if n, _ := s.rdb.Exists(ctx, s.keys.TokenMAC(device)).Result(); n != 0 {
		t.Fatalf("token_mac key of a revoked token still exists")
	}
	idx := s.index(t, uid)
	if len(idx) != 1 || idx[0] != "token:"+other {
		t.Fatalf("user_tokens index = %v, want only token:%s", idx, other)
	}
	// Revoking again is harmless.
	if err := s.Revoke(ctx, sess); err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
}

func TestTokensRevokeUser(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const uid, bystander = 31, 32
	keep := s.issue(t, auth.User, uid, "")
	device := s.issue(t, auth.User, uid, "AA:BB:CC:00:00:04")
	plain := s.issue(t, auth.User, uid, "")
	admin := s.issue(t, auth.Admin, uid, "")
	theirs := s.issue(t, auth.User, bystander, "")
	theirAdmin := s.issue(t, auth.Admin, bystander, "")

	kept := s.valid(t, auth.User, keep, uid, true)
	if err := s.RevokeUser(ctx, uid, kept); err != nil {
		t.Fatalf("RevokeUser(keep one): %v", err)
	}
	checks := []struct {
		name  string
		kind  auth.Kind
		token string
		user  int
		valid bool
	}{
		{"kept session", auth.User, keep, uid, true},
		{"device session revoked", auth.User, device, uid, false},
		{"other user token revoked", auth.User, plain, uid, false},
		{"admin token revoked", auth.Admin, admin, uid, false},
		{"another user's token untouched", auth.User, theirs, bystander, true},
		{"another user's admin token untouched", auth.Admin, theirAdmin, bystander, true},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { s.valid(t, c.kind, c.token, c.user, c.valid) })
	}
	if n, _ := s.rdb.Exists(ctx, s.keys.TokenMAC(device)).Result(); n != 0 {
		t.Fatalf("token_mac key of a revoked device session still exists")
	}
	if idx := s.index(t, uid); len(idx) != 1 || idx[0] != "token:"+keep {
		t.Fatalf("user_tokens index = %v, want only token:%s", idx, keep)
	}

	t.Run("keep none", func(t *testing.T) {
		if err := s.RevokeUser(ctx, uid, auth.Session{}); err != nil {
			t.Fatalf("RevokeUser(keep none): %v", err)
		}
		s.valid(t, auth.User, keep, uid, false)
		if idx := s.index(t, uid); len(idx) != 0 {
			t.Fatalf("user_tokens index = %v, want empty", idx)
		}
		s.valid(t, auth.User, theirs, bystander, true)
	})
	t.Run("user without tokens", func(t *testing.T) {
		if err := s.RevokeUser(ctx, 999, auth.Session{}); err != nil {
			t.Fatalf("RevokeUser(no tokens): %v", err)
		}
	})
}

// TestTokensMalformed runs against a client whose server does not exist:
// malformed tokens must be rejected before any Redis call.
func TestTokensMalformed(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	tokens := auth.NewTokens(rdb, redisdb.NewKeys(config.Redis{}), config.Auth{TokenTTL: tokenTTL})
	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"too short", "abc123"},
		{"15 chars", "0123456789abcde"},
		{"too long", string(make([]byte, 129))},
		{"glob characters", "0123456789abcdef*"},
		{"colon (key injection)", "0123456789abcdef:x"},
		{"space", "0123456789abcdef 0"},
		{"newline", "0123456789abcdef\r\nFLUSHALL"},
		{"non-ascii", "0123456789abcdefé"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, kind := range []auth.Kind{auth.User, auth.Admin} {
				if _, err := tokens.Lookup(context.Background(), kind, tc.token); err != auth.ErrInvalidToken {
					t.Fatalf("Lookup(%q) = %v, want ErrInvalidToken without a Redis call", tc.token, err)
				}
			}
		})
	}
	// Contrast: a well-formed token does reach (the missing) Redis.
	if _, err := tokens.Lookup(context.Background(), auth.User, "0123456789abcdef0123456789abcdef"); err == nil || errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("Lookup(well-formed) on a dead Redis = %v, want a connection error", err)
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name   string
		header string
		token  string
		ok     bool
	}{
		{"token scheme", "Token abc123", "abc123", true},
		{"bearer scheme", "Bearer abc123", "abc123", true},
		{"lower-case token", "token abc123", "abc123", true},
		{"upper-case bearer", "BEARER abc123", "abc123", true},
		{"surrounding spaces", "  Token abc123  ", "abc123", true},
		{"extra spaces between", "Token    abc123", "abc123", true},
		{"missing header", "", "", false},
		{"scheme only", "Token", "", false},
		{"scheme and spaces only", "Token    ", "", false},
		{"bare token", "abc123", "", false},
		{"basic scheme", "Basic dXNlcjpwYXNz", "", false},
		{"scheme glued to token", "Tokenabc123", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, ok := auth.ParseHeader(tc.header)
			if token != tc.token || ok != tc.ok {
				t.Fatalf("ParseHeader(%q) = %q, %v; want %q, %v", tc.header, token, ok, tc.token, tc.ok)
			}
		})
	}
}

// TestTokensPrune checks that the user_tokens index does not grow without
// bound: entries whose tokens have expired are dropped when the user gets
// a new token, live ones never are.
func TestTokensPrune(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const uid = 41
	index := s.indexKey(uid)
	var live []string
	for range 70 { // more than a screenful of device boots
		live = append(live, s.issue(t, auth.User, uid, ""))
	}
	if n := len(s.index(t, uid)); n != len(live) {
		t.Fatalf("index size = %d, want %d: live tokens were dropped", n, len(live))
	}
	// Each entry expires with its token.
	now := time.Now()
	for _, z := range s.rdb.ZRangeWithScores(ctx, index, 0, -1).Val() {
		exp := time.Unix(int64(z.Score), 0)
		if exp.Before(now.Add(tokenTTL-time.Minute)) || exp.After(now.Add(tokenTTL+time.Minute)) {
			t.Fatalf("index entry %v expires at %v, want about now + %v", z.Member, exp, tokenTTL)
		}
	}
	// Tokens issued long ago whose TTL has passed: their keys are gone,
	// their index entries are not yet.
	var expired []redis.Z
	for i := range 40 {
		expired = append(expired, redis.Z{Score: float64(now.Add(-time.Duration(i+1) * time.Minute).Unix()),
			Member: "token:expired" + strconv.Itoa(i) + "0123456789abcdef"})
	}
	if err := s.rdb.ZAdd(ctx, index, expired...).Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.index(t, uid)); n != len(live)+len(expired) {
		t.Fatalf("index size before pruning = %d, want %d", n, len(live)+len(expired))
	}
	live = append(live, s.issue(t, auth.User, uid, ""))
	idx := s.index(t, uid)
	if len(idx) != len(live) {
		t.Fatalf("index size after issuing = %d, want %d (live tokens only)", len(idx), len(live))
	}
	inIndex := map[string]bool{}
	for _, m := range idx {
		inIndex[m] = true
	}
	for _, tok := range live {
		if !inIndex["token:"+tok] {
			t.Fatalf("live token %s was pruned from the index", tok)
		}
	}
	// The index still drives RevokeUser.
	if err := s.RevokeUser(ctx, uid, auth.Session{}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range live {
		s.valid(t, auth.User, tok, uid, false)
	}
	if n := len(s.index(t, uid)); n != 0 {
		t.Fatalf("index size after RevokeUser = %d, want 0", n)
	}
}

// TestRevokeUserReachesDjangoTokens: tokens the Django system issued are
// in no index; revoking all of a user's tokens must refuse those issued
// before the revocation and keep those issued after it, and the kept
// session survives even when it is such a token.
func TestRevokeUserReachesDjangoTokens(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const uid = 31
	django := func(age time.Duration) string {
		t.Helper()
		tok := strings.ReplaceAll(uuid(t), "-", "")
		if err := s.rdb.Set(ctx, s.keys.Token("token:", tok), strconv.Itoa(uid), tokenTTL-age).Err(); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	before := django(10 * time.Minute)
	kept := django(20 * time.Minute)
	ours := s.issue(t, auth.User, uid, "")
	if err := s.RevokeUser(ctx, uid, auth.Session{Kind: auth.User, Token: kept, UserID: uid}); err != nil {
		t.Fatal(err)
	}
	// Date the stamp a minute back, so a token issued "now" is clearly
	// after it (PTTL has millisecond resolution).
	if err := s.rdb.Set(ctx, s.keys.UserRevokedAt(uid), time.Now().Add(-time.Minute).UnixMilli(), tokenTTL).Err(); err != nil {
		t.Fatal(err)
	}
	after := django(0)
	s.valid(t, auth.User, before, uid, false)
	s.valid(t, auth.User, ours, uid, false)
	s.valid(t, auth.User, kept, uid, true)
	s.valid(t, auth.User, after, uid, true)
	// Another user's Django tokens are untouched.
	other := strings.ReplaceAll(uuid(t), "-", "")
	if err := s.rdb.Set(ctx, s.keys.Token("token:", other), "32", tokenTTL-time.Hour/2).Err(); err != nil {
		t.Fatal(err)
	}
	s.valid(t, auth.User, other, 32, true)
}

// TestRevokeDevice: a device's session tokens go with its binding; the
// owner's own tokens stay.
func TestRevokeDevice(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	mac := "AA:BB:CC:00:00:" + strconv.Itoa(10+len(t.Name())%80)
	dev1 := s.issue(t, auth.User, 41, mac)
	dev2 := s.issue(t, auth.User, 41, mac)
	app := s.issue(t, auth.User, 41, "")
	revoked, err := s.RevokeDevice(ctx, mac)
	if err != nil || len(revoked) != 2 {
		t.Fatalf("RevokeDevice = %v, %v; want 2 tokens", revoked, err)
	}
	s.valid(t, auth.User, dev1, 41, false)
	s.valid(t, auth.User, dev2, 41, false)
	s.valid(t, auth.User, app, 41, true)
	if again, err := s.RevokeDevice(ctx, mac); err != nil || len(again) != 0 {
		t.Fatalf("second RevokeDevice = %v, %v", again, err)
	}
}

func uuid(t *testing.T) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
