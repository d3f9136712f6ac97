// Package account owns users: registration, logins, profiles, passwords,
// and the admin's view of users.
package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"paradise/ent"
	"paradise/ent/user"
	"paradise/gen/ws"
	"paradise/internal/apperr"
	"paradise/internal/auth"
	"paradise/internal/httpapi"
	"paradise/internal/hub"
	"paradise/internal/ratelimit"
)

// Sessions closes hub sessions on every instance (the hub's Bus), so a
// revoked token stops working on open WebSockets too.
type Sessions interface {
	CloseSessions(ctx context.Context, sel hub.Selector, code websocket.StatusCode, reason string) error
}

// Service implements the account use cases over ent and the token store.
type Service struct {
	db       *ent.Client
	tokens   *auth.Tokens
	hasher   *auth.Hasher
	sessions Sessions
	// guard rate-limits logins and registrations and locks out repeated
	// failures.
	guard *ratelimit.Guard
	// dummyHash is checked when a username is unknown, so a login takes as
	// long for a missing user as for a wrong password.
	dummyHash string
}

// NewService returns the account service.
func NewService(db *ent.Client, tokens *auth.Tokens, hasher *auth.Hasher, sessions Sessions, guard *ratelimit.Guard) (*Service, error) {
	dummy, err := auth.HashPassword("paradise-dummy-password")
	if err != nil {
		return nil, err
	}
	return &Service{db: db, tokens: tokens, hasher: hasher, sessions: sessions, guard: guard, dummyHash: dummy}, nil
}

// Principal is an authenticated caller.
type Principal struct {
	Session auth.Session
	User    User
}

// Authenticate resolves a token of the given kind to an active user. Admin
// tokens additionally need a staff user.
func (s *Service) Authenticate(ctx context.Context, kind auth.Kind, token string) (*Principal, error) {
	sess, err := s.tokens.Lookup(ctx, kind, token)
	if errors.Is(err, auth.ErrInvalidToken) {
		return nil, apperr.Unauthorized("Invalid token.")
	}
	if err != nil {
		return nil, err
	}
	u, err := s.snapshotUser(ctx, sess.UserID, sess.Snapshot)
	if ent.IsNotFound(err) {
		return nil, apperr.Unauthorized("Invalid token.")
	}
	if err != nil {
		return nil, fmt.Errorf("account: load user %d: %w", sess.UserID, err)
	}
	if !u.IsActive {
		return nil, apperr.Unauthorized("User inactive or deleted.")
	}
	if kind == auth.Admin && !u.IsStaff {
		return nil, apperr.Forbidden("Staff access required.")
	}
	return &Principal{Session: sess, User: u}, nil
}

// AuthenticateSession implements hub.Authenticator: a hub session opens
// with a user token (an app's or, from MAC login, a device's).
func (s *Service) AuthenticateSession(ctx context.Context, token string) (hub.Identity, error) {
	p, err := s.Authenticate(ctx, auth.User, token)
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return hub.Identity{}, fmt.Errorf("%w: %s", hub.ErrInvalidToken, ae.Message)
	}
	if err != nil {
		return hub.Identity{}, err
	}
	return hub.Identity{UserID: p.User.ID, MAC: p.Session.MAC, Token: token}, nil
}

// closeRevoked closes the hub sessions whose tokens were just revoked.
func (s *Service) closeRevoked(ctx context.Context, sel hub.Selector) error {
	if err := s.sessions.CloseSessions(ctx, sel, ws.CloseTokenRevoked, "token revoked; log in again"); err != nil {
		return fmt.Errorf("account: close revoked sessions: %w", err)
	}
	return nil
}

// RegisterInput is a registration request.
type RegisterInput struct {
	Username string
	Password string
	Nickname string
}

