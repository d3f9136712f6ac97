package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's baseline (19 MiB, 2 passes, 1 lane). They
// are written into every hash, so raising them later only affects new
// hashes; NeedsRehash tells which stored hashes to upgrade.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// ErrMismatch is returned when a password does not match its hash.
var ErrMismatch = errors.New("auth: password does not match")

// HashPassword hashes a password with argon2id in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$key). It allocates argonMemory
// per call without limit; request paths go through a Hasher instead.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash (unbounded, like
// HashPassword; request paths use Hasher.Check). It accepts our
// argon2id hashes and the Django system's pbkdf2_sha256 hashes, so users
// migrated from it can log in (and get rehashed, see NeedsRehash).
func CheckPassword(hash, password string) error {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return checkArgon2id(hash, password)
	case strings.HasPrefix(hash, "pbkdf2_sha256$"):
		return checkDjangoPBKDF2(hash, password)
	default:
		return errors.New("auth: unknown password hash format")
	}
}

// NeedsRehash reports whether a stored hash should be replaced by a fresh
// HashPassword after a successful login.
func NeedsRehash(hash string) bool {
	return !strings.HasPrefix(hash, fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$", argon2.Version, argonMemory, argonTime, argonThreads))
}

func checkArgon2id(hash, password string) error {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 {
		return errors.New("auth: malformed argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("auth: unsupported argon2id version")
	}
	var memory, passes uint32
	var threads uint8
	// argon2.IDKey panics on zero passes or lanes; RFC 9106 also wants
	// at least 8 KiB of memory per lane.
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil ||
		passes < 1 || threads < 1 || memory < 8*uint32(threads) {
		return errors.New("auth: malformed argon2id parameters")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return errors.New("auth: malformed argon2id salt")
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return errors.New("auth: malformed argon2id key")
	}
	got := argon2.IDKey([]byte(password), salt, passes, memory, threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// checkDjangoPBKDF2 verifies Django's "pbkdf2_sha256$iterations$salt$b64key".
func checkDjangoPBKDF2(hash, password string) error {
	parts := strings.SplitN(hash, "$", 4)
	if len(parts) != 4 {
		return errors.New("auth: malformed pbkdf2_sha256 hash")
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter <= 0 {
		return errors.New("auth: malformed pbkdf2_sha256 iterations")
	}
	want, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil || len(want) == 0 {
		return errors.New("auth: malformed pbkdf2_sha256 key")
	}
	got, err := pbkdf2.Key(sha256.New, password, []byte(parts[2]), iter, len(want))
	if err != nil {
		return fmt.Errorf("auth: pbkdf2: %w", err)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}
