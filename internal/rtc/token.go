package rtc

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"time"
)

// The AccessToken format of Volcengine RTC, version "001" (vendors.md §1):
//
//	"001" + AppID (24 chars) + base64(string(msg) + string(HMAC-SHA256(AppKey, msg)))
//	msg = nonce u32 | issuedAt u32 | expireAt u32 | string(room) | string(user) | privileges
//	privileges = u16 count, then per privilege (by key ascending) u16 key, u32 expiry
//
// Integers are little-endian; a string is a u16 length and its bytes.

// TokenVersion is the version prefix of the tokens this package makes.
const TokenVersion = "001"

// AppIDLength is the length of a Volcengine RTC app id; the format has no
// separator between the app id and the content, so it is fixed.
const AppIDLength = 24

// Privilege is a right a token grants in its room.
type Privilege uint16

// The privileges of the format. Publishing grants the three internal
// publish privileges with it, as the official generator does.
const (
	PrivPublishStream      Privilege = 0
	privPublishAudioStream Privilege = 1
	privPublishVideoStream Privilege = 2
	privPublishDataStream  Privilege = 3
	PrivSubscribeStream    Privilege = 4
)

// AccessToken is the content of an RTC token.
type AccessToken struct {
	AppID  string
	RoomID string
	UserID string
	// Nonce makes two tokens of the same second differ.
	Nonce    uint32
	IssuedAt uint32
	// ExpireAt, unix seconds, ends the whole token; 0: it never expires.
	ExpireAt uint32
	// Privileges maps each privilege to its expiry (unix seconds, 0:
	// never). Parsed tokens keep keys this package does not know.
	Privileges map[Privilege]uint32
}

// NewAccessToken returns a token for the user in the room issued now with
// a random nonce, valid until expireAt, with no privileges yet.
func NewAccessToken(appID, roomID, userID string, now, expireAt time.Time) (*AccessToken, error) {
	// The official generator draws the nonce from [1, 99999999).
	n, err := rand.Int(rand.Reader, big.NewInt(99999998))
	if err != nil {
		return nil, fmt.Errorf("rtc: token nonce: %w", err)
	}
	return &AccessToken{AppID: appID, RoomID: roomID, UserID: userID, Nonce: uint32(n.Int64()) + 1,
		IssuedAt: unixSeconds(now), ExpireAt: unixSeconds(expireAt), Privileges: map[Privilege]uint32{}}, nil
}

func unixSeconds(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	if s < 0 || s > math.MaxUint32 {
		return 0
	}
	return uint32(s)
}

// AddPrivilege grants p until expireAt (unix seconds, 0: never).
// Publishing also grants audio, video and data publishing.
func (t *AccessToken) AddPrivilege(p Privilege, expireAt uint32) {
	if t.Privileges == nil {
		t.Privileges = map[Privilege]uint32{}
	}
	t.Privileges[p] = expireAt
	if p == PrivPublishStream {
		t.Privileges[privPublishAudioStream] = expireAt
		t.Privileges[privPublishVideoStream] = expireAt
		t.Privileges[privPublishDataStream] = expireAt
	}
}

