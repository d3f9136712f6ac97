package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"paradise/ent"
	"paradise/ent/conversation"
	"paradise/ent/device"
	"paradise/ent/user"
	"paradise/ent/userdevice"
	"paradise/internal/apperr"
	"paradise/internal/auth"
	"paradise/internal/database"
	"paradise/internal/hub"
	"paradise/internal/paging"
)

// This file holds the staff's use cases on users (the admin API).

func selfAction(msg string) error { return apperr.SelfAction(msg) }

// UserFilter selects users; zero fields do not filter.
type UserFilter struct {
	// Search is a case-insensitive substring of username or nickname.
	Search string
	Active *bool
	Staff  *bool
	// JoinedFrom and JoinedTo bound date_joined: [JoinedFrom, JoinedTo).
	JoinedFrom, JoinedTo time.Time
	// Ordering is openapi.yaml's UserOrdering; empty is "id".
	Ordering string
}

// userOrderings maps UserOrdering to its column.
var userOrderings = map[string]string{
	"id": user.FieldID, "username": user.FieldUsername, "date_joined": user.FieldDateJoined,
	"last_login": user.FieldLastLogin, "favorability": user.FieldFavorability,
}

// List returns a page of users matching the filter, in its order, and
// their total count.
func (s *Service) List(ctx context.Context, f UserFilter, page paging.Page) ([]User, int, error) {
	q := s.db.User.Query()
	if search := strings.TrimSpace(f.Search); search != "" {
		q = q.Where(user.Or(user.UsernameContainsFold(search), user.NicknameContainsFold(search)))
	}
	if f.Active != nil {
		q = q.Where(user.IsActive(*f.Active))
	}
	if f.Staff != nil {
		q = q.Where(user.IsStaff(*f.Staff))
	}
	if !f.JoinedFrom.IsZero() {
		q = q.Where(user.DateJoinedGTE(f.JoinedFrom))
	}
	if !f.JoinedTo.IsZero() {
		q = q.Where(user.DateJoinedLT(f.JoinedTo))
	}
	count, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("account: count users: %w", err)
	}
	if err := page.Check(count); err != nil {
		return nil, 0, err
	}
	order, err := userOrder(f.Ordering)
	if err != nil {
		return nil, 0, err
	}
	users, err := q.Order(order...).Offset(page.Offset()).Limit(page.Size).All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("account: list users: %w", err)
	}
	out := make([]User, len(users))
	for i, u := range users {
		out[i] = fromEnt(u)
	}
	return out, count, nil
}

// userOrder is the ORDER BY of an ordering, id breaking ties (in the
// same direction). NULL last_login sorts last ascending and first
// descending on both databases (their defaults differ).
func userOrder(ordering string) ([]user.OrderOption, error) {
	if ordering == "" {
		ordering = "id"
	}
	desc := strings.HasPrefix(ordering, "-")
	col, ok := userOrderings[strings.TrimPrefix(ordering, "-")]
	if !ok {
		return nil, apperr.Field("ordering", fmt.Sprintf("%q is not a valid choice.", ordering))
	}
	return []user.OrderOption{orderBy(col, desc), orderBy(user.FieldID, desc)}, nil
}

// orderBy orders by a column, NULLs after every value ascending and
// before them descending.
func orderBy(col string, desc bool) func(*sql.Selector) {
	if desc {
		return sql.OrderByField(col, sql.OrderDesc(), sql.OrderNullsFirst()).ToFunc()
	}
	return sql.OrderByField(col, sql.OrderNullsLast()).ToFunc()
}

// CreateInput is a user created by staff.
type CreateInput struct {
	Username string
	Password string
	Nickname string
	Staff    bool
	Active   bool
}

// Create creates a user; no token is issued.
func (s *Service) Create(ctx context.Context, in CreateInput) (User, error) {
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return User{}, err
	}
	nickname := strings.TrimSpace(in.Nickname)
	if nickname == "" {
		nickname = defaultNickname(in.Username)
	}
	u, err := s.db.User.Create().SetUsername(in.Username).SetPasswordHash(hash).SetNickname(nickname).
		SetIsStaff(in.Staff).SetIsActive(in.Active).Save(ctx)
	if ent.IsConstraintError(err) {
		return User{}, usernameTaken()
	}
	if err != nil {
		return User{}, fmt.Errorf("account: create user: %w", err)
	}
	return fromEnt(u), nil
}

// AdminUpdate is what staff change on a user; nil keeps a field.
type AdminUpdate struct {
	ProfileUpdate
	Favorability *int
	Staff        *bool
	Active       *bool
}