// Register creates a user and logs them in. Registrations are limited
// per client IP and per username (before any password is hashed).
func (s *Service) Register(ctx context.Context, in RegisterInput) (User, string, error) {
	ip := httpapi.ClientIP(ctx)
	if err := s.guard.Register(ctx, ip); err != nil {
		return User{}, "", err
	}
	if err := s.guard.Login(ctx, "", in.Username); err != nil {
		return User{}, "", err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return User{}, "", err
	}
	nickname := strings.TrimSpace(in.Nickname)
	if nickname == "" {
		nickname = defaultNickname(in.Username)
	}
	u, err := s.db.User.Create().
		SetUsername(in.Username).
		SetPasswordHash(hash).
		SetNickname(nickname).
		SetLastLogin(time.Now()).
		Save(ctx)
	if ent.IsConstraintError(err) {
		return User{}, "", usernameTaken()
	}
	if err != nil {
		return User{}, "", fmt.Errorf("account: register: %w", err)
	}
	token, err := s.tokens.Issue(ctx, auth.User, u.ID, "")
	if err != nil {
		return User{}, "", err
	}
	return fromEnt(u), token, nil
}

// MaxNickname is the nickname limit in characters (openapi.yaml's
// maxLength, ent/schema's column). Usernames may be longer (150, Django's
// limit, kept for existing accounts).
const MaxNickname = 64

// defaultNickname is the nickname of a user who gave none: the username,
// cut to MaxNickname characters. Without the cut, a 65-150 character
// username and no nickname failed registration with a 500.
func defaultNickname(username string) string {
	if utf8.RuneCountInString(username) <= MaxNickname {
		return username
	}
	return string([]rune(username)[:MaxNickname])
}

func usernameTaken() error {
	return apperr.Field("username", "A user with that username already exists.")
}

// Login checks a username and password and issues a token of the kind:
// admin tokens only for staff. Attempts are rate-limited per client IP and
// per username, and failed passwords for a username from one address lock
// further attempts from there for a while (ratelimit.Guard), before any
// password is hashed.
func (s *Service) Login(ctx context.Context, kind auth.Kind, username, password string) (User, string, error) {
	ip := httpapi.ClientIP(ctx)
	if err := s.guard.Login(ctx, ip, username); err != nil {
		return User{}, "", err
	}
	u, err := s.login(ctx, kind, username, password)
	if errors.Is(err, errBadCredentials) {
		if ferr := s.guard.LoginFailed(ctx, ip, username); ferr != nil {
			return User{}, "", ferr
		}
		return User{}, "", err
	}
	if err != nil {
		return User{}, "", err
	}
	if err := s.guard.LoginSucceeded(ctx, ip, username); err != nil {
		return User{}, "", err
	}
	token, err := s.tokens.Issue(ctx, kind, u.ID, "")
	if err != nil {
		return User{}, "", err
	}
	return u, token, nil
}

// errBadCredentials is the one answer to an unknown username or a wrong
// password; Login counts it against the lockout.
var errBadCredentials = errors.New("account: bad credentials")

func badCredentials() error {
	return &apperr.Error{Status: http.StatusBadRequest, Code: http.StatusBadRequest,
		Message: "Invalid username or password.", Err: errBadCredentials}
}

// login checks the credentials and records the login.
func (s *Service) login(ctx context.Context, kind auth.Kind, username, password string) (User, error) {
	u, err := s.db.User.Query().Where(user.Username(username)).Only(ctx)
	if ent.IsNotFound(err) {
		// A busy hasher answers as it would for a known user, so the 503
		// does not tell which usernames exist.
		if err := s.hasher.Check(ctx, s.dummyHash, password); err != nil && !errors.Is(err, auth.ErrMismatch) {
			return User{}, err
		}
		return User{}, badCredentials()
	}
	if err != nil {
		return User{}, fmt.Errorf("account: login: %w", err)
	}
	if err := s.hasher.Check(ctx, u.PasswordHash, password); err != nil {
		if !errors.Is(err, auth.ErrMismatch) {
			return User{}, fmt.Errorf("account: login user %d: %w", u.ID, err)
		}
		return User{}, badCredentials()
	}
	if !u.IsActive {
		return User{}, apperr.Forbidden("User account is disabled.")
	}
	if kind == auth.Admin && !u.IsStaff {
		return User{}, apperr.Forbidden("Staff access required.")
	}
	// A single UPDATE statement (no transaction and re-read, as UpdateOne
	// would do); the in-memory user gets the same values.
	now := time.Now()
	upd := s.db.User.Update().Where(user.ID(u.ID)).SetLastLogin(now)
	if auth.NeedsRehash(u.PasswordHash) {
		// Upgrade hashes from the Django system (or older parameters) while
		// the plain password is at hand.
		hash, err := s.hasher.Hash(ctx, password)
		if err != nil {
			return User{}, err
		}
		upd.SetPasswordHash(hash)
	}
	if err := upd.Exec(ctx); err != nil {
		return User{}, fmt.Errorf("account: login user %d: %w", u.ID, err)
	}
	u.LastLogin = &now
	out := fromEnt(u)
	if err := s.storeSnapshot(ctx, out, false); err != nil {
		return User{}, err
	}
	return out, nil
}

