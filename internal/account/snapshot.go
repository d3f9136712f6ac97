package account

import (
	"context"
	"encoding/json"
	"fmt"

	"paradise/ent"
)

// Every authenticated request needs its user. Rather than a database read
// per request, a JSON snapshot of the user (without the password hash)
// lives in Redis beside the user's tokens, and the token lookup returns it
// in the same round trip. Writers store the new snapshot after each change
// to a user, so every instance sees it at once; a reader that misses fills
// it only if still absent, so it cannot overwrite a writer's newer one.

// snapshotUser returns the user from a snapshot, or loads it and fills the
// snapshot.
func (s *Service) snapshotUser(ctx context.Context, id int, snap []byte) (*ent.User, error) {
	if snap != nil {
		var u ent.User
		if err := json.Unmarshal(snap, &u); err == nil && u.ID == id {
			return &u, nil
		}
	}
	u, err := s.db.User.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.storeSnapshot(ctx, u, true); err != nil {
		return nil, err
	}
	return u, nil
}

// storeSnapshot writes the user's snapshot; writers pass onlyIfAbsent
// false, readers filling a miss pass true.
func (s *Service) storeSnapshot(ctx context.Context, u *ent.User, onlyIfAbsent bool) error {
	blob, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("account: snapshot user %d: %w", u.ID, err)
	}
	return s.tokens.StoreSnapshot(ctx, u.ID, blob, onlyIfAbsent)
}
