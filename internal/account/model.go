package account

import (
	"time"

	"paradise/ent"
)

// User is a user as the service sees it, without credentials. ent's
// entities stay inside this package.
type User struct {
	ID           int
	Username     string
	Nickname     string
	Gender       string
	Mbti         string
	Interests    []string
	Favorability int
	IsStaff      bool
	IsActive     bool
	DateJoined   time.Time
	LastLogin    *time.Time
}

func fromEnt(u *ent.User) User {
	return User{
		ID:           u.ID,
		Username:     u.Username,
		Nickname:     u.Nickname,
		Gender:       string(u.Gender),
		Mbti:         u.Mbti,
		Interests:    u.Interests,
		Favorability: u.Favorability,
		IsStaff:      u.IsStaff,
		IsActive:     u.IsActive,
		DateJoined:   u.DateJoined,
		LastLogin:    u.LastLogin,
	}
}