// LoginAsDevice issues a device-session token for the owner of the device
// with the given (normalised) MAC address. A device login is not the
// user's own login, so last_login stays as it is.
//
// Devices log in on every boot, so this is one Redis round trip in the
// usual case: the token is issued and the owner's snapshot read together,
// and the token is revoked again if the owner turns out to be disabled.
func (s *Service) LoginAsDevice(ctx context.Context, userID int, mac string) (User, string, error) {
	token, snap, err := s.tokens.IssueWithSnapshot(ctx, auth.User, userID, mac)
	if err != nil {
		return User{}, "", err
	}
	u, err := s.snapshotUser(ctx, userID, snap)
	if err == nil && !u.IsActive {
		err = apperr.Forbidden("The device owner's account is disabled.")
	}
	if err != nil {
		sess := auth.Session{Kind: auth.User, Token: token, UserID: userID, MAC: mac}
		if rerr := s.tokens.Revoke(ctx, sess); rerr != nil {
			return User{}, "", errors.Join(err, rerr)
		}
		if ent.IsNotFound(err) {
			return User{}, "", fmt.Errorf("account: device login: owner %d vanished: %w", userID, err)
		}
		return User{}, "", err
	}
	return u, token, nil
}

// Logout revokes the caller's token and closes the hub sessions opened
// with it.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if err := s.tokens.Revoke(ctx, p.Session); err != nil {
		return err
	}
	return s.closeRevoked(ctx, hub.Selector{UserID: p.Session.UserID, Token: p.Session.Token})
}

// ProfileUpdate holds the profile fields to change; nil keeps a field.
type ProfileUpdate struct {
	Nickname  *string
	Gender    *string
	Mbti      *string
	Interests []string // nil keeps; empty clears
}

// UpdateProfile changes the caller's profile.
func (s *Service) UpdateProfile(ctx context.Context, p *Principal, in ProfileUpdate) (User, error) {
	upd := s.db.User.UpdateOneID(p.User.ID)
	if err := applyProfile(upd, in); err != nil {
		return User{}, err
	}
	eu, err := upd.Save(ctx)
	if err != nil {
		return User{}, fmt.Errorf("account: update profile %d: %w", p.User.ID, err)
	}
	u := fromEnt(eu)
	if err := s.storeSnapshot(ctx, u, false); err != nil {
		return User{}, err
	}
	return u, nil
}

// applyProfile sets the profile fields the update changes.
func applyProfile(upd *ent.UserUpdateOne, in ProfileUpdate) error {
	if in.Nickname != nil {
		upd.SetNickname(strings.TrimSpace(*in.Nickname))
	}
	if in.Gender != nil {
		g := user.Gender(*in.Gender)
		if err := user.GenderValidator(g); err != nil {
			return apperr.Field("gender", fmt.Sprintf("%q is not a valid choice.", *in.Gender))
		}
		upd.SetGender(g)
	}
	if in.Mbti != nil {
		upd.SetMbti(strings.ToUpper(*in.Mbti))
	}
	if in.Interests != nil {
		upd.SetInterests(cleanInterests(in.Interests))
	}
	return nil
}

