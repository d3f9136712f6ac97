package account

import (
	"context"
	"net/http"

	"paradise/gen/api"
	"paradise/internal/apperr"
	"paradise/internal/auth"
	"paradise/internal/httpapi"
)

// Handler implements the user operations of api.Handler: registration,
// logins, the caller's profile and password. Handlers translate only:
// spec types in, service calls, spec types out.
type Handler struct {
	accounts *Service
}

// NewHandler returns the user handler.
func NewHandler(accounts *Service) *Handler { return &Handler{accounts: accounts} }

// RegisterUser implements registerUser (POST /api/user/register/).
func (h *Handler) RegisterUser(ctx context.Context, req *api.RegisterRequest) (*api.AuthEnvelope, error) {
	u, token, err := h.accounts.Register(ctx, RegisterInput{
		Username: string(req.Username),
		Password: string(req.Password),
		Nickname: req.Nickname.Or(""),
	})
	if err != nil {
		return nil, err
	}
	return &api.AuthEnvelope{Success: true, Code: http.StatusCreated, Message: "Registered.",
		Data: api.AuthData{Token: token, User: UserToAPI(u)}}, nil
}

// LoginUser implements loginUser (POST /api/user/login/).
func (h *Handler) LoginUser(ctx context.Context, req *api.LoginRequest) (*api.AuthEnvelope, error) {
	return Login(ctx, h.accounts, auth.User, req)
}

// Login answers a login request of the given kind (user and admin logins).
func Login(ctx context.Context, accounts *Service, kind auth.Kind, req *api.LoginRequest) (*api.AuthEnvelope, error) {
	u, token, err := accounts.Login(ctx, kind, req.Username, req.Password)
	if err != nil {
		return nil, err
	}
	return &api.AuthEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.AuthData{Token: token, User: UserToAPI(u)}}, nil
}

// LogoutUser implements logoutUser (POST /api/user/logout/).
func (h *Handler) LogoutUser(ctx context.Context) (*api.EmptyEnvelope, error) {
	return Logout(ctx, h.accounts)
}

// Logout answers a logout request (user and admin logouts).
func Logout(ctx context.Context, accounts *Service) (*api.EmptyEnvelope, error) {
	if err := accounts.Logout(ctx, PrincipalFrom(ctx)); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Logged out."}, nil
}

// GetProfile implements getProfile (GET /api/user/profile/).
func (h *Handler) GetProfile(ctx context.Context) (*api.UserEnvelope, error) {
	return &api.UserEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: UserToAPI(PrincipalFrom(ctx).User)}, nil
}

// UpdateProfile implements updateProfile (PATCH /api/user/profile/).
func (h *Handler) UpdateProfile(ctx context.Context, req *api.ProfileUpdate) (*api.UserEnvelope, error) {
	in := ProfileUpdate{Interests: req.Interests}
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
	u, err := h.accounts.UpdateProfile(ctx, PrincipalFrom(ctx), in)
	if err != nil {
		return nil, err
	}
	return &api.UserEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: UserToAPI(u)}, nil
}

// ChangePassword implements changePassword (POST /api/user/password/).
func (h *Handler) ChangePassword(ctx context.Context, req *api.PasswordChangeRequest) (*api.EmptyEnvelope, error) {
	if err := h.accounts.ChangePassword(ctx, PrincipalFrom(ctx), req.OldPassword, string(req.NewPassword)); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Password changed."}, nil
}

// UserToAPI converts a user to its API form.
func UserToAPI(u User) api.User {
	interests := u.Interests
	if interests == nil {
		interests = []string{}
	}
	return api.User{
		ID:           u.ID,
		Username:     u.Username,
		Nickname:     u.Nickname,
		Gender:       api.Gender(u.Gender),
		Mbti:         u.Mbti,
		Interests:    interests,
		Favorability: u.Favorability,
		IsStaff:      u.IsStaff,
		IsActive:     u.IsActive,
		DateJoined:   u.DateJoined,
		LastLogin:    httpapi.NilTime(u.LastLogin),
	}
}

// Security implements api.SecurityHandler: it authenticates every secured
// operation and puts the caller on the context.
type Security struct {
	accounts *Service
}

// NewSecurity returns the security handler.
func NewSecurity(accounts *Service) *Security { return &Security{accounts: accounts} }

type principalKey struct{}

// deviceRefused are the operations a device token (MAC login) may not
// call: a device acts as itself, not as its owner's account. The scope is
// documented on TokenAuth in openapi.yaml.
var deviceRefused = map[api.OperationName]bool{
	api.UpdateProfileOperation:       true,
	api.ChangePasswordOperation:      true,
	api.BindDeviceOperation:          true,
	api.UnbindDeviceOperation:        true,
	api.SendDeviceMessageOperation:   true,
	api.ClaimDeviceOperation:         true,
	api.CreateDeviceCommandOperation: true,
}

// HandleTokenAuth implements the TokenAuth scheme: a user token, or a
// device token within its scope.
func (s *Security) HandleTokenAuth(ctx context.Context, op api.OperationName, t api.TokenAuth) (context.Context, error) {
	ctx, err := s.authenticate(ctx, auth.User, t.APIKey)
	if err != nil {
		return ctx, err
	}
	if PrincipalFrom(ctx).Session.IsDevice() && deviceRefused[op] {
		return ctx, apperr.Forbidden("A device token cannot do this; log in as the owner.")
	}
	return ctx, nil
}

// HandleAdminTokenAuth implements the AdminTokenAuth scheme: a staff
// user's admin token.
func (s *Security) HandleAdminTokenAuth(ctx context.Context, _ api.OperationName, t api.AdminTokenAuth) (context.Context, error) {
	return s.authenticate(ctx, auth.Admin, t.APIKey)
}

func (s *Security) authenticate(ctx context.Context, kind auth.Kind, header string) (context.Context, error) {
	token, ok := auth.ParseHeader(header)
	if !ok {
		return ctx, apperr.Unauthorized("Invalid token header. Use: Authorization: Token <token>.")
	}
	p, err := s.accounts.Authenticate(ctx, kind, token)
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

// PrincipalFrom is the caller the security handler authenticated. ogen
// calls the security handler before every secured operation, so a
// secured handler always finds one.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
