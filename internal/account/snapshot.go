package account

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Every authenticated request needs its user. Rather than a database read
// per request, a JSON snapshot of the user (without the password hash)
// lives in Redis beside the user's tokens, and the token lookup returns it
// in the same round trip. Writers store the new snapshot after each change
// to a user, so every instance sees it at once; a reader that misses fills
// it only if still absent, so it cannot overwrite a writer's newer one.
//
// During a rolling deploy old and new instances read each other's
// snapshots, so the format is its own type with explicit JSON names and a
// version, pinned by a test: a schema change cannot silently change it.
// A snapshot of another version is treated as missing (and reloaded).

// snapshotVersion is the version of snapshotV1's format. Change the
// format only together with a new version number.
const snapshotVersion = 1

// snapshotV1 is the cached form of a User.
type snapshotV1 struct {
	V            int        `json:"v"`
	ID           int        `json:"id"`
	Username     string     `json:"username"`
	Nickname     string     `json:"nickname"`
	Gender       string     `json:"gender"`
	Mbti         string     `json:"mbti"`
	Interests    []string   `json:"interests"`
	Favorability int        `json:"favorability"`
	IsStaff      bool       `json:"is_staff"`
	IsActive     bool       `json:"is_active"`
	DateJoined   time.Time  `json:"date_joined"`
	LastLogin    *time.Time `json:"last_login"`
}

func encodeSnapshot(u User) ([]byte, error) {
	return json.Marshal(snapshotV1{
		V: snapshotVersion, ID: u.ID, Username: u.Username, Nickname: u.Nickname, Gender: u.Gender,
		Mbti: u.Mbti, Interests: u.Interests, Favorability: u.Favorability, IsStaff: u.IsStaff,
		IsActive: u.IsActive, DateJoined: u.DateJoined, LastLogin: u.LastLogin,
	})
}

// decodeSnapshot returns the user of a snapshot, and false for a snapshot
// that is corrupt, of another version, or of another user.
func decodeSnapshot(b []byte, id int) (User, bool) {
	var s snapshotV1
	if err := json.Unmarshal(b, &s); err != nil || s.V != snapshotVersion || s.ID != id {
		return User{}, false
	}
	return User{
		ID: s.ID, Username: s.Username, Nickname: s.Nickname, Gender: s.Gender, Mbti: s.Mbti,
		Interests: s.Interests, Favorability: s.Favorability, IsStaff: s.IsStaff, IsActive: s.IsActive,
		DateJoined: s.DateJoined, LastLogin: s.LastLogin,
	}, true
}

// snapshotUser returns the user from a snapshot, or loads it and fills the
// snapshot.
func (s *Service) snapshotUser(ctx context.Context, id int, snap []byte) (User, error) {
	if snap != nil {
		if u, ok := decodeSnapshot(snap, id); ok {
			return u, nil
		}
	}
	eu, err := s.db.User.Get(ctx, id)
	if err != nil {
		return User{}, err
	}
	u := fromEnt(eu)
	if err := s.storeSnapshot(ctx, u, true); err != nil {
		return User{}, err
	}
	return u, nil
}

// storeSnapshot writes the user's snapshot; writers pass onlyIfAbsent
// false, readers filling a miss pass true.
func (s *Service) storeSnapshot(ctx context.Context, u User, onlyIfAbsent bool) error {
	blob, err := encodeSnapshot(u)
	if err != nil {
		return fmt.Errorf("account: snapshot user %d: %w", u.ID, err)
	}
	return s.tokens.StoreSnapshot(ctx, u.ID, blob, onlyIfAbsent)
}
