package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"paradise/gen/api"
	"paradise/internal/testenv"
)

func TestRegisterAndProfile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		name := testenv.Name("alice")
		reg, err := e.API(t, "").RegisterUser(t.Context(), &api.RegisterRequest{
			Username: api.Username(name), Password: password, Nickname: api.NewOptString("Alice"),
		})
		a := testenv.OK(t, reg, err, http.StatusCreated).Data
		if len(a.Token) < 32 || a.User.Username != name || a.User.Nickname != "Alice" || !a.User.IsActive || a.User.IsStaff {
			t.Fatalf("unexpected register data: %+v", a)
		}

		prof, err := e.API(t, a.Token).GetProfile(t.Context())
		u := testenv.OK(t, prof, err, http.StatusOK).Data
		if u.ID != a.User.ID || u.Username != name || u.Gender != api.GenderUnknown || u.Interests == nil || u.LastLogin.Null {
			t.Fatalf("unexpected profile: %+v", u)
		}

		// The token is in Redis under the Django system's layout.
		if got, err := e.Redis.Get(context.Background(), e.Key("token:"+a.Token)).Result(); err != nil || got != itoa(a.User.ID) {
			t.Fatalf("token:%s = %q, %v; want user id %d", a.Token, got, err, a.User.ID)
		}
		if ttl := e.Redis.TTL(context.Background(), e.Key("token:"+a.Token)).Val(); ttl < 29*24*time.Hour {
			t.Fatalf("token TTL %s, want 30 days", ttl)
		}

		// Same username again.
		res := e.Do(t, http.MethodPost, "/api/user/register/", "", map[string]string{"username": name, "password": password})
		expect(t, res, http.StatusBadRequest, 400)
		if res.Message != "username: A user with that username already exists." {
			t.Fatalf("message %q", res.Message)
		}
	})
}

func TestRegisterValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tests := []struct {
			name    string
			body    any
			status  int
			message string
			field   string
		}{
			{"missing password", `{"username":"bob_x1"}`, 400, "password: This field is required.", "password"},
			{"missing both", `{}`, 400, "password: This field is required.; username: This field is required.", "username"},
			{"short password", map[string]string{"username": "bob_x2", "password": "short"}, 400, "password: Ensure this field has at least 8 characters.", "password"},
			{"bad username", map[string]string{"username": "bob smith", "password": password}, 400, "username: Enter a valid value.", "username"},
			{"wrong type", `{"username":"bob_x3","password":5}`, 400, "password: Incorrect type or malformed value.", "password"},
			{"truncated JSON", `{"username":"bo`, 400, "Malformed JSON: unexpected end of input.", ""},
			{"not an object", `[1,2]`, 400, "", ""},
			{"trailing data", `{"username":"bob_x4","password":"abcdefghij"} x`, 400, "Malformed JSON: unexpected trailing data.", ""},
			{"empty body", "", 400, "Request body is required.", ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(t, http.MethodPost, "/api/user/register/", "", tc.body)
				expect(t, res, tc.status, tc.status)
				if tc.message != "" && res.Message != tc.message {
					t.Fatalf("message %q, want %q", res.Message, tc.message)
				}
				if tc.message == "" && !strings.HasPrefix(res.Message, "Malformed JSON: ") {
					t.Fatalf("message %q", res.Message)
				}
				if tc.field != "" {
					var fields map[string][]string
					res.Decode(t, &fields)
					if len(fields[tc.field]) == 0 {
						t.Fatalf("no detail for %s in %s", tc.field, res.Data)
					}
				} else if string(res.Data) != "null" {
					t.Fatalf("data %s, want null", res.Data)
				}
			})
		}

		t.Run("wrong content type", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/user/register/", strings.NewReader("username=a"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res := e.Send(t, req)
			expect(t, res, http.StatusUnsupportedMediaType, 415)
		})
		t.Run("body too large", func(t *testing.T) {
			big := `{"username":"bob_x5","password":"` + strings.Repeat("a", 2<<20) + `"}`
			res := e.Do(t, http.MethodPost, "/api/user/register/", "", big)
			expect(t, res, http.StatusRequestEntityTooLarge, 413)
		})
	})
}

func TestLoginLogout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		a := e.register(t, "carol")
		login := e.login(t, a.User.Username)
		if login.Token == a.Token || login.User.ID != a.User.ID {
			t.Fatalf("login should issue a new token for the same user: %+v", login)
		}

		for _, body := range []map[string]string{
			{"username": a.User.Username, "password": "wrong-password"},
			{"username": "nobody_" + testenv.RandomID(), "password": password},
		} {
			res := e.Do(t, http.MethodPost, "/api/user/login/", "", body)
			expect(t, res, http.StatusBadRequest, 400)
			if res.Message != "Invalid username or password." {
				t.Fatalf("message %q", res.Message)
			}
		}

		// Logout revokes only the token it was called with.
		res := e.Do(t, http.MethodPost, "/api/user/logout/", login.Token, nil)
		expect(t, res, http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", login.Token, nil), http.StatusUnauthorized, 401)
		expect(t, e.Do(t, http.MethodPost, "/api/user/logout/", login.Token, nil), http.StatusUnauthorized, 401)
		expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", a.Token, nil), http.StatusOK, 200)
	})
}

