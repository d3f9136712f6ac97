package device

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/ent"
	"paradise/ent/device"
	"paradise/ent/userdevice"
	"paradise/internal/apperr"
	"paradise/internal/config"
	"paradise/internal/redisdb"
)

// MAC login policies of a device (Device.mac_login).
const (
	MACLoginDefault = "default"
	MACLoginAllow   = "allow"
	MACLoginRefuse  = "refuse"
)

// Credentials owns device secrets, the challenge-response device login and
// the bare MAC login policy.
//
// A secret is 32 random bytes, handed out once as 64 hex digits. The
// server must be able to compute the device's HMAC, so it keeps the secret
// itself, encrypted at rest with AES-256-GCM under
// PARADISE_DEVICE_SECRET_KEY: a database dump alone does not reveal it.
type Credentials struct {
	db   *ent.Client
	rdb  redis.Cmdable
	keys redisdb.Keys
	cfg  config.Devices
	// aead is nil when no key is configured: provisioning and secret
	// logins then answer CodeDeviceSecretsUnavailable.
	aead cipher.AEAD
	now  func() time.Time
}

// SecretKeyFile is the embedded default's generated key, under
// PARADISE_DATA_DIR, used when PARADISE_DEVICE_SECRET_KEY is unset.
const SecretKeyFile = "device-secret.key"

// NewCredentials returns the credentials service. On the embedded default
// without a configured key it creates (once) and uses a key file in the
// data directory; in production an unset key leaves secrets unavailable.
func NewCredentials(db *ent.Client, rdb *redis.Client, keys redisdb.Keys, cfg config.Devices, dbCfg config.Database) (*Credentials, error) {
	key := cfg.SecretKey
	if key == nil && dbCfg.Embedded() {
		var err error
		if key, err = embeddedKey(dbCfg.DataDir); err != nil {
			return nil, err
		}
	}
	c := &Credentials{db: db, rdb: rdb, keys: keys, cfg: cfg, now: time.Now}
	if key != nil {
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("device: secret key: %w", err)
		}
		if c.aead, err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("device: secret key: %w", err)
		}
	}
	return c, nil
}

// embeddedKey reads the data directory's key file, creating it first.
func embeddedKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, SecretKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		key, err := hex.DecodeString(string(b))
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("device: %s: not 32 bytes of hex", path)
		}
		return key, nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("device: secret key: %w", err)
	}
	// O_EXCL: two processes starting at once keep the first one's key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return embeddedKey(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("device: secret key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(key)); err != nil {
		return nil, fmt.Errorf("device: secret key: %w", err)
	}
	return key, nil
}

func secretsUnavailable() *apperr.Error {
	return apperr.Coded(http.StatusServiceUnavailable, apperr.CodeDeviceSecretsUnavailable,
		"Device secrets are not configured on this server.")
}

func authFailed(msg string) *apperr.Error {
	return apperr.Coded(http.StatusUnauthorized, apperr.CodeDeviceAuthFailed, msg)
}

// Provisioned is a freshly provisioned secret: shown once.
type Provisioned struct {
	DeviceID   int
	MACAddress string
	// Secret is 64 hex digits; it is not stored in this form.
	Secret string
	SetAt  time.Time
}

// Provision gives the device with this MAC (created if unknown) a new
// secret and returns it; the previous secret stops working. It is the one
// entry point for provisioning, meant for the admin's single-device
// endpoint and for bulk imports alike.
func (c *Credentials) Provision(ctx context.Context, rawMAC string) (Provisioned, error) {
	mac, err := macField(rawMAC)
	if err != nil {
		return Provisioned{}, err
	}
	if c.aead == nil {
		return Provisioned{}, secretsUnavailable()
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Provisioned{}, err
	}
	sealed, err := c.seal(raw, mac)
	if err != nil {
		return Provisioned{}, err
	}
	if err := c.db.Device.Create().SetMACAddress(mac).Exec(ctx); err != nil && !ent.IsConstraintError(err) {
		return Provisioned{}, fmt.Errorf("device: provision %s: %w", mac, err)
	}
	now := c.now().UTC().Truncate(time.Microsecond)
	if err := c.db.Device.Update().Where(device.MACAddress(mac)).SetSecret(sealed).SetSecretSetAt(now).Exec(ctx); err != nil {
		return Provisioned{}, fmt.Errorf("device: provision %s: %w", mac, err)
	}
	id, err := c.db.Device.Query().Where(device.MACAddress(mac)).OnlyID(ctx)
	if err != nil {
		return Provisioned{}, fmt.Errorf("device: provision %s: %w", mac, err)
	}
	return Provisioned{DeviceID: id, MACAddress: mac, Secret: hex.EncodeToString(raw), SetAt: now}, nil
}

// seal encrypts a secret, bound to its MAC (the additional data), so a
// sealed secret copied onto another device's row does not open.
func (c *Credentials) seal(secret []byte, mac string) ([]byte, error) {
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return c.aead.Seal(nonce, nonce, secret, []byte(mac)), nil
}

func (c *Credentials) open(sealed []byte, mac string) ([]byte, error) {
	n := c.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("device: sealed secret too short")
	}
	return c.aead.Open(nil, sealed[:n], sealed[n:], []byte(mac))
}

