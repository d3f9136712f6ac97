package auth_test

import (
	"errors"
	"strings"
	"testing"

	"paradise/internal/auth"
)

// Django pbkdf2_sha256 hashes of "password", computed independently with
// Python: base64(hashlib.pbkdf2_hmac('sha256', b'password', salt, iterations)).
const (
	djangoHash1000   = "pbkdf2_sha256$1000$salt$YywoEuRtRgQQK6dhjp1tfS+BKPYma0oDJk0qBGC33LM="
	djangoHash260000 = "pbkdf2_sha256$260000$dJm3VnX8kq0f$3eEqvEYrpgPSgoyxRwZqzTy3jx/Mco2tO1pjZI5VBzA="
)

func TestHashPasswordRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		password string
	}{
		{"ascii", "correct horse battery staple"},
		{"unicode", "pässwörd-密码-🔑"},
		{"short", "x"},
		{"empty", ""},
		{"long", strings.Repeat("p", 128)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hash, err := auth.HashPassword(tc.password)
			if err != nil {
				t.Fatalf("HashPassword: %v", err)
			}
			if !strings.HasPrefix(hash, "$argon2id$v=19$") {
				t.Fatalf("hash %q is not an argon2id PHC string", hash)
			}
			if len(tc.password) >= 8 && strings.Contains(hash, tc.password) {
				t.Fatalf("hash %q contains the password", hash)
			}
			if err := auth.CheckPassword(hash, tc.password); err != nil {
				t.Fatalf("CheckPassword(right password) = %v", err)
			}
			if err := auth.CheckPassword(hash, tc.password+"!"); !errors.Is(err, auth.ErrMismatch) {
				t.Fatalf("CheckPassword(wrong password) = %v, want ErrMismatch", err)
			}
			if auth.NeedsRehash(hash) {
				t.Fatalf("NeedsRehash(fresh hash) = true")
			}
		})
	}
}

func TestHashPasswordSalted(t *testing.T) {
	a, err := auth.HashPassword("same password")
	if err != nil {
		t.Fatal(err)
	}
	b, err := auth.HashPassword("same password")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two hashes of the same password are equal: %q", a)
	}
	// Different salts, and so different keys.
	pa, pb := strings.Split(a, "$"), strings.Split(b, "$")
	if pa[4] == pb[4] || pa[5] == pb[5] {
		t.Fatalf("salt or key repeated:\n%s\n%s", a, b)
	}
}

func TestCheckPasswordDjango(t *testing.T) {
	tests := []struct {
		name     string
		hash     string
		password string
		want     error
	}{
		{"1000 iterations, right password", djangoHash1000, "password", nil},
		{"1000 iterations, wrong password", djangoHash1000, "Password", auth.ErrMismatch},
		{"1000 iterations, empty password", djangoHash1000, "", auth.ErrMismatch},
		{"260000 iterations, right password", djangoHash260000, "password", nil},
		{"260000 iterations, wrong password", djangoHash260000, "password1", auth.ErrMismatch},
		{"wrong iteration count", strings.Replace(djangoHash1000, "$1000$", "$1001$", 1), "password", auth.ErrMismatch},
		{"wrong salt", strings.Replace(djangoHash1000, "$salt$", "$SALT$", 1), "password", auth.ErrMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := auth.CheckPassword(tc.hash, tc.password)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CheckPassword(%q, %q) = %v, want %v", tc.hash, tc.password, err, tc.want)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	fresh, err := auth.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		hash string
		want bool
	}{
		{"fresh argon2id", fresh, false},
		{"django pbkdf2", djangoHash1000, true},
		{"weaker argon2id parameters", strings.Replace(fresh, "t=2", "t=1", 1), true},
		{"unknown format", "bcrypt$whatever", true},
		{"empty", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := auth.NeedsRehash(tc.hash); got != tc.want {
				t.Fatalf("NeedsRehash(%q) = %v, want %v", tc.hash, got, tc.want)
			}
		})
	}
}

func TestCheckPasswordMalformed(t *testing.T) {
	fresh, err := auth.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(fresh, "$") // "", argon2id, v=19, m=..,t=..,p=.., salt, key
	join := func(p ...string) string { return strings.Join(p, "$") }
	tests := []struct {
		name string
		hash string
	}{
		{"empty", ""},
		{"unknown algorithm", "md5$abc$def"},
		{"plain text", "pw"},
		{"argon2id too few parts", join("", "argon2id", "v=19", parts[3], parts[4])},
		{"argon2id too many parts", fresh + "$extra"},
		{"argon2id bad version", join("", "argon2id", "v=16", parts[3], parts[4], parts[5])},
		{"argon2id garbage version", join("", "argon2id", "version", parts[3], parts[4], parts[5])},
		{"argon2id bad params", join("", "argon2id", "v=19", "m=x,t=y,p=z", parts[4], parts[5])},
		{"argon2id bad salt", join("", "argon2id", "v=19", parts[3], "!!!", parts[5])},
		{"argon2id bad key", join("", "argon2id", "v=19", parts[3], parts[4], "***")},
		{"argon2id empty key", join("", "argon2id", "v=19", parts[3], parts[4], "")},
		{"argon2id zero threads", join("", "argon2id", "v=19", "m=19456,t=2,p=0", parts[4], parts[5])},
		{"argon2id zero passes", join("", "argon2id", "v=19", "m=19456,t=0,p=1", parts[4], parts[5])},
		{"argon2id zero memory", join("", "argon2id", "v=19", "m=0,t=2,p=1", parts[4], parts[5])},
		{"argon2id threads overflow", join("", "argon2id", "v=19", "m=19456,t=2,p=300", parts[4], parts[5])},
		{"pbkdf2 too few parts", "pbkdf2_sha256$1000$salt"},
		{"pbkdf2 non-numeric iterations", "pbkdf2_sha256$many$salt$YywoEuRtRgQQK6dhjp1tfS+BKPYma0oDJk0qBGC33LM="},
		{"pbkdf2 zero iterations", "pbkdf2_sha256$0$salt$YywoEuRtRgQQK6dhjp1tfS+BKPYma0oDJk0qBGC33LM="},
		{"pbkdf2 negative iterations", "pbkdf2_sha256$-5$salt$YywoEuRtRgQQK6dhjp1tfS+BKPYma0oDJk0qBGC33LM="},
		{"pbkdf2 bad base64", "pbkdf2_sha256$1000$salt$not base64!"},
		{"pbkdf2 empty key", "pbkdf2_sha256$1000$salt$"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("CheckPassword(%q) panicked: %v", tc.hash, v)
				}
			}()
			err := auth.CheckPassword(tc.hash, "pw")
			if err == nil {
				t.Fatalf("CheckPassword(%q) = nil, want an error", tc.hash)
			}
			if errors.Is(err, auth.ErrMismatch) {
				t.Fatalf("CheckPassword(%q) = ErrMismatch, want a malformed-hash error", tc.hash)
			}
		})
	}
}
