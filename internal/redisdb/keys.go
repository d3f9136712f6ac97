package redisdb

import (
	"strconv"

	"paradise/internal/config"
)

// Keys names every Redis key and pub/sub channel of the service, in this
// one place. A prefix can isolate tests (and deployments) sharing one
// Redis; the default empty prefix keeps the Django system's layout
// (token:{token}, admin_token:{token}, device:last_seen:{mac},
// rtc_room:{user_id}:{task_id}), which old clients and the old system's
// tokens depend on: those names must not change.
type Keys struct{ prefix string }

// NewKeys returns the key namer for the configured prefix.
func NewKeys(cfg config.Redis) Keys { return Keys{prefix: cfg.RedisPrefix} }

// Prefix is the prefix of every key.
func (k Keys) Prefix() string { return k.prefix }

// Raw prefixes an already built key name; only for names read back from
// Redis (the token index holds unprefixed token key names).
func (k Keys) Raw(name string) string { return k.join(name) }

// Token prefixes of the Django system: token:{token} and
// admin_token:{token} hold the user id.
const (
	UserTokenPrefix  = "token:"
	AdminTokenPrefix = "admin_token:"
)

// Token is token:{token} (user and device sessions) or admin_token:{token}.
func (k Keys) Token(kindPrefix, token string) string { return k.join(kindPrefix, token) }

// TokenMAC is token_mac:{token}: the device MAC of a device session.
func (k Keys) TokenMAC(token string) string { return k.join("token_mac:", token) }

// AdminTokenMAC names a key that never exists (admin tokens are never
// device sessions); it keeps the token lookup script's arity fixed.
func (k Keys) AdminTokenMAC(token string) string { return k.join("admin_token_mac:", token) }

// UserTokens is user_tokens:{user_id}: the index of a user's tokens.
func (k Keys) UserTokens(userID int) string { return k.join("user_tokens:", strconv.Itoa(userID)) }

// UserSnapshot is user_snapshot:{user_id}: the cached user beside tokens.
func (k Keys) UserSnapshot(userID int) string {
	return k.join("user_snapshot:", strconv.Itoa(userID))
}

// UserSnapshotPrefix is UserSnapshot without the id, for scripts that
// derive the key from a user id they read.
func (k Keys) UserSnapshotPrefix() string { return k.join("user_snapshot:") }

// UserRevokedAt is user_revoked_at:{user_id}: unix milliseconds of the
// last revocation of all the user's tokens, which also reaches tokens
// outside the index (issued by the Django system).
func (k Keys) UserRevokedAt(userID int) string {
	return k.join("user_revoked_at:", strconv.Itoa(userID))
}

// UserRevokedAtPrefix is UserRevokedAt without the id, for scripts.
func (k Keys) UserRevokedAtPrefix() string { return k.join("user_revoked_at:") }

// UserTokensPrefix is UserTokens without the id, for scripts.
func (k Keys) UserTokensPrefix() string { return k.join("user_tokens:") }

// DeviceLastSeen is device:last_seen:{mac} (the Django system's
// heartbeat key): unix seconds of the device's last sign of life.
func (k Keys) DeviceLastSeen(mac string) string { return k.join("device:last_seen:", mac) }

// DeviceConn is device:conn:{mac}: the id of the device's live session.
func (k Keys) DeviceConn(mac string) string { return k.join("device:conn:", mac) }

// HubGroupPrefix is the prefix of the hub's group channels.
func (k Keys) HubGroupPrefix() string { return k.join("hub:device_") }

// HubGroup is the pub/sub channel of group device_{user_id}.
func (k Keys) HubGroup(userID int) string { return k.join("hub:device_", strconv.Itoa(userID)) }

// HubControl is the pub/sub channel of hub-wide control events.
func (k Keys) HubControl() string { return k.join("hub:control") }

func (k Keys) join(parts ...string) string {
	n := len(k.prefix)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	b = append(b, k.prefix...)
	for _, p := range parts {
		b = append(b, p...)
	}
	return string(b)
}

// DeviceTokens is device_tokens:{mac}: the index of a device's session
// tokens (MAC login), so a rebind can revoke them.
func (k Keys) DeviceTokens(mac string) string { return k.join("device_tokens:", mac) }

