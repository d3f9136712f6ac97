package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

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
		res = e.Do(t, http.MethodPost, "/api/user/login/", "", map[string]string{"username": admin.User.Username, "password": password})
		expect(t, res, http.StatusOK, 200)
		var userLogin authData
		res.Decode(t, &userLogin)
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/users/", userLogin.Token, nil), http.StatusUnauthorized, 401)

		expect(t, e.Do(t, http.MethodPost, "/api/v1/admin/logout/", admin.Token, nil), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/users/", admin.Token, nil), http.StatusUnauthorized, 401)
	})
}

func TestAdminUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.staff(t)
		stem := "srch" + testenv.RandomID()
		var created []authData
		for i := 0; i < 3; i++ {
			created = append(created, e.register(t, stem))
		}
		res := e.Do(t, http.MethodGet, "/api/v1/admin/users/?page_size=2&search="+strings.ToUpper(stem), admin.Token, nil)
		expect(t, res, http.StatusOK, 200)
		var p page[user]
		res.Decode(t, &p)
		if p.Count != 3 || len(p.Results) != 2 || p.Next == nil || p.Results[0].ID != created[0].User.ID {
			t.Fatalf("search page 1: %s", res.Data)
		}
		if !strings.Contains(*p.Next, "search="+strings.ToUpper(stem)) || !strings.Contains(*p.Next, "page=2") {
			t.Fatalf("next link loses the search: %s", *p.Next)
		}

		victim := created[1]
		path := fmt.Sprintf("/api/v1/admin/users/%d/", victim.User.ID)
		res = e.Do(t, http.MethodGet, path, admin.Token, nil)
		expect(t, res, http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/users/999999/", admin.Token, nil), http.StatusNotFound, 404)

		// Disabling revokes every token at once and blocks logins.
		res = e.Do(t, http.MethodPost, path+"disable/", admin.Token, nil)
		expect(t, res, http.StatusOK, 200)
		var u user
		res.Decode(t, &u)
		if u.IsActive {
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

		res = e.Do(t, http.MethodPost, path+"enable/", admin.Token, nil)
		expect(t, res, http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodPost, "/api/user/login/", "", map[string]string{"username": victim.User.Username, "password": password}), http.StatusOK, 200)

		expect(t, e.Do(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/users/%d/disable/", admin.User.ID), admin.Token, nil), http.StatusForbidden, 403)
		expect(t, e.Do(t, http.MethodPost, "/api/v1/admin/users/999999/disable/", admin.Token, nil), http.StatusNotFound, 404)
	})
}

func TestAdminDeviceTypes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.staff(t)
		u := e.register(t, "viewer")
		var ids []int
		for i := 0; i < 3; i++ {
			res := e.Do(t, http.MethodPost, "/api/v1/admin/device-types/", admin.Token, map[string]string{
				"name": fmt.Sprintf("Model %d", i), "description": "desc",
			})
			expect(t, res, http.StatusCreated, 201)
			var dt deviceType
			res.Decode(t, &dt)
			ids = append(ids, dt.ID)
		}
		res := e.Do(t, http.MethodPost, "/api/v1/admin/device-types/", admin.Token, map[string]string{"name": "Model 0"})
		expect(t, res, http.StatusBadRequest, 400)
		if res.Message != "name: A device type with this name already exists." {
			t.Fatalf("message %q", res.Message)
		}
		expect(t, e.Do(t, http.MethodPost, "/api/v1/admin/device-types/", admin.Token, map[string]string{"name": ""}), http.StatusBadRequest, 400)
		expect(t, e.Do(t, http.MethodPost, "/api/v1/admin/device-types/", u.Token, map[string]string{"name": "Nope"}), http.StatusUnauthorized, 401)

		// Users list the types, paginated.
		res = e.Do(t, http.MethodGet, "/api/device/types/?page_size=2", u.Token, nil)
		expect(t, res, http.StatusOK, 200)
		var p page[deviceType]
		res.Decode(t, &p)
		if p.Count != 3 || len(p.Results) != 2 || p.Results[0].ID != ids[0] || p.Next == nil {
			t.Fatalf("types page 1: %s", res.Data)
		}
		expect(t, e.Do(t, http.MethodGet, "/api/device/types/", "", nil), http.StatusUnauthorized, 401)

		path := fmt.Sprintf("/api/v1/admin/device-types/%d/", ids[1])
		res = e.Do(t, http.MethodPatch, path, admin.Token, map[string]string{"description": "changed"})
		expect(t, res, http.StatusOK, 200)
		var dt deviceType
		res.Decode(t, &dt)
		if dt.Name != "Model 1" || dt.Description != "changed" {
			t.Fatalf("updated: %s", res.Data)
		}
		expect(t, e.Do(t, http.MethodPatch, path, admin.Token, map[string]string{"name": "Model 2"}), http.StatusBadRequest, 400)
		expect(t, e.Do(t, http.MethodGet, path, admin.Token, nil), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodDelete, path, admin.Token, nil), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodGet, path, admin.Token, nil), http.StatusNotFound, 404)
		expect(t, e.Do(t, http.MethodDelete, path, admin.Token, nil), http.StatusNotFound, 404)
		expect(t, e.Do(t, http.MethodPatch, path, admin.Token, map[string]string{"name": "X"}), http.StatusNotFound, 404)

		res = e.Do(t, http.MethodGet, "/api/v1/admin/device-types/", admin.Token, nil)
		res.Decode(t, &p)
		if p.Count != 2 {
			t.Fatalf("after delete: %s", res.Data)
		}
	})
}