// Message is the signed part of the token.
func (t *AccessToken) Message() ([]byte, error) {
	if len(t.RoomID) > math.MaxUint16 || len(t.UserID) > math.MaxUint16 || len(t.Privileges) > math.MaxUint16 {
		return nil, errors.New("rtc: token field too long")
	}
	var b bytes.Buffer
	b.Grow(12 + 4 + len(t.RoomID) + len(t.UserID) + 2 + 6*len(t.Privileges))
	putU32(&b, t.Nonce)
	putU32(&b, t.IssuedAt)
	putU32(&b, t.ExpireAt)
	putString(&b, []byte(t.RoomID))
	putString(&b, []byte(t.UserID))
	keys := make([]int, 0, len(t.Privileges))
	for k := range t.Privileges {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	putU16(&b, uint16(len(keys)))
	for _, k := range keys {
		putU16(&b, uint16(k))
		putU32(&b, t.Privileges[Privilege(k)])
	}
	return b.Bytes(), nil
}

// Sign returns the HMAC-SHA256 of msg with the app key.
func Sign(appKey string, msg []byte) []byte {
	mac := hmac.New(sha256.New, []byte(appKey))
	mac.Write(msg)
	return mac.Sum(nil)
}

// Serialize signs the token with the app key and encodes it.
func (t *AccessToken) Serialize(appKey string) (string, error) {
	if len(t.AppID) != AppIDLength {
		return "", fmt.Errorf("rtc: app id must be %d characters, got %d", AppIDLength, len(t.AppID))
	}
	msg, err := t.Message()
	if err != nil {
		return "", err
	}
	sig := Sign(appKey, msg)
	var content bytes.Buffer
	putString(&content, msg)
	putString(&content, sig)
	return TokenVersion + t.AppID + base64.StdEncoding.EncodeToString(content.Bytes()), nil
}

// ErrMalformedToken is returned by ParseToken for a string that is not a
// token of this format.
var ErrMalformedToken = errors.New("rtc: malformed token")

// ParsedToken is a token read back, with what its signature covers.
type ParsedToken struct {
	AccessToken
	Msg       []byte
	Signature []byte
}

// ParseToken reads a token without checking it; Verify checks it.
func ParseToken(s string) (*ParsedToken, error) {
	if len(s) <= len(TokenVersion)+AppIDLength || s[:len(TokenVersion)] != TokenVersion {
		return nil, ErrMalformedToken
	}
	raw, err := base64.StdEncoding.DecodeString(s[len(TokenVersion)+AppIDLength:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedToken, err)
	}
	r := reader{b: raw}
	msg := r.str()
	sig := r.str()
	if r.err != nil || len(r.b) != 0 {
		return nil, ErrMalformedToken
	}
	p := &ParsedToken{Msg: msg, Signature: sig}
	p.AppID = s[len(TokenVersion) : len(TokenVersion)+AppIDLength]
	m := reader{b: msg}
	p.Nonce, p.IssuedAt, p.ExpireAt = m.u32(), m.u32(), m.u32()
	p.RoomID, p.UserID = string(m.str()), string(m.str())
	n := m.u16()
	p.Privileges = make(map[Privilege]uint32, n)
	for range n {
		k := m.u16()
		p.Privileges[Privilege(k)] = m.u32()
	}
	if m.err != nil || len(m.b) != 0 {
		return nil, ErrMalformedToken
	}
	return p, nil
}

// Errors of Verify.
var (
	ErrTokenExpired      = errors.New("rtc: token expired")
	ErrTokenSignature    = errors.New("rtc: token signature does not match")
	ErrTokenWrongAppID   = errors.New("rtc: token of another app")
	ErrTokenNotPrivilege = errors.New("rtc: token lacks the privilege")
)

// Verify checks the token the way the RTC service does: the app, the
// expiry at now, and the signature with the app key.
func (p *ParsedToken) Verify(appID, appKey string, now time.Time) error {
	if p.AppID != appID {
		return ErrTokenWrongAppID
	}
	if p.ExpireAt != 0 && now.Unix() > int64(p.ExpireAt) {
		return ErrTokenExpired
	}
	if !hmac.Equal(Sign(appKey, p.Msg), p.Signature) {
		return ErrTokenSignature
	}
	return nil
}

// Allows reports whether the token grants p at now.
func (p *ParsedToken) Allows(priv Privilege, now time.Time) bool {
	exp, ok := p.Privileges[priv]
	return ok && (exp == 0 || now.Unix() <= int64(exp))
}

func putU16(b *bytes.Buffer, v uint16) { b.Write(binary.LittleEndian.AppendUint16(nil, v)) }
func putU32(b *bytes.Buffer, v uint32) { b.Write(binary.LittleEndian.AppendUint32(nil, v)) }
func putString(b *bytes.Buffer, s []byte) {
	putU16(b, uint16(len(s)))
	b.Write(s)
}

// reader reads the format's fields; the first short read sets err and
// every later read returns zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = ErrMalformedToken
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) str() []byte { return r.take(int(r.u16())) }