// PresenceInstances is presence:instances: the live instances, scored by
// the unix milliseconds of their last heartbeat.
func (k Keys) PresenceInstances() string { return k.join("presence:instances") }

// PresenceDevices is presence:devices:{instance}: the MACs of the devices
// connected through that instance, so a dead instance's devices can be
// found without scanning every device.
func (k Keys) PresenceDevices(instance string) string { return k.join("presence:devices:", instance) }

// RateLimitCounter is ratelimit:daily:{key}:{window}: a usage counter of
// internal/ratelimit for one window (a day "2006-01-02" in the limiter's
// zone, or a fixed window "20060102T150405Z"), expiring after it.
func (k Keys) RateLimitCounter(key, window string) string {
	return k.join("ratelimit:daily:", key, ":", window)
}

// RateLimitConcurrency is ratelimit:concurrency:{key}: the holders of a
// concurrency limit, a sorted set of holder ids scored by the unix
// milliseconds their lease expires at.
func (k Keys) RateLimitConcurrency(key string) string { return k.join("ratelimit:concurrency:", key) }

// RateLimitRate is ratelimit:rate:{key}: a request rate limit's state
// (GCRA: the theoretical arrival time, unix microseconds).
func (k Keys) RateLimitRate(key string) string { return k.join("ratelimit:rate:", key) }

// RateLimitLockout is ratelimit:lockout:{key}: a login lockout's state (a
// hash of failures and the unix milliseconds the lock ends at).
func (k Keys) RateLimitLockout(key string) string { return k.join("ratelimit:lockout:", key) }

// DeviceNonce is device:nonce:{nonce}: a challenge-response login nonce,
// holding the MAC it was issued to, deleted when used (single use on
// every instance).
func (k Keys) DeviceNonce(nonce string) string { return k.join("device:nonce:", nonce) }

// ClaimCode is claim:code:{code}: a live claim code, holding its device's
// MAC.
func (k Keys) ClaimCode(code string) string { return k.join("claim:code:", code) }

// ClaimDevice is claim:device:{mac}: the device's live claim code, so a
// new code retires the previous one (one live code per device).
func (k Keys) ClaimDevice(mac string) string { return k.join("claim:device:", mac) }

// RTCRoom is rtc_room:{user_id}:{task_id} (the Django system's name): the
// cached RTC token of one member of room_{user_id}; task_id is the RTC
// user id the token is for (the device's or the app's).
func (k Keys) RTCRoom(userID int, taskID string) string {
	return k.join("rtc_room:", strconv.Itoa(userID), ":", taskID)
}

// RTCAgent is rtc_agent:{room_id}: the voice agent of a room, a hash of
// its task's state; the key's expiry is the one-agent-per-room lock's.
func (k Keys) RTCAgent(roomID string) string { return k.join("rtc_agent:", roomID) }

// RTCTask is rtc_task:{task_id}: the room of an agent task and the hash of
// its LLM key, expiring with the task.
func (k Keys) RTCTask(taskID string) string { return k.join("rtc_task:", taskID) }

// RTCAgents is rtc_agents: the rooms with an agent, scored by the unix
// milliseconds of their last activity, for the idle sweep.
func (k Keys) RTCAgents() string { return k.join("rtc_agents") }

// SpeechAliyunToken is speech:aliyun_token:{access_key_id}: the Aliyun NLS
// token every instance shares until shortly before it expires.
func (k Keys) SpeechAliyunToken(accessKeyID string) string {
	return k.join("speech:aliyun_token:", accessKeyID)
}

// SpeechAudio is speech:audio:{id}: a voice chat reply's audio and its
// owner, behind a short-lived download URL.
func (k Keys) SpeechAudio(id string) string { return k.join("speech:audio:", id) }

// AdminEvents is the pub/sub channel admin:events: the console's live
// events (internal/events), published by every instance.
func (k Keys) AdminEvents() string { return k.join("admin:events") }

// AdminHubSessions is admin:hub_sessions: a hash of each instance's open
// hub sessions, "{count}:{unix milliseconds}", refreshed every few
// seconds; the dashboard sums the fresh ones.
func (k Keys) AdminHubSessions() string { return k.join("admin:hub_sessions") }