func TestAuthHeader(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		a := e.register(t, "dave")
		tests := []struct {
			name   string
			header string
			status int
		}{
			{"token scheme", "Token " + a.Token, 200},
			{"bearer scheme", "Bearer " + a.Token, 200},
			{"lower-case scheme", "token " + a.Token, 200},
			{"missing", "", 401},
			{"no scheme", a.Token, 401},
			{"unknown scheme", "Basic " + a.Token, 401},
			{"empty token", "Token ", 401},
			{"unknown token", "Token " + strings.Repeat("ab", 16), 401},
			{"junk token", "Token ../../etc/passwd", 401},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, e.URL+"/api/user/profile/", nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				expect(t, e.Send(t, req), tc.status, tc.status)
			})
		}

		t.Run("token from the Django system", func(t *testing.T) {
			// Tokens issued by the old system are plain token:{uuid} -> user id.
			legacy := "3f2b6c1e-8d4a-4f1b-9c3e-7a6d5b4c3a21"
			if err := e.Redis.Set(context.Background(), e.Key("token:"+legacy), itoa(a.User.ID), time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			res := e.Do(t, http.MethodGet, "/api/user/profile/", legacy, nil)
			expect(t, res, http.StatusOK, 200)
		})
	})
}

func TestUpdateProfile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		a := e.register(t, "erin")
		c := e.API(t, a.Token)
		upd, err := c.UpdateProfile(t.Context(), &api.ProfileUpdate{
			Nickname: api.NewOptString("Erin"), Gender: api.NewOptGender(api.GenderFemale), Mbti: api.NewOptMbti("infp"),
			Interests: api.Interests{"music", " hiking ", "Music"},
		})
		u := testenv.OK(t, upd, err, http.StatusOK).Data
		if u.Nickname != "Erin" || u.Gender != api.GenderFemale || u.Mbti != "INFP" || strings.Join(u.Interests, ",") != "music,hiking" {
			t.Fatalf("unexpected profile: %+v", u)
		}

		// The next authenticated request sees the change (the user snapshot
		// next to the token was replaced, not left stale).
		prof, err := c.GetProfile(t.Context())
		u = testenv.OK(t, prof, err, http.StatusOK).Data
		if u.Nickname != "Erin" || u.Mbti != "INFP" {
			t.Fatalf("profile after update: %+v", u)
		}

		// Absent fields keep their values; an empty list clears interests.
		upd, err = c.UpdateProfile(t.Context(), &api.ProfileUpdate{Interests: api.Interests{}})
		u = testenv.OK(t, upd, err, http.StatusOK).Data
		if u.Nickname != "Erin" || u.Mbti != "INFP" || len(u.Interests) != 0 {
			t.Fatalf("unexpected profile: %+v", u)
		}
		upd, err = c.UpdateProfile(t.Context(), &api.ProfileUpdate{})
		testenv.OK(t, upd, err, http.StatusOK)

		for _, body := range []map[string]any{
			{"gender": "robot"},
			{"mbti": "ABCD"},
			{"nickname": strings.Repeat("n", 65)},
			{"interests": []string{strings.Repeat("i", 33)}},
			{"interests": []string{"ok", ""}},
		} {
			res := e.Do(t, http.MethodPatch, "/api/user/profile/", a.Token, body)
			expect(t, res, http.StatusBadRequest, 400)
		}
		expect(t, e.Do(t, http.MethodPatch, "/api/user/profile/", "", map[string]any{"nickname": "x"}), http.StatusUnauthorized, 401)
	})
}

func TestChangePassword(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		a := e.register(t, "frank")
		second := e.login(t, a.User.Username)

		res := e.Do(t, http.MethodPost, "/api/user/password/", a.Token, map[string]string{"old_password": "not-it-at-all", "new_password": "new-password-123"})
		expect(t, res, http.StatusBadRequest, 400)
		if res.Message != "old_password: Wrong password." {
			t.Fatalf("message %q", res.Message)
		}

		res = e.Do(t, http.MethodPost, "/api/user/password/", a.Token, map[string]string{"old_password": password, "new_password": "new-password-123"})
		expect(t, res, http.StatusOK, 200)
		// This session stays; the other is revoked at once.
		expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", a.Token, nil), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", second.Token, nil), http.StatusUnauthorized, 401)

		expect(t, e.Do(t, http.MethodPost, "/api/user/login/", "", map[string]string{"username": a.User.Username, "password": password}), http.StatusBadRequest, 400)
		expect(t, e.Do(t, http.MethodPost, "/api/user/login/", "", map[string]string{"username": a.User.Username, "password": "new-password-123"}), http.StatusOK, 200)
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestProfileAcrossInstances: two instances share Postgres and Redis; a
// change made through one is what the other serves next.
func TestProfileAcrossInstances(t *testing.T) {
	cfg := testenv.Config(t, testenv.Postgres)
	a := testenv.StartWith(t, cfg)
	b := testenv.StartWith(t, cfg)
	login := a.Register(t, "twin")
	for i, name := range []string{"First", "Second", "Third"} {
		write, read := a, b
		if i%2 == 1 {
			write, read = b, a
		}
		prof, err := write.API(t, login.Token).GetProfile(t.Context()) // warm the snapshot
		testenv.OK(t, prof, err, http.StatusOK)
		upd, err := write.API(t, login.Token).UpdateProfile(t.Context(), &api.ProfileUpdate{Nickname: api.NewOptString(name)})
		testenv.OK(t, upd, err, http.StatusOK)
		prof, err = read.API(t, login.Token).GetProfile(t.Context())
		if u := testenv.OK(t, prof, err, http.StatusOK).Data; u.Nickname != name {
			t.Fatalf("instance serves nickname %q after update to %q", u.Nickname, name)
		}
	}
}
