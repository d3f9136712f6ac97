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

		all, err := c.AdminListDeviceTypes(t.Context(), api.AdminListDeviceTypesParams{})
		if p := testenv.OK(t, all, err, http.StatusOK).Data; p.Count != 2 {
			t.Fatalf("after delete: %+v", p)
		}
	})
}

func TestAdminDeviceTypePersona(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.staff(t)
		u := e.register(t, "persona")
		c := e.API(t, admin.Token)
		const tmpl = "You are {{.Persona.Name}} in {{.Device.Name}}, talking with {{.User.Nickname}}."
		res, err := c.AdminCreateDeviceType(t.Context(), &api.DeviceTypeCreate{
			Name:               "Cat S1",
			PersonaName:        api.NewOptString("Mochi"),
			PersonaDescription: api.NewOptString("A playful cat."),
			PromptTemplate:     api.NewOptString(tmpl),
			Voice:              api.NewOptString("zh_female_cute"),
		})
		dt := testenv.OK(t, res, err, http.StatusCreated).Data
		if dt.PersonaName != "Mochi" || dt.PersonaDescription != "A playful cat." || dt.PromptTemplate != tmpl || dt.Voice != "zh_female_cute" {
			t.Fatalf("created %+v", dt)
		}
		got, err := c.AdminGetDeviceType(t.Context(), api.AdminGetDeviceTypeParams{ID: dt.ID})
		if g := testenv.OK(t, got, err, http.StatusOK).Data; g != dt {
			t.Fatalf("got %+v, want %+v", g, dt)
		}
		list, err := c.AdminListDeviceTypes(t.Context(), api.AdminListDeviceTypesParams{})
		if p := testenv.OK(t, list, err, http.StatusOK).Data; len(p.Results) != 1 || p.Results[0] != dt {
			t.Fatalf("admin list %+v", p)
		}

		// Users see the persona but not its template, in the list and on
		// their device.
		for _, path := range []string{"/api/device/types/", fmt.Sprintf("/api/device/devices/%d/", e.bindTyped(t, u.Token, dt.ID))} {
			r := e.Do(t, http.MethodGet, path, u.Token, nil)
			expect(t, r, http.StatusOK, 200)
			if !strings.Contains(string(r.Body), `"persona_name":"Mochi"`) || !strings.Contains(string(r.Body), `"voice":"zh_female_cute"`) ||
				strings.Contains(string(r.Body), "prompt_template") || strings.Contains(string(r.Body), "{{") {
				t.Fatalf("%s: %s", path, r.Body)
			}
		}

		// PATCH changes what is present; "" clears a field.
		path := fmt.Sprintf("/api/v1/admin/device-types/%d/", dt.ID)
		upd, err := c.AdminUpdateDeviceType(t.Context(), &api.DeviceTypeUpdate{PromptTemplate: api.NewOptString(""), Voice: api.NewOptString("en_male_calm")},
			api.AdminUpdateDeviceTypeParams{ID: dt.ID})
		if g := testenv.OK(t, upd, err, http.StatusOK).Data; g.PromptTemplate != "" || g.Voice != "en_male_calm" || g.PersonaName != "Mochi" || g.Name != "Cat S1" {
			t.Fatalf("updated %+v", g)
		}

		// Templates that do not parse or do not render are 400s naming the
		// field, on create and update; nothing is stored.
		for _, tc := range []struct{ name, src, msg string }{
			{"does not parse", "Hello {{.User.Nickname", "unclosed action"},
			{"missing field", "Hello {{.User.Age}}", "can't evaluate field Age"},
			{"unknown function", "{{shout .User.Nickname}}", `function "shout" not defined`},
			{"recursion", `{{define "x"}}{{template "x"}}{{end}}{{template "x"}}`, "not supported"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, r := range []*testenv.Response{
					e.Do(t, http.MethodPost, "/api/v1/admin/device-types/", admin.Token, map[string]string{"name": "Bad " + tc.name, "prompt_template": tc.src}),
					e.Do(t, http.MethodPatch, path, admin.Token, map[string]string{"prompt_template": tc.src}),
				} {
					expect(t, r, http.StatusBadRequest, 400)
					if !strings.HasPrefix(r.Message, "prompt_template: Invalid template: ") || !strings.Contains(r.Message, tc.msg) {
						t.Fatalf("message %q", r.Message)
					}
					var fields map[string][]string
					r.Decode(t, &fields)
					if len(fields["prompt_template"]) != 1 {
						t.Fatalf("data %s", r.Data)
					}
				}
			})
		}
		list, err = c.AdminListDeviceTypes(t.Context(), api.AdminListDeviceTypesParams{})
		if p := testenv.OK(t, list, err, http.StatusOK).Data; p.Count != 1 || p.Results[0].PromptTemplate != "" {
			t.Fatalf("after refusals %+v", p)
		}

		// Limits count characters, as the spec and the database do.
		for _, tc := range []struct {
			field string
			max   int
		}{{"persona_name", 64}, {"persona_description", 1000}, {"prompt_template", 8000}, {"voice", 100}} {
			t.Run(tc.field, func(t *testing.T) {
				for _, ch := range []string{"字", "😀"} {
					r := e.Do(t, http.MethodPatch, path, admin.Token, map[string]string{tc.field: strings.Repeat(ch, tc.max)})
					expect(t, r, http.StatusOK, 200)
					var g map[string]any
					r.Decode(t, &g)
					if g[tc.field] != strings.Repeat(ch, tc.max) {
						t.Fatalf("%s not stored whole", tc.field)
					}
					r = e.Do(t, http.MethodPatch, path, admin.Token, map[string]string{tc.field: strings.Repeat(ch, tc.max+1)})
					expect(t, r, http.StatusBadRequest, 400)
					if !strings.HasPrefix(r.Message, tc.field+": ") {
						t.Fatalf("message %q", r.Message)
					}
					name := fmt.Sprintf("Limits %s %s", tc.field, ch)
					r = e.Do(t, http.MethodPost, "/api/v1/admin/device-types/", admin.Token, map[string]string{"name": name, tc.field: strings.Repeat(ch, tc.max)})
					expect(t, r, http.StatusCreated, 201)
				}
			})
		}
	})
}