// Challenge issues a single-use nonce for a login of the device with
// this MAC. It answers for any MAC, so it tells nothing about devices.
func (c *Credentials) Challenge(ctx context.Context, rawMAC string) (nonce string, ttl time.Duration, err error) {
	mac, err := macField(rawMAC)
	if err != nil {
		return "", 0, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", 0, err
	}
	nonce = hex.EncodeToString(b)
	if err := c.rdb.Set(ctx, c.keys.DeviceNonce(nonce), mac, c.cfg.ChallengeTTL).Err(); err != nil {
		return "", 0, fmt.Errorf("device: challenge: %w", err)
	}
	return nonce, c.cfg.ChallengeTTL, nil
}

// Proof is a device's answer to a challenge.
type Proof struct {
	MAC       string
	Nonce     string
	Timestamp int64
	Signature string // hex
}

// Sign is the signature of a proof's nonce, MAC (normalised) and
// timestamp with a secret (hex): HMAC-SHA256 over
// nonce "\n" mac "\n" timestamp, in lowercase hex. docs/devices.md
// describes the same for firmware authors.
func Sign(secretHex, nonce, mac string, timestamp int64) (string, error) {
	key, err := hex.DecodeString(secretHex)
	if err != nil {
		return "", fmt.Errorf("device: secret is not hex: %w", err)
	}
	return hex.EncodeToString(signature(key, nonce, mac, timestamp)), nil
}

func signature(key []byte, nonce, mac string, timestamp int64) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(nonce + "\n" + mac + "\n" + strconv.FormatInt(timestamp, 10)))
	return m.Sum(nil)
}

// Verify checks a proof and returns the device's normalised MAC. The
// nonce is used up first, whatever the outcome, atomically on every
// instance (GETDEL), so a proof cannot be replayed.
func (c *Credentials) Verify(ctx context.Context, p Proof) (string, error) {
	mac, err := macField(p.MAC)
	if err != nil {
		return "", err
	}
	issuedFor, err := c.rdb.GetDel(ctx, c.keys.DeviceNonce(p.Nonce)).Result()
	if errors.Is(err, redis.Nil) || (err == nil && issuedFor != mac) {
		return "", authFailed("Unknown, expired or used nonce; ask for a new challenge.")
	}
	if err != nil {
		return "", fmt.Errorf("device: login: %w", err)
	}
	skew := c.now().Sub(time.Unix(p.Timestamp, 0))
	if skew > c.cfg.ChallengeTTL || skew < -c.cfg.ChallengeTTL {
		return "", authFailed("Timestamp is too far from the server's time.")
	}
	d, err := c.db.Device.Query().Where(device.MACAddress(mac)).Only(ctx)
	if ent.IsNotFound(err) {
		return "", authFailed("Device authentication failed.")
	}
	if err != nil {
		return "", fmt.Errorf("device: login %s: %w", mac, err)
	}
	if c.aead == nil {
		if !hasSecret(d) {
			return "", authFailed("Device authentication failed.")
		}
		return "", secretsUnavailable()
	}
	if !hasSecret(d) {
		return c.verifyPending(ctx, mac, p)
	}
	key, err := c.open(*d.Secret, mac)
	if err != nil {
		// Sealed under another key: PARADISE_DEVICE_SECRET_KEY changed.
		return "", fmt.Errorf("device: login %s: open secret: %w", mac, err)
	}
	if !signedWith(key, p, mac) {
		return "", authFailed("Device authentication failed.")
	}
	return mac, nil
}

func signedWith(key []byte, p Proof, mac string) bool {
	got, err := hex.DecodeString(p.Signature)
	return err == nil && hmac.Equal(got, signature(key, p.Nonce, mac, p.Timestamp))
}

// PendingSecretTTL is how long a secret issued with a MAC login waits for
// the device's first challenge login before it is forgotten.
const PendingSecretTTL = 24 * time.Hour

// pendingKey holds a device's pending secret, sealed as in the database.
func (c *Credentials) pendingKey(mac string) string {
	return c.keys.Raw("device:pending_secret:" + mac)
}

