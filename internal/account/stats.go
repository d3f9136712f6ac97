package account

import (
	"context"
	"fmt"
	"time"

	"paradise/ent/user"
)

// Stats are the user figures of the admin dashboard.
type Stats struct {
	Total, Active, Staff int
	// NewPerDay counts the users who joined on each UTC day from the
	// first day asked for.
	NewPerDay []int
}

// Stats counts users, and the users who joined on each of days UTC days
// from the UTC day of from. One count per day keeps the query the same on
// both databases (they group dates differently); days is small.
func (s *Service) Stats(ctx context.Context, from time.Time, days int) (Stats, error) {
	var st Stats
	var err error
	if st.Total, err = s.db.User.Query().Count(ctx); err != nil {
		return Stats{}, fmt.Errorf("account: stats: %w", err)
	}
	if st.Active, err = s.db.User.Query().Where(user.IsActive(true)).Count(ctx); err != nil {
		return Stats{}, fmt.Errorf("account: stats: %w", err)
	}
	if st.Staff, err = s.db.User.Query().Where(user.IsStaff(true)).Count(ctx); err != nil {
		return Stats{}, fmt.Errorf("account: stats: %w", err)
	}
	st.NewPerDay = make([]int, days)
	for i := range st.NewPerDay {
		// The embedded SQLite database compares times as text in the
		// server's zone, so bounds are given in it.
		lo, hi := from.AddDate(0, 0, i).In(time.Local), from.AddDate(0, 0, i+1).In(time.Local)
		n, err := s.db.User.Query().Where(user.DateJoinedGTE(lo), user.DateJoinedLT(hi)).Count(ctx)
		if err != nil {
			return Stats{}, fmt.Errorf("account: stats: %w", err)
		}
		st.NewPerDay[i] = n
	}
	return st, nil
}