// Update changes a user for staff and returns the user before and after.
// Clearing the active flag revokes the user's tokens as SetActive does;
// staff cannot clear their own staff or active flag.
func (s *Service) Update(ctx context.Context, actor *Principal, id int, in AdminUpdate) (before, after User, err error) {
	if actor.User.ID == id && ((in.Staff != nil && !*in.Staff) || (in.Active != nil && !*in.Active)) {
		return User{}, User{}, selfAction("You cannot remove your own staff or active flag.")
	}
	before, err = s.Get(ctx, id)
	if err != nil {
		return User{}, User{}, err
	}
	upd := s.db.User.UpdateOneID(id)
	if err := applyProfile(upd, in.ProfileUpdate); err != nil {
		return User{}, User{}, err
	}
	if in.Favorability != nil {
		upd.SetFavorability(*in.Favorability)
	}
	if in.Staff != nil {
		upd.SetIsStaff(*in.Staff)
	}
	if in.Active != nil {
		upd.SetIsActive(*in.Active)
	}
	eu, err := upd.Save(ctx)
	if ent.IsNotFound(err) {
		return User{}, User{}, apperr.NotFound("User not found.")
	}
	if err != nil {
		return User{}, User{}, fmt.Errorf("account: update user %d: %w", id, err)
	}
	after = fromEnt(eu)
	if err := s.storeSnapshot(ctx, after, false); err != nil {
		return User{}, User{}, err
	}
	if before.IsActive && !after.IsActive {
		if err := s.revokeAll(ctx, id); err != nil {
			return User{}, User{}, err
		}
	}
	return before, after, nil
}

// revokeAll revokes every token of the user and closes all their hub
// sessions on every instance.
func (s *Service) revokeAll(ctx context.Context, id int) error {
	if err := s.tokens.RevokeUser(ctx, id, auth.Session{}); err != nil {
		return err
	}
	return s.closeRevoked(ctx, hub.Selector{UserID: id})
}

// ResetPassword sets the user's password and revokes all their tokens
// (user, device and admin), closing their hub sessions.
func (s *Service) ResetPassword(ctx context.Context, id int, password string) (User, error) {
	u, err := s.Get(ctx, id)
	if err != nil {
		return User{}, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	err = s.db.User.UpdateOneID(id).SetPasswordHash(hash).Exec(ctx)
	if ent.IsNotFound(err) {
		return User{}, apperr.NotFound("User not found.")
	}
	if err != nil {
		return User{}, fmt.Errorf("account: reset password of %d: %w", id, err)
	}
	return u, s.revokeAll(ctx, id)
}

// Released is a device whose active binding a user's deletion ended.
type Released struct {
	DeviceID int
	MAC      string
}

// Delete deletes the user with their bindings (the devices stay, unbound),
// conversations and messages, revokes all their tokens (device sessions
// included) and closes their hub sessions. It returns the user as it was
// and the devices it held.
func (s *Service) Delete(ctx context.Context, actor *Principal, id int) (User, []Released, error) {
	if actor.User.ID == id {
		return User{}, nil, selfAction("You cannot delete your own account.")
	}
	var (
		gone     User
		released []Released
	)
	err := database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		u, err := tx.User.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.NotFound("User not found.")
		}
		if err != nil {
			return err
		}
		gone = fromEnt(u)
		active, err := tx.UserDevice.Query().Where(userdevice.UserID(id), userdevice.UnboundAtIsNil()).
			WithDevice(func(q *ent.DeviceQuery) { q.Select(device.FieldID, device.FieldMACAddress) }).All(ctx)
		if err != nil {
			return err
		}
		for _, b := range active {
			released = append(released, Released{DeviceID: b.DeviceID, MAC: b.Edges.Device.MACAddress})
		}
		if _, err := tx.UserDevice.Delete().Where(userdevice.UserID(id)).Exec(ctx); err != nil {
			return err
		}
		// Messages go with their conversations (ON DELETE CASCADE).
		if _, err := tx.Conversation.Delete().Where(conversation.UserID(id)).Exec(ctx); err != nil {
			return err
		}
		return tx.User.DeleteOneID(id).Exec(ctx)
	})
	if ent.IsNotFound(err) {
		// Deleted by a concurrent request.
		return User{}, nil, apperr.NotFound("User not found.")
	}
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return User{}, nil, err
		}
		return User{}, nil, fmt.Errorf("account: delete user %d: %w", id, err)
	}
	if err := s.tokens.DropSnapshot(ctx, id); err != nil {
		return User{}, nil, err
	}
	for _, r := range released {
		if _, err := s.tokens.RevokeDevice(ctx, r.MAC); err != nil {
			return User{}, nil, err
		}
	}
	return gone, released, s.revokeAll(ctx, id)
}
