package account

import (
	"testing"
	"time"
)

// TestSnapshotFormat pins the cached user's JSON: instances of different
// versions read each other's snapshots during a rolling deploy, so a
// change here needs a new snapshotVersion, not an edit of this string.
func TestSnapshotFormat(t *testing.T) {
	joined := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	last := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	u := User{ID: 7, Username: "alice", Nickname: "Al", Gender: "female", Mbti: "INTJ",
		Interests: []string{"music", "猫"}, Favorability: 42, IsStaff: true, IsActive: true,
		DateJoined: joined, LastLogin: &last}
	const want = `{"v":1,"id":7,"username":"alice","nickname":"Al","gender":"female","mbti":"INTJ",` +
		`"interests":["music","猫"],"favorability":42,"is_staff":true,"is_active":true,` +
		`"date_joined":"2026-01-02T03:04:05Z","last_login":"2026-02-03T04:05:06Z"}`
	got, err := encodeSnapshot(u)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("snapshot\n got %s\nwant %s", got, want)
	}
	back, ok := decodeSnapshot(got, 7)
	if !ok || back.Username != u.Username || !back.LastLogin.Equal(last) || back.Interests[1] != "猫" {
		t.Fatalf("decode = %+v, %t", back, ok)
	}
}

func TestSnapshotRejects(t *testing.T) {
	tests := []struct {
		name string
		blob string
		id   int
	}{
		{"other version", `{"v":2,"id":7,"username":"alice"}`, 7},
		{"no version (an ent.User snapshot of older builds)", `{"id":7,"username":"alice","is_active":true}`, 7},
		{"other user", `{"v":1,"id":8,"username":"bob"}`, 7},
		{"corrupt", `{"v":1,`, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if u, ok := decodeSnapshot([]byte(tc.blob), tc.id); ok {
				t.Fatalf("decoded %+v", u)
			}
		})
	}
}