// IssueOnLogin gives a device without a secret, at its MAC login, a new
// secret and returns it (64 hex digits), or "" when the device has a
// secret or secrets are not configured.
//
// A MAC login proves nothing but knowledge of the MAC, so the secret is
// only pending (sealed in Redis for PendingSecretTTL): bare MAC login
// keeps working, and each MAC login replaces the pending secret with a
// new one, shown in that login's answer only. A device that lost its
// answer (or firmware that ignores the field) loses nothing. The secret
// becomes the device's at its first challenge login with it (Verify);
// from then on the default policy refuses bare MAC login.
func (c *Credentials) IssueOnLogin(ctx context.Context, d Device) (string, error) {
	if c.aead == nil || d.HasSecret {
		return "", nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	sealed, err := c.seal(raw, d.MACAddress)
	if err != nil {
		return "", err
	}
	if err := c.rdb.Set(ctx, c.pendingKey(d.MACAddress), sealed, PendingSecretTTL).Err(); err != nil {
		return "", fmt.Errorf("device: issue secret to %s: %w", d.MACAddress, err)
	}
	return hex.EncodeToString(raw), nil
}

// verifyPending checks a proof against the pending secret of a device
// without a secret and, when it holds, makes the pending secret the
// device's (conditional on the device still having none: an admin's
// provisioning meanwhile wins).
func (c *Credentials) verifyPending(ctx context.Context, mac string, p Proof) (string, error) {
	sealed, err := c.rdb.Get(ctx, c.pendingKey(mac)).Bytes()
	if errors.Is(err, redis.Nil) {
		return "", authFailed("Device authentication failed.")
	}
	if err != nil {
		return "", fmt.Errorf("device: login %s: pending secret: %w", mac, err)
	}
	key, err := c.open(sealed, mac)
	if err != nil {
		// Sealed under another key; a MAC login issues a new one.
		return "", authFailed("Device authentication failed.")
	}
	if !signedWith(key, p, mac) {
		return "", authFailed("Device authentication failed.")
	}
	now := c.now().UTC().Truncate(time.Microsecond)
	n, err := c.db.Device.Update().Where(device.MACAddress(mac), device.SecretIsNil()).
		SetSecret(sealed).SetSecretSetAt(now).Save(ctx)
	if err != nil {
		return "", fmt.Errorf("device: login %s: activate secret: %w", mac, err)
	}
	if n == 0 {
		return "", authFailed("Device authentication failed.")
	}
	// A failure to delete is harmless: the stored secret wins over a
	// pending one, which then runs out.
	c.rdb.Del(ctx, c.pendingKey(mac))
	return mac, nil
}

// MACLoginAllowed is the bare MAC login policy of a device: refused
// everywhere under PARADISE_MAC_LOGIN=off; otherwise the admin's override,
// or by default allowed exactly while the device has no secret.
func (c *Credentials) MACLoginAllowed(policy string, hasSecret bool) bool {
	if c.cfg.MACLogin == "off" {
		return false
	}
	switch policy {
	case MACLoginAllow:
		return true
	case MACLoginRefuse:
		return false
	}
	return !hasSecret
}

// CheckMACLogin refuses a bare MAC login the policy does not allow.
func (c *Credentials) CheckMACLogin(d Device) error {
	if !c.MACLoginAllowed(d.MACLogin, d.HasSecret) {
		return apperr.Coded(http.StatusForbidden, apperr.CodeMACLoginRefused,
			"MAC login is not allowed for this device; use the device login.")
	}
	return nil
}

// CheckBindByMAC refuses a bind by bare MAC of a device with a secret
// that has an owner (knowing its MAC must not be enough to take it over),
// or of any device when binding by MAC is off. A secured device nobody
// owns yet can be bound by MAC once: it cannot ask for a claim code
// before it has an owner (a device token needs one).
func (c *Credentials) CheckBindByMAC(ctx context.Context, mac string) error {
	if !c.cfg.BindByMAC {
		return apperr.Coded(http.StatusForbidden, apperr.CodeBindByMACRefused,
			"Binding by MAC address is turned off; bind with the device's claim code.")
	}
	secured, err := c.db.Device.Query().Where(device.MACAddress(mac), device.SecretNotNil(),
		device.HasBindingsWith(userdevice.UnboundAtIsNil())).Exist(ctx)
	if err != nil {
		return fmt.Errorf("device: bind %s: %w", mac, err)
	}
	if secured {
		return apperr.Coded(http.StatusForbidden, apperr.CodeBindByMACRefused,
			"This device is bound by claim code only.")
	}
	return nil
}

// DeviceCredentials is what admins see of a device's credentials.
type DeviceCredentials struct {
	DeviceID        int
	MACAddress      string
	HasSecret       bool
	SecretSetAt     *time.Time
	MACLogin        string
	MACLoginAllowed bool
}

// SetMACLogin sets the device's MAC login override.
func (c *Credentials) SetMACLogin(ctx context.Context, deviceID int, policy string) (DeviceCredentials, error) {
	d, err := c.db.Device.UpdateOneID(deviceID).SetMACLogin(device.MACLogin(policy)).Save(ctx)
	if ent.IsNotFound(err) {
		return DeviceCredentials{}, apperr.NotFound("Device not found.")
	}
	if ent.IsValidationError(err) {
		return DeviceCredentials{}, apperr.Field("mac_login", "Must be default, allow or refuse.")
	}
	if err != nil {
		return DeviceCredentials{}, fmt.Errorf("device: set mac login of %d: %w", deviceID, err)
	}
	return DeviceCredentials{DeviceID: d.ID, MACAddress: d.MACAddress, HasSecret: hasSecret(d),
		SecretSetAt: d.SecretSetAt, MACLogin: string(d.MACLogin),
		MACLoginAllowed: c.MACLoginAllowed(string(d.MACLogin), hasSecret(d))}, nil
}

// hasSecret tells whether a device row has a secret (ent scans a NULL
// bytea as an empty slice on some drivers).
func hasSecret(d *ent.Device) bool { return d.Secret != nil && len(*d.Secret) > 0 }
