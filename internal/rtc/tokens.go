package rtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/internal/config"
	"paradise/internal/redisdb"
)

// RoomID is the voice room of a user: room_{user_id}, the same user as the
// hub group device_{user_id}.
func RoomID(userID int) string { return "room_" + strconv.Itoa(userID) }

// DeviceUserID is a device's RTC user id: device_ and its MAC's hex
// digits in lower case.
func DeviceUserID(mac string) string {
	return "device_" + strings.ToLower(strings.ReplaceAll(mac, ":", ""))
}

// AppUserID is the RTC user id of a user's app.
func AppUserID(userID int) string { return "user_" + strconv.Itoa(userID) }

// Token is a room token handed out.
type Token struct {
	AppID     string    `json:"app_id"`
	RoomID    string    `json:"room_id"`
	UserID    string    `json:"user_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Tokens makes room tokens and caches them in Redis under the Django
// system's key rtc_room:{user_id}:{task_id}, one per room member, until
// TokenRefresh before they expire: every instance hands out the same token
// meanwhile.
type Tokens struct {
	cfg  config.RTC
	rdb  redis.Cmdable
	keys redisdb.Keys
	now  func() time.Time
}

// NewTokens returns the room token maker.
func NewTokens(cfg config.RTC, rdb *redis.Client, keys redisdb.Keys) *Tokens {
	return &Tokens{cfg: cfg, rdb: rdb, keys: keys, now: time.Now}
}

// For returns the token with which rtcUser joins owner's room, from the
// cache or new.
func (t *Tokens) For(ctx context.Context, owner int, rtcUser string) (Token, error) {
	if !t.cfg.TokensEnabled() {
		return Token{}, errNotConfigured()
	}
	key := t.keys.RTCRoom(owner, rtcUser)
	now := t.now()
	if tok, ok, err := t.cached(ctx, key, now); err != nil || ok {
		return tok, err
	}
	tok, err := t.issue(owner, rtcUser, now)
	if err != nil {
		return Token{}, err
	}
	raw, err := json.Marshal(tok)
	if err != nil {
		return Token{}, fmt.Errorf("rtc: encode token: %w", err)
	}
	// Two instances may issue at once: the first stored wins, and both
	// hand out that one.
	stored, err := t.rdb.SetNX(ctx, key, raw, tok.ExpiresAt.Sub(now)-t.cfg.TokenRefresh).Result()
	if err != nil {
		return Token{}, fmt.Errorf("rtc: cache token: %w", err)
	}
	if !stored {
		if won, ok, err := t.cached(ctx, key, now); err != nil || ok {
			return won, err
		}
	}
	return tok, nil
}

func (t *Tokens) cached(ctx context.Context, key string, now time.Time) (Token, bool, error) {
	raw, err := t.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Token{}, false, nil
	}
	if err != nil {
		return Token{}, false, fmt.Errorf("rtc: read cached token: %w", err)
	}
	var tok Token
	// A value that does not decode, or is of another app (the app id
	// changed), or too close to its expiry, is replaced.
	if json.Unmarshal(raw, &tok) != nil || tok.AppID != t.cfg.AppID || !now.Add(t.cfg.TokenRefresh).Before(tok.ExpiresAt) {
		return Token{}, false, nil
	}
	return tok, true, nil
}

func (t *Tokens) issue(owner int, rtcUser string, now time.Time) (Token, error) {
	room := RoomID(owner)
	expires := now.Add(t.cfg.TokenTTL).Truncate(time.Second)
	at, err := NewAccessToken(t.cfg.AppID, room, rtcUser, now, expires)
	if err != nil {
		return Token{}, err
	}
	at.AddPrivilege(PrivPublishStream, unixSeconds(expires))
	at.AddPrivilege(PrivSubscribeStream, unixSeconds(expires))
	s, err := at.Serialize(t.cfg.AppKey)
	if err != nil {
		return Token{}, err
	}
	return Token{AppID: t.cfg.AppID, RoomID: room, UserID: rtcUser, Token: s, ExpiresAt: expires.UTC()}, nil
}
