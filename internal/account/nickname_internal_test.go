package account

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDefaultNickname(t *testing.T) {
	tests := []struct {
		name, username, want string
	}{
		{"short username kept", "alice", "alice"},
		{"64 characters kept", strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{"65 characters cut to 64", strings.Repeat("b", 65), strings.Repeat("b", 64)},
		{"150 characters cut to 64", strings.Repeat("c", 150), strings.Repeat("c", 64)},
		{"cut counts characters, not bytes", strings.Repeat("é", 70), strings.Repeat("é", 64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := defaultNickname(tc.username)
			if got != tc.want {
				t.Fatalf("defaultNickname(%d characters) = %d characters %q, want %q",
					utf8.RuneCountInString(tc.username), utf8.RuneCountInString(got), got, tc.want)
			}
		})
	}
}
