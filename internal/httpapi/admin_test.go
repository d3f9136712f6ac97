package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"paradise/gen/api"
	"paradise/internal/testenv"
)

func TestAdminLogin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		u := e.register(t, "plain")
		res := e.Do(t, http.MethodPost, "/api/v1/admin/login/", "", map[string]string{"username": u.User.Username, "password": password})
		expect(t, res, http.StatusForbidden, 403)
		expect(t, e.Do(t, http.MethodPost, "/api/v1/admin/login/", "", map[string]string{"username": u.User.Username, "password": "wrong-password"}), http.StatusBadRequest, 400)

		admin := e.staff(t)
		if !admin.User.IsStaff {
			t.Fatalf("admin login user is not staff: %+v", admin.User)
		}
		// Admin and user tokens do not cross over.
		expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", admin.Token, nil), http.StatusUnauthorized, 401)
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/users/", u.Token, nil), http.StatusUnauthorized, 401)
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/users/", "", nil), http.StatusUnauthorized, 401)
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/users/", admin.Token, nil), http.StatusOK, 200)

		// A staff user's user token is still only a user token.
		userLogin := e.login(t, admin.User.Username)
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/users/", userLogin.Token, nil), http.StatusUnauthorized, 401)

		expect(t, e.Do(t, http.MethodPost, "/api/v1/admin/logout/", admin.Token, nil), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/users/", admin.Token, nil), http.StatusUnauthorized, 401)
	})
}

func TestAdminUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.staff(t)
		stem := "srch" + testenv.RandomID()
		var created []api.AuthData
		for i := 0; i < 3; i++ {
			created = append(created, e.register(t, stem))
		}
		c := e.API(t, admin.Token)
		list, err := c.AdminListUsers(t.Context(), api.AdminListUsersParams{PageSize: api.NewOptInt(2), Search: api.NewOptString(strings.ToUpper(stem))})
		p := testenv.OK(t, list, err, http.StatusOK).Data
		if p.Count != 3 || len(p.Results) != 2 || p.Next.Null || p.Results[0].ID != created[0].User.ID {
			t.Fatalf("search page 1: %+v", p)
		}
		if !strings.Contains(p.Next.Value, "search="+strings.ToUpper(stem)) || !strings.Contains(p.Next.Value, "page=2") {
			t.Fatalf("next link loses the search: %s", p.Next.Value)
		}

		victim := created[1]
		path := fmt.Sprintf("/api/v1/admin/users/%d/", victim.User.ID)
		got, err := c.AdminGetUser(t.Context(), api.AdminGetUserParams{ID: victim.User.ID})
		if u := testenv.OK(t, got, err, http.StatusOK).Data; u.ID != victim.User.ID || u.Username != victim.User.Username {
			t.Fatalf("admin got user %+v, want %+v", u, victim.User)
		}
		_, err = c.AdminGetUser(t.Context(), api.AdminGetUserParams{ID: 999999})
		testenv.ExpectAPIError(t, err, http.StatusNotFound, 404)

		// Disabling revokes every token at once and blocks logins.
		dis, err := c.AdminDisableUser(t.Context(), api.AdminDisableUserParams{ID: victim.User.ID})
		if u := testenv.OK(t, dis, err, http.StatusOK).Data; u.IsActive {
			t.Fatal("user still active")
		}
		expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", victim.Token, nil), http.StatusUnauthorized, 401)
		expect(t, e.Do(t, http.MethodPost, "/api/user/login/", "", map[string]string{"username": victim.User.Username, "password": password}), http.StatusForbidden, 403)

		// A disabled owner's device cannot log in either.
		owner := created[2]
		mac := randomMAC()
		e.bind(t, owner.Token, mac)
		expect(t, e.Do(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/users/%d/disable/", owner.User.ID), admin.Token, nil), http.StatusOK, 200)
		expect(t, e.macLogin(t, mac), http.StatusForbidden, 403)

		expect(t, e.Do(t, http.MethodPost, path+"enable/", admin.Token, nil), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodPost, "/api/user/login/", "", map[string]string{"username": victim.User.Username, "password": password}), http.StatusOK, 200)

		expect(t, e.Do(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/users/%d/disable/", admin.User.ID), admin.Token, nil), http.StatusForbidden, 403)
		expect(t, e.Do(t, http.MethodPost, "/api/v1/admin/users/999999/disable/", admin.Token, nil), http.StatusNotFound, 404)
	})
}

func TestAdminDeviceTypes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.staff(t)
		u := e.register(t, "viewer")
		c := e.API(t, admin.Token)
		var ids []int
		for i := 0; i < 3; i++ {
			res, err := c.AdminCreateDeviceType(t.Context(), &api.DeviceTypeCreate{
				Name: fmt.Sprintf("Model %d", i), Description: api.NewOptString("desc"),
			})
			ids = append(ids, testenv.OK(t, res, err, http.StatusCreated).Data.ID)
		}
		res := e.Do(t, http.MethodPost, "/api/v1/admin/device-types/", admin.Token, map[string]string{"name": "Model 0"})
		expect(t, res, http.StatusBadRequest, 400)
		if res.Message != "name: A device type with this name already exists." {
			t.Fatalf("message %q", res.Message)
		}
		expect(t, e.Do(t, http.MethodPost, "/api/v1/admin/device-types/", admin.Token, map[string]string{"name": ""}), http.StatusBadRequest, 400)
		expect(t, e.Do(t, http.MethodPost, "/api/v1/admin/device-types/", u.Token, map[string]string{"name": "Nope"}), http.StatusUnauthorized, 401)

		// Users list the types, paginated.
		types, err := e.API(t, u.Token).ListDeviceTypes(t.Context(), api.ListDeviceTypesParams{PageSize: api.NewOptInt(2)})
		p := testenv.OK(t, types, err, http.StatusOK).Data
		if p.Count != 3 || len(p.Results) != 2 || p.Results[0].ID != ids[0] || p.Next.Null {
			t.Fatalf("types page 1: %+v", p)
		}
		expect(t, e.Do(t, http.MethodGet, "/api/device/types/", "", nil), http.StatusUnauthorized, 401)

		path := fmt.Sprintf("/api/v1/admin/device-types/%d/", ids[1])
		upd, err := c.AdminUpdateDeviceType(t.Context(), &api.DeviceTypeUpdate{Description: api.NewOptString("changed")},
			api.AdminUpdateDeviceTypeParams{ID: ids[1]})
		if dt := testenv.OK(t, upd, err, http.StatusOK).Data; dt.Name != "Model 1" || dt.Description != "changed" {
			t.Fatalf("updated: %+v", dt)
		}
		expect(t, e.Do(t, http.MethodPatch, path, admin.Token, map[string]string{"name": "Model 2"}), http.StatusBadRequest, 400)
		expect(t, e.Do(t, http.MethodGet, path, admin.Token, nil), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodDelete, path, admin.Token, nil), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodGet, path, admin.Token, nil), http.StatusNotFound, 404)
		expect(t, e.Do(t, http.MethodDelete, path, admin.Token, nil), http.StatusNotFound, 404)
		expect(t, e.Do(t, http.MethodPatch, path, admin.Token, map[string]string{"name": "X"}), http.StatusNotFound, 404)

		types, err = c.AdminListDeviceTypes(t.Context(), api.AdminListDeviceTypesParams{})
		if p := testenv.OK(t, types, err, http.StatusOK).Data; p.Count != 2 {
			t.Fatalf("after delete: %+v", p)
		}
	})
}