// cleanInterests trims tags and drops empty and repeated ones, keeping order.
func cleanInterests(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, tag := range in {
		tag = strings.TrimSpace(tag)
		if tag == "" || seen[strings.ToLower(tag)] {
			continue
		}
		seen[strings.ToLower(tag)] = true
		out = append(out, tag)
	}
	return out
}

// ChangePassword replaces the caller's password after checking the old
// one, revokes every other token of the caller and closes the hub sessions
// opened with them.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, oldPassword, newPassword string) error {
	// The principal comes from a snapshot, which has no password hash.
	u, err := s.db.User.Get(ctx, p.User.ID)
	if err != nil {
		return fmt.Errorf("account: change password %d: %w", p.User.ID, err)
	}
	if err := s.hasher.Check(ctx, u.PasswordHash, oldPassword); err != nil {
		if errors.Is(err, auth.ErrMismatch) {
			return apperr.Field("old_password", "Wrong password.")
		}
		return fmt.Errorf("account: change password %d: %w", p.User.ID, err)
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	if err := s.db.User.UpdateOneID(p.User.ID).SetPasswordHash(hash).Exec(ctx); err != nil {
		return fmt.Errorf("account: change password %d: %w", p.User.ID, err)
	}
	if err := s.tokens.RevokeUser(ctx, p.User.ID, p.Session); err != nil {
		return err
	}
	return s.closeRevoked(ctx, hub.Selector{UserID: p.User.ID, ExceptToken: p.Session.Token})
}

// Get returns a user by id.
func (s *Service) Get(ctx context.Context, id int) (User, error) {
	u, err := s.db.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return User{}, apperr.NotFound("User not found.")
	}
	if err != nil {
		return User{}, fmt.Errorf("account: get user %d: %w", id, err)
	}
	return fromEnt(u), nil
}

// SetActive enables or disables a user. Disabling revokes all of the user's
// tokens at once and closes all of their hub sessions; staff cannot
// disable themselves.
func (s *Service) SetActive(ctx context.Context, actor *Principal, id int, active bool) (User, error) {
	if !active && actor.User.ID == id {
		return User{}, apperr.Forbidden("You cannot disable your own account.")
	}
	eu, err := s.db.User.UpdateOneID(id).SetIsActive(active).Save(ctx)
	if ent.IsNotFound(err) {
		return User{}, apperr.NotFound("User not found.")
	}
	if err != nil {
		return User{}, fmt.Errorf("account: set user %d active=%t: %w", id, active, err)
	}
	u := fromEnt(eu)
	if err := s.storeSnapshot(ctx, u, false); err != nil {
		return User{}, err
	}
	if !active {
		// Authenticate also rejects inactive users, so a token that
		// survives a failed revoke is still refused.
		if err := s.tokens.RevokeUser(ctx, id, auth.Session{}); err != nil {
			return User{}, err
		}
		if err := s.closeRevoked(ctx, hub.Selector{UserID: id}); err != nil {
			return User{}, err
		}
	}
	return u, nil
}

// CreateSuperuser creates a staff user, or makes an existing one staff with
// the given password.
func (s *Service) CreateSuperuser(ctx context.Context, username, password string) (User, error) {
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	existing, err := s.db.User.Query().Where(user.Username(username)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		u, err := s.db.User.Create().SetUsername(username).SetNickname(username).
			SetPasswordHash(hash).SetIsStaff(true).Save(ctx)
		if err != nil {
			return User{}, fmt.Errorf("account: create superuser: %w", err)
		}
		return fromEnt(u), nil
	case err != nil:
		return User{}, fmt.Errorf("account: create superuser: %w", err)
	}
	eu, err := existing.Update().SetPasswordHash(hash).SetIsStaff(true).SetIsActive(true).Save(ctx)
	if err != nil {
		return User{}, fmt.Errorf("account: create superuser: %w", err)
	}
	u := fromEnt(eu)
	if err := s.storeSnapshot(ctx, u, false); err != nil {
		return User{}, err
	}
	return u, nil
}
