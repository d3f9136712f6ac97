package httpapi

import (
	"context"
	"net/http"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/auth"
)

// RegisterUser implements registerUser (POST /api/user/register/).
func (a *API) RegisterUser(ctx context.Context, req *api.RegisterRequest) (*api.AuthEnvelope, error) {
	u, token, err := a.accounts.Register(ctx, account.RegisterInput{
		Username: string(req.Username),
		Password: string(req.Password),
		Nickname: req.Nickname.Or(""),
	})
	if err != nil {
		return nil, err
	}
	return &api.AuthEnvelope{Success: true, Code: http.StatusCreated, Message: "Registered.",
		Data: api.AuthData{Token: token, User: toUser(u)}}, nil
}

// LoginUser implements loginUser (POST /api/user/login/).
func (a *API) LoginUser(ctx context.Context, req *api.LoginRequest) (*api.AuthEnvelope, error) {
	u, token, err := a.accounts.Login(ctx, auth.User, req.Username, req.Password)
	if err != nil {
		return nil, err
	}
	return &api.AuthEnvelope{Success: true, Code: http.StatusOK, Message: okMessage,
		Data: api.AuthData{Token: token, User: toUser(u)}}, nil
}

// LogoutUser implements logoutUser (POST /api/user/logout/).
func (a *API) LogoutUser(ctx context.Context) (*api.EmptyEnvelope, error) {
	if err := a.accounts.Logout(ctx, principal(ctx)); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Logged out."}, nil
}

// GetProfile implements getProfile (GET /api/user/profile/).
func (a *API) GetProfile(ctx context.Context) (*api.UserEnvelope, error) {
	return &api.UserEnvelope{Success: true, Code: http.StatusOK, Message: okMessage, Data: toUser(principal(ctx).User)}, nil
}

// UpdateProfile implements updateProfile (PATCH /api/user/profile/).
func (a *API) UpdateProfile(ctx context.Context, req *api.ProfileUpdate) (*api.UserEnvelope, error) {
	in := account.ProfileUpdate{Interests: req.Interests}
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
	u, err := a.accounts.UpdateProfile(ctx, principal(ctx), in)
	if err != nil {
		return nil, err
	}
	return &api.UserEnvelope{Success: true, Code: http.StatusOK, Message: okMessage, Data: toUser(u)}, nil
}

// ChangePassword implements changePassword (POST /api/user/password/).
func (a *API) ChangePassword(ctx context.Context, req *api.PasswordChangeRequest) (*api.EmptyEnvelope, error) {
	if err := a.accounts.ChangePassword(ctx, principal(ctx), req.OldPassword, string(req.NewPassword)); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Password changed."}, nil
}

// MacLogin implements macLogin (POST /api/user/mac-login/).
func (a *API) MacLogin(ctx context.Context, req *api.MacRequest) (*api.MacLoginEnvelope, error) {
	userID, owned, err := a.devices.ResolveOwner(ctx, string(req.MACAddress))
	if err != nil {
		return nil, err
	}
	u, token, err := a.accounts.LoginAsDevice(ctx, userID, owned.Device.MACAddress)
	if err != nil {
		return nil, err
	}
	return &api.MacLoginEnvelope{Success: true, Code: http.StatusOK, Message: okMessage,
		Data: api.MacLoginData{Token: token, User: toUser(u), Device: toDevice(owned)}}, nil
}
