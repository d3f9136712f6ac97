package admin

import (
	"context"
	"net/http"
	"strconv"

	"paradise/gen/api"
	"paradise/internal/account"
)

// AdminCreateUser implements adminCreateUser (POST /api/v1/admin/users/).
func (h *Handler) AdminCreateUser(ctx context.Context, req *api.AdminUserCreate) (*api.UserEnvelope, error) {
	u, err := h.accounts.Create(ctx, account.CreateInput{Username: string(req.Username), Password: string(req.Password),
		Nickname: req.Nickname.Or(""), Staff: req.IsStaff.Or(false), Active: req.IsActive.Or(true)})
	if err != nil {
		return nil, err
	}
	if err := h.audit.Record(ctx, "user.create", targetUser, strconv.Itoa(u.ID), nil, userJSON(u)); err != nil {
		return nil, err
	}
	return &api.UserEnvelope{Success: true, Code: http.StatusCreated, Message: "User created.", Data: account.UserToAPI(u)}, nil
}

// AdminUpdateUser implements adminUpdateUser (PATCH /api/v1/admin/users/{id}/).
func (h *Handler) AdminUpdateUser(ctx context.Context, req *api.AdminUserUpdate, params api.AdminUpdateUserParams) (*api.UserEnvelope, error) {
	in := account.AdminUpdate{ProfileUpdate: account.ProfileUpdate{Interests: req.Interests}}
	if v, ok := req.Nickname.Get(); ok {
		in.Nickname = &v
	}
	if v, ok := req.Gender.Get(); ok {
		g := string(v)
		in.Gender = &g
	}
	if v, ok := req.Mbti.Get(); ok {
		m := string(v)
		in.Mbti = &m
	}
	if v, ok := req.Favorability.Get(); ok {
		in.Favorability = &v
	}
	if v, ok := req.IsStaff.Get(); ok {
		in.Staff = &v
	}
	if v, ok := req.IsActive.Get(); ok {
		in.Active = &v
	}
	before, after, err := h.accounts.Update(ctx, account.PrincipalFrom(ctx), params.ID, in)
	if err != nil {
		return nil, err
	}
	if err := h.audit.Record(ctx, "user.update", targetUser, strconv.Itoa(after.ID), userJSON(before), userJSON(after)); err != nil {
		return nil, err
	}
	return userEnvelope(after, "User updated."), nil
}

// AdminResetPassword implements adminResetPassword (POST /api/v1/admin/users/{id}/password/).
func (h *Handler) AdminResetPassword(ctx context.Context, req *api.PasswordReset, params api.AdminResetPasswordParams) (*api.EmptyEnvelope, error) {
	u, err := h.accounts.ResetPassword(ctx, params.ID, string(req.Password))
	if err != nil {
		return nil, err
	}
	// The user is recorded as is: the password is never in the log.
	if err := h.audit.Record(ctx, "user.reset_password", targetUser, strconv.Itoa(u.ID), userJSON(u), userJSON(u)); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Password reset."}, nil
}

// AdminDeleteUser implements adminDeleteUser (DELETE /api/v1/admin/users/{id}/).
func (h *Handler) AdminDeleteUser(ctx context.Context, params api.AdminDeleteUserParams) (*api.EmptyEnvelope, error) {
	u, released, err := h.accounts.Delete(ctx, account.PrincipalFrom(ctx), params.ID)
	if err != nil {
		return nil, err
	}
	ended := make(map[int]string, len(released))
	for _, r := range released {
		ended[r.DeviceID] = r.MAC
	}
	h.devices.BindingsEnded(ctx, u.ID, ended)
	if err := h.audit.Record(ctx, "user.delete", targetUser, strconv.Itoa(u.ID), userJSON(u), nil); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "User deleted."}, nil
}
