package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-faster/yaml"
	"go.uber.org/fx"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/device"
	"paradise/internal/testenv"
)

// env is a running service with the account service (staff users have no
// public endpoint) and a logged-in staff user.
type env struct {
	*testenv.Service
	accounts *account.Service
	admin    api.AuthData
	c        *api.Client
}

func start(t *testing.T, b testenv.Backend) *env {
	t.Helper()
	e := &env{}
	e.Service = testenv.Start(t, b, fx.Populate(&e.accounts))
	e.admin = e.staff(t)
	e.c = e.API(t, e.admin.Token)
	return e
}

func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) { fn(t, start(t, b)) })
}

// staff creates a staff user and logs in to the admin.
func (e *env) staff(t *testing.T) api.AuthData {
	t.Helper()
	name := testenv.Name("staff")
	if _, err := e.accounts.CreateSuperuser(context.Background(), name, testenv.Password); err != nil {
		t.Fatal(err)
	}
	res, err := e.API(t, "").AdminLogin(t.Context(), &api.LoginRequest{Username: name, Password: testenv.Password})
	return testenv.OK(t, res, err, http.StatusOK).Data
}

func expect(t *testing.T, res *testenv.Response, status, code int) {
	t.Helper()
	if res.Status != status || res.Code != code {
		t.Fatalf("got status %d code %d, want %d/%d: %s", res.Status, res.Code, status, code, res.Body)
	}
}

// adminOperations lists every method and path of openapi.yaml under
// /api/v1/admin/ (ids filled in with 1), so a new admin operation is
// covered by the authorization test without being listed by hand.
func adminOperations(t *testing.T) [][2]string {
	t.Helper()
	raw, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	var ops [][2]string
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, "/api/v1/admin/") || path == "/api/v1/admin/login/" {
			continue
		}
		for method := range item {
			switch method {
			case "get", "post", "put", "patch", "delete":
				ops = append(ops, [2]string{strings.ToUpper(method), param.ReplaceAllString(path, "1")})
			}
		}
	}
	return ops
}

// Every admin operation refuses a user token, a staff user's user token,
// and no token at all, before looking at the request.
func TestAuthorization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ops := adminOperations(t)
		if len(ops) < 28 {
			t.Fatalf("found %d admin operations in openapi.yaml; the walk is broken", len(ops))
		}
		user := e.Register(t, "plain")
		staffAsUser, err := e.API(t, "").LoginUser(t.Context(), &api.LoginRequest{Username: e.admin.User.Username, Password: testenv.Password})
		staffUserToken := testenv.OK(t, staffAsUser, err, http.StatusOK).Data.Token
		for _, op := range ops {
			for _, token := range []string{"", user.Token, staffUserToken} {
				res := e.Do(t, op[0], op[1], token, map[string]any{})
				if res.Status != http.StatusUnauthorized || res.Success {
					t.Errorf("%s %s with token %q: status %d, want 401: %s", op[0], op[1], token, res.Status, res.Body)
				}
			}
		}
		// A user who is not staff cannot log in to the admin.
		res := e.Do(t, http.MethodPost, "/api/v1/admin/login/", "", map[string]string{"username": user.User.Username, "password": testenv.Password})
		expect(t, res, http.StatusForbidden, 403)
		// A staff user demoted meanwhile loses the admin at once.
		other := e.staff(t)
		demote, err := e.c.AdminUpdateUser(t.Context(), &api.AdminUserUpdate{IsStaff: api.NewOptBool(false)}, api.AdminUpdateUserParams{ID: other.User.ID})
		testenv.OK(t, demote, err, http.StatusOK)
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/stats/", other.Token, nil), http.StatusForbidden, 403)
	})
}

// auditFor returns the audit entries of a target, newest first.
func (e *env) auditFor(t *testing.T, targetType api.AuditTargetType, id int) []api.AuditEntry {
	t.Helper()
	res, err := e.c.AdminListAuditLog(t.Context(), api.AdminListAuditLogParams{
		TargetType: api.NewOptAuditTargetType(targetType), TargetID: api.NewOptString(fmt.Sprint(id)), PageSize: api.NewOptInt(100)})
	return testenv.OK(t, res, err, http.StatusOK).Data.Results
}

// field reads one field of an audit snapshot.
func field(t *testing.T, snap api.NilAuditEntryBefore, name string) string {
	t.Helper()
	if snap.Null {
		t.Fatalf("snapshot is null, want field %s", name)
	}
	return string(snap.Value[name])
}

func TestUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		name := testenv.Name("made")
		created, err := e.c.AdminCreateUser(ctx, &api.AdminUserCreate{Username: api.Username(name), Password: testenv.Password,
			Nickname: api.NewOptString("Made")})
		u := testenv.OK(t, created, err, http.StatusCreated).Data
		if u.Username != name || u.Nickname != "Made" || u.IsStaff || !u.IsActive || !u.LastLogin.Null {
			t.Fatalf("created %+v", u)
		}
		_, err = e.c.AdminCreateUser(ctx, &api.AdminUserCreate{Username: api.Username(name), Password: testenv.Password})
		testenv.ExpectAPIError(t, err, http.StatusBadRequest, 400)
		login, err := e.API(t, "").LoginUser(ctx, &api.LoginRequest{Username: name, Password: testenv.Password})
		token := testenv.OK(t, login, err, http.StatusOK).Data.Token

		// Edit: profile fields, favorability, staff flag.
		upd, err := e.c.AdminUpdateUser(ctx, &api.AdminUserUpdate{Nickname: api.NewOptString("Edited"), Favorability: api.NewOptInt(70),
			Mbti: api.NewOptMbti("intj"), IsStaff: api.NewOptBool(true)}, api.AdminUpdateUserParams{ID: u.ID})
		got := testenv.OK(t, upd, err, http.StatusOK).Data
		if got.Nickname != "Edited" || got.Favorability != 70 || got.Mbti != "INTJ" || !got.IsStaff {
			t.Fatalf("updated %+v", got)
		}
		res := e.Do(t, http.MethodPatch, fmt.Sprintf("/api/v1/admin/users/%d/", u.ID), e.admin.Token, map[string]any{"favorability": 101})
		expect(t, res, http.StatusBadRequest, 400)
		// Staff cannot lock themselves out.
		self := fmt.Sprintf("/api/v1/admin/users/%d/", e.admin.User.ID)
		expect(t, e.Do(t, http.MethodPatch, self, e.admin.Token, map[string]any{"is_staff": false}), http.StatusForbidden, 4040)
		expect(t, e.Do(t, http.MethodPatch, self, e.admin.Token, map[string]any{"is_active": false}), http.StatusForbidden, 4040)
		expect(t, e.Do(t, http.MethodDelete, self, e.admin.Token, nil), http.StatusForbidden, 4040)
		_, err = e.c.AdminUpdateUser(ctx, &api.AdminUserUpdate{Nickname: api.NewOptString("x")}, api.AdminUpdateUserParams{ID: 999999})
		testenv.ExpectAPIError(t, err, http.StatusNotFound, 404)

		// Search, filters and sorting.
		list := func(p api.AdminListUsersParams) api.UserPage {
			t.Helper()
			res, err := e.c.AdminListUsers(ctx, p)
			return testenv.OK(t, res, err, http.StatusOK).Data
		}
		plain := e.Register(t, "plainuser")
		p := list(api.AdminListUsersParams{IsStaff: api.NewOptBool(false), PageSize: api.NewOptInt(100)})
		for _, r := range p.Results {
			if r.IsStaff {
				t.Fatalf("is_staff=false listed staff %s", r.Username)
			}
		}
		if !containsUser(p.Results, plain.User.ID) || containsUser(p.Results, u.ID) {
			t.Fatalf("is_staff=false: %+v", p.Results)
		}
		today := time.Now().UTC()
		if p := list(api.AdminListUsersParams{JoinedFrom: api.NewOptDate(today.AddDate(0, 0, 1)), PageSize: api.NewOptInt(100)}); p.Count != 0 {
			t.Fatalf("joined from tomorrow: %d users", p.Count)
		}
		if p := list(api.AdminListUsersParams{JoinedFrom: api.NewOptDate(today), JoinedTo: api.NewOptDate(today), PageSize: api.NewOptInt(100)}); p.Count < 3 {
			t.Fatalf("joined today: %d users, want at least 3", p.Count)
		}
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/users/?joined_from=2026-02-02&joined_to=2026-02-01", e.admin.Token, nil), http.StatusBadRequest, 400)
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/users/?ordering=password", e.admin.Token, nil), http.StatusBadRequest, 400)
		desc := list(api.AdminListUsersParams{Ordering: api.NewOptUserOrdering(api.UserOrderingMinusID), PageSize: api.NewOptInt(100)})
		for i := 1; i < len(desc.Results); i++ {
			if desc.Results[i-1].ID < desc.Results[i].ID {
				t.Fatalf("-id not descending: %d before %d", desc.Results[i-1].ID, desc.Results[i].ID)
			}
		}
		// Never-logged-in users sort last by last_login.
		byLogin := list(api.AdminListUsersParams{Ordering: api.NewOptUserOrdering(api.UserOrderingLastLogin), PageSize: api.NewOptInt(100)})
		seenNull := false
		for _, r := range byLogin.Results {
			if r.LastLogin.Null {
				seenNull = true
			} else if seenNull {
				t.Fatalf("last_login ordering puts a user who logged in after one who never did")
			}
		}

		// Reset password: every token of the user is revoked.
		expect(t, e.Do(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/users/%d/password/", u.ID), e.admin.Token, map[string]string{"password": "brand-new-password"}), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", token, nil), http.StatusUnauthorized, 401)
		expect(t, e.Do(t, http.MethodPost, "/api/user/login/", "", map[string]string{"username": name, "password": testenv.Password}), http.StatusBadRequest, 400)
		expect(t, e.Do(t, http.MethodPost, "/api/user/login/", "", map[string]string{"username": name, "password": "brand-new-password"}), http.StatusOK, 200)

		// Every write is in the audit log, with who, before and after, and
		// never the password.
		entries := e.auditFor(t, api.AuditTargetTypeUser, u.ID)
		var actions []string
		for _, en := range entries {
			actions = append(actions, en.Action)
			if en.Actor.ID != e.admin.User.ID || en.Actor.Username != e.admin.User.Username {
				t.Fatalf("entry %s by %+v, want %s", en.Action, en.Actor, e.admin.User.Username)
			}
			for _, snap := range []api.NilAuditEntryBefore{en.Before, after(en)} {
				for k, v := range snap.Value {
					if strings.Contains(k, "password") || strings.Contains(string(v), "brand-new-password") {
						t.Fatalf("entry %s records a password: %s=%s", en.Action, k, v)
					}
				}
			}
		}
		if strings.Join(actions, ",") != "user.reset_password,user.update,user.create" {
			t.Fatalf("audit actions %v", actions)
		}
		update := entries[1]
		if field(t, update.Before, "nickname") != `"Made"` || field(t, after(update), "nickname") != `"Edited"` ||
			field(t, after(update), "is_staff") != "true" {
			t.Fatalf("update entry before %v after %v", update.Before, update.After)
		}
		if !entries[2].Before.Null || entries[2].After.Null {
			t.Fatalf("create entry: before %v after %v", entries[2].Before, entries[2].After)
		}
		// Enable and disable are audited too.
		expect(t, e.Do(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/users/%d/disable/", u.ID), e.admin.Token, nil), http.StatusOK, 200)
		if got := e.auditFor(t, api.AuditTargetTypeUser, u.ID)[0]; got.Action != "user.disable" ||
			field(t, got.Before, "is_active") != "true" || field(t, after(got), "is_active") != "false" {
			t.Fatalf("disable entry %+v", got)
		}
	})
}

// after is an entry's after snapshot, typed as its before for field.
func after(en api.AuditEntry) api.NilAuditEntryBefore {
	return api.NilAuditEntryBefore{Value: api.AuditEntryBefore(en.After.Value), Null: en.After.Null}
}

func containsUser(us []api.User, id int) bool {
	for _, u := range us {
		if u.ID == id {
			return true
		}
	}
	return false
}

// Deleting a user deletes their bindings (the devices stay, unbound) and
// conversations, and ends their sessions.
func TestDeleteUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		owner := e.Register(t, "owner")
		mac := testenv.RandomID()
		devID := e.Bind(t, owner.Token, mac)
		devLogin := e.MacLogin(t, mac)
		ws := e.Dial(t, devLogin.Token)
		res := e.Do(t, http.MethodPost, "/api/ai/chat/", owner.Token, map[string]any{"message": "hello"})
		expect(t, res, http.StatusOK, 200)

		expect(t, e.Do(t, http.MethodDelete, fmt.Sprintf("/api/v1/admin/users/%d/", owner.User.ID), e.admin.Token, nil), http.StatusOK, 200)
		ws.ExpectClose(4004)
		expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", owner.Token, nil), http.StatusUnauthorized, 401)
		expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", devLogin.Token, nil), http.StatusUnauthorized, 401)
		_, err := e.c.AdminGetUser(ctx, api.AdminGetUserParams{ID: owner.User.ID})
		testenv.ExpectAPIError(t, err, http.StatusNotFound, 404)
		d, err := e.c.AdminGetDevice(ctx, api.AdminGetDeviceParams{ID: devID})
		detail := testenv.OK(t, d, err, http.StatusOK).Data
		if !detail.Device.Owner.Null || len(detail.Bindings) != 0 {
			t.Fatalf("device after its owner's deletion: %+v", detail)
		}
		convs, err := e.c.AdminListConversations(ctx, api.AdminListConversationsParams{UserID: api.NewOptInt(owner.User.ID)})
		if n := testenv.OK(t, convs, err, http.StatusOK).Data.Count; n != 0 {
			t.Fatalf("%d conversations left", n)
		}
		expect(t, e.macLogin(t, mac), http.StatusNotFound, 4010)
		entries := e.auditFor(t, api.AuditTargetTypeUser, owner.User.ID)
		if len(entries) != 1 || entries[0].Action != "user.delete" || entries[0].Before.Null || !entries[0].After.Null {
			t.Fatalf("delete entries %+v", entries)
		}
		expect(t, e.Do(t, http.MethodDelete, fmt.Sprintf("/api/v1/admin/users/%d/", owner.User.ID), e.admin.Token, nil), http.StatusNotFound, 404)
	})
}

func (e *env) macLogin(t *testing.T, mac string) *testenv.Response {
	t.Helper()
	return e.Do(t, http.MethodPost, "/api/user/mac-login/", "", map[string]string{"mac_address": mac})
}

func TestDevices(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		typ, err := e.c.AdminCreateDeviceType(ctx, &api.DeviceTypeCreate{Name: testenv.Name("Model"), PersonaName: api.NewOptString("Mochi")})
		typeID := testenv.OK(t, typ, err, http.StatusCreated).Data.ID
		alice, bob := e.Register(t, "alice"), e.Register(t, "bob")
		mac := testenv.RandomID()
		devID := e.Bind(t, alice.Token, mac)
		e.Bind(t, bob.Token, mac) // last bind wins: alice's binding ends
		spare := e.Bind(t, alice.Token, testenv.RandomID())
		devLogin := e.MacLogin(t, mac)
		ws := e.Dial(t, devLogin.Token)

		list := func(p api.AdminListDevicesParams) []int {
			t.Helper()
			p.PageSize = api.NewOptInt(100)
			res, err := e.c.AdminListDevices(ctx, p)
			var ids []int
			for _, d := range testenv.OK(t, res, err, http.StatusOK).Data.Results {
				ids = append(ids, d.ID)
			}
			return ids
		}
		if ids := list(api.AdminListDevicesParams{OwnerID: api.NewOptInt(bob.User.ID)}); fmt.Sprint(ids) != fmt.Sprint([]int{devID}) {
			t.Fatalf("owner filter: %v", ids)
		}
		if ids := list(api.AdminListDevicesParams{Status: api.NewOptDeviceStatus(api.DeviceStatusConnected)}); fmt.Sprint(ids) != fmt.Sprint([]int{devID}) {
			t.Fatalf("status filter: %v", ids)
		}
		// The MAC is stored normalised (AA:BB:...); a lower-case part of it
		// finds it.
		normalised, _ := device.NormalizeMAC(mac)
		if ids := list(api.AdminListDevicesParams{Search: api.NewOptString(strings.ToLower(normalised[9:]))}); len(ids) != 1 || ids[0] != devID {
			t.Fatalf("search filter: %v", ids)
		}
		if ids := list(api.AdminListDevicesParams{SeenFrom: api.NewOptDateTime(time.Now().Add(time.Hour))}); len(ids) != 0 {
			t.Fatalf("seen from the future: %v", ids)
		}

		// Detail: owner, live presence, binding history newest first.
		d, err := e.c.AdminGetDevice(ctx, api.AdminGetDeviceParams{ID: devID})
		detail := testenv.OK(t, d, err, http.StatusOK).Data
		if !detail.Online || detail.Device.Owner.Value.ID != bob.User.ID || len(detail.Bindings) != 2 ||
			detail.Bindings[0].User.ID != bob.User.ID || !detail.Bindings[0].UnboundAt.Null ||
			detail.Bindings[1].User.ID != alice.User.ID || detail.Bindings[1].UnboundAt.Null {
			t.Fatalf("detail %+v", detail)
		}
		// Binding history per user.
		hist, err := e.c.AdminListBindings(ctx, api.AdminListBindingsParams{UserID: api.NewOptInt(alice.User.ID)})
		if p := testenv.OK(t, hist, err, http.StatusOK).Data; p.Count != 2 || p.Results[0].Device.ID != spare || p.Results[1].Device.ID != devID {
			t.Fatalf("alice's bindings %+v", p)
		}
		active, err := e.c.AdminListBindings(ctx, api.AdminListBindingsParams{UserID: api.NewOptInt(alice.User.ID), Active: api.NewOptBool(false)})
		if p := testenv.OK(t, active, err, http.StatusOK).Data; p.Count != 1 || p.Results[0].Device.ID != devID {
			t.Fatalf("alice's ended bindings %+v", p)
		}

		// Edit name and type; null clears the type.
		upd, err := e.c.AdminUpdateDevice(ctx, &api.AdminDeviceUpdate{Name: api.NewOptString("Kitchen"), DeviceTypeID: api.NewOptNilInt(typeID)},
			api.AdminUpdateDeviceParams{ID: devID})
		if got := testenv.OK(t, upd, err, http.StatusOK).Data; got.Name != "Kitchen" || got.DeviceType.Value.ID != typeID {
			t.Fatalf("updated %+v", got)
		}
		if ids := list(api.AdminListDevicesParams{DeviceTypeID: api.NewOptInt(typeID)}); len(ids) != 1 {
			t.Fatalf("type filter: %v", ids)
		}
		expect(t, e.Do(t, http.MethodPatch, fmt.Sprintf("/api/v1/admin/devices/%d/", devID), e.admin.Token, map[string]any{"device_type_id": nil}), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodPatch, fmt.Sprintf("/api/v1/admin/devices/%d/", devID), e.admin.Token, map[string]any{"device_type_id": 999999}), http.StatusBadRequest, 400)

		// Disconnect: the device's session closes with 1001; it may come back.
		expect(t, e.Do(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/devices/%d/disconnect/", devID), e.admin.Token, nil), http.StatusOK, 200)
		ws.ExpectClose(1001)
		ws = e.Dial(t, devLogin.Token)

		// Force unbind: the session closes with 4003, the device token dies.
		ub, err := e.c.AdminUnbindDevice(ctx, api.AdminUnbindDeviceParams{ID: devID})
		if got := testenv.OK(t, ub, err, http.StatusOK).Data; !got.Owner.Null || !got.BoundAt.Null {
			t.Fatalf("unbound %+v", got)
		}
		ws.ExpectClose(4003)
		expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", devLogin.Token, nil), http.StatusUnauthorized, 401)
		_, err = e.c.AdminUnbindDevice(ctx, api.AdminUnbindDeviceParams{ID: devID})
		testenv.ExpectAPIError(t, err, http.StatusConflict, 409)
		if ids := list(api.AdminListDevicesParams{Bound: api.NewOptBool(false)}); fmt.Sprint(ids) != fmt.Sprint([]int{devID}) {
			t.Fatalf("unbound filter: %v", ids)
		}

		// Delete: the device and its history go; the MAC can come back.
		expect(t, e.Do(t, http.MethodDelete, fmt.Sprintf("/api/v1/admin/devices/%d/", devID), e.admin.Token, nil), http.StatusOK, 200)
		_, err = e.c.AdminGetDevice(ctx, api.AdminGetDeviceParams{ID: devID})
		testenv.ExpectAPIError(t, err, http.StatusNotFound, 404)
		hist, err = e.c.AdminListBindings(ctx, api.AdminListBindingsParams{DeviceID: api.NewOptInt(devID)})
		if n := testenv.OK(t, hist, err, http.StatusOK).Data.Count; n != 0 {
			t.Fatalf("%d bindings of a deleted device", n)
		}
		if again := e.Bind(t, alice.Token, mac); again == devID {
			t.Fatal("a rebound deleted device kept its id")
		}

		var actions []string
		for _, en := range e.auditFor(t, api.AuditTargetTypeDevice, devID) {
			actions = append(actions, en.Action)
		}
		if strings.Join(actions, ",") != "device.delete,device.unbind,device.disconnect,device.update,device.update" {
			t.Fatalf("device audit %v", actions)
		}
	})
}

func TestImport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		typeName := testenv.Name("Factory")
		typ, err := e.c.AdminCreateDeviceType(ctx, &api.DeviceTypeCreate{Name: typeName})
		typeID := testenv.OK(t, typ, err, http.StatusCreated).Data.ID
		owner := e.Register(t, "owner")
		known := "aa:bb:" + testenv.RandomID()[:2] + ":00:00:01"
		knownID := e.Bind(t, owner.Token, known)
		fresh := testenv.RandomID()[:12]
		csv := strings.Join([]string{
			"MAC_Address, name ,type",
			fresh + ",Batch 1," + strings.ToUpper(typeName), // line 2: created, type by name
			"not-a-mac,Batch 2,",                            // line 3: bad MAC
			known + ",Renamed," + fmt.Sprint(typeID),        // line 4: updated, type by id
			fresh + ",Again,",                               // line 5: repeated
			testenv.RandomID()[:12] + ",Batch 3,NoSuchType", // line 6: unknown type
			"",
			testenv.RandomID()[:12] + ",too,many,cells",                    // line 8: wrong width
			known + ",Renamed,",                                            // line 9: repeated too
			testenv.RandomID()[:12] + "," + strings.Repeat("n", 101) + ",", // line 10: name too long
		}, "\n")
		res, err := e.c.AdminImportDevices(ctx, &api.DeviceImportRequest{Csv: csv})
		rep := testenv.OK(t, res, err, http.StatusOK).Data
		want := []struct {
			line   int
			status api.DeviceImportStatus
			msg    string
		}{
			{2, api.DeviceImportStatusCreated, ""},
			{3, api.DeviceImportStatusError, "mac_address:"},
			{4, api.DeviceImportStatusUpdated, ""},
			{5, api.DeviceImportStatusError, "first on line 2"},
			{6, api.DeviceImportStatusError, "type:"},
			{8, api.DeviceImportStatusError, "Expected 3 columns, got 4."},
			{9, api.DeviceImportStatusError, "first on line 4"},
			{10, api.DeviceImportStatusError, "name:"},
		}
		if rep.Created != 1 || rep.Updated != 1 || rep.Failed != 6 || len(rep.Rows) != len(want) {
			t.Fatalf("report %+v", rep)
		}
		for i, w := range want {
			r := rep.Rows[i]
			if r.Line != w.line || r.Status != w.status || !strings.Contains(r.Message, w.msg) || (w.msg == "") != (r.Message == "") ||
				(w.status == api.DeviceImportStatusError) != r.DeviceID.Null {
				t.Errorf("row %d: %+v, want line %d %s %q", i, r, w.line, w.status, w.msg)
			}
		}
		if rep.Rows[2].DeviceID.Value != knownID {
			t.Fatalf("updated row names device %d, want %d", rep.Rows[2].DeviceID.Value, knownID)
		}
		d, err := e.c.AdminGetDevice(ctx, api.AdminGetDeviceParams{ID: rep.Rows[0].DeviceID.Value})
		got := testenv.OK(t, d, err, http.StatusOK).Data.Device
		if got.Name != "Batch 1" || got.DeviceType.Value.ID != typeID || !got.Owner.Null || got.MACAddress != rep.Rows[0].MACAddress {
			t.Fatalf("imported device %+v", got)
		}
		d, err = e.c.AdminGetDevice(ctx, api.AdminGetDeviceParams{ID: knownID})
		if got := testenv.OK(t, d, err, http.StatusOK).Data.Device; got.Name != "Renamed" || got.Owner.Value.ID != owner.User.ID {
			t.Fatalf("updated device %+v", got)
		}
		// Importing the same file again changes nothing.
		res, err = e.c.AdminImportDevices(ctx, &api.DeviceImportRequest{Csv: csv})
		if again := testenv.OK(t, res, err, http.StatusOK).Data; again.Created != 0 || again.Updated != 0 || again.Rows[0].Status != api.DeviceImportStatusUnchanged {
			t.Fatalf("second import %+v", again)
		}

		// A header that cannot be read refuses the file: nothing imported.
		for _, bad := range []string{
			"name,type\n" + testenv.RandomID()[:12] + ",x,",
			"mac_address,password\n" + testenv.RandomID()[:12] + ",s3cr3t",
			"mac_address,mac_address\nx,y",
			"mac_address\n",
			"mac_address\n\"" + testenv.RandomID()[:12] + "\"x\"\n",
		} {
			r := e.Do(t, http.MethodPost, "/api/v1/admin/devices/import/", e.admin.Token, map[string]string{"csv": bad})
			expect(t, r, http.StatusBadRequest, 4041)
		}
		entries, err := e.c.AdminListAuditLog(ctx, api.AdminListAuditLogParams{Action: api.NewOptString("device.import")})
		p := testenv.OK(t, entries, err, http.StatusOK).Data
		if p.Count != 2 || field(t, after(p.Results[1]), "created") != "1" {
			t.Fatalf("import audit %+v", p)
		}
	})
}

// sse reads an event stream's events.
type sse struct {
	events chan sseEvent
}

type sseEvent struct {
	Name string
	Data struct {
		Type           string `json:"type"`
		DeviceID       *int   `json:"device_id"`
		MACAddress     *string
		UserID         *int `json:"user_id"`
		ConversationID *int `json:"conversation_id"`
	}
}

// openEvents opens the admin event stream and waits until it is
// subscribed (its first comment).
func openEvents(t *testing.T, s *testenv.Service, token string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/admin/events/", nil)
	req.Header.Set("Authorization", "Token "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("event stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	if !sc.Scan() || sc.Text() != ": connected" {
		t.Fatalf("event stream starts with %q", sc.Text())
	}
	out := &sse{events: make(chan sseEvent, 64)}
	go func() {
		defer res.Body.Close()
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = sseEvent{Name: strings.TrimPrefix(line, "event: ")}
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data); err == nil {
					out.events <- ev
				}
			}
		}
	}()
	return out
}

// expect waits for an event of the type about the device (0: any) and
// fails the test if the stream does not deliver one.
func (s *sse) expect(t *testing.T, typ string, deviceID int) sseEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-s.events:
			if ev.Name != ev.Data.Type {
				t.Fatalf("event %s carries type %s", ev.Name, ev.Data.Type)
			}
			if ev.Name == typ && (deviceID == 0 || (ev.Data.DeviceID != nil && *ev.Data.DeviceID == deviceID)) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event for device %d", typ, deviceID)
		}
	}
}

// The event stream carries what happens on another instance: devices
// going online and offline, bindings and conversations.
func TestEventsAcrossInstances(t *testing.T) {
	cfg := testenv.Config(t, testenv.Postgres)
	var accounts *account.Service
	a := testenv.StartWith(t, cfg, fx.Populate(&accounts))
	b := testenv.StartWith(t, cfg)
	e := &env{Service: a, accounts: accounts}
	e.admin = e.staff(t)
	events := openEvents(t, a, e.admin.Token)

	owner := b.Register(t, "owner")
	mac := testenv.RandomID()
	devID := b.Bind(t, owner.Token, mac)
	if ev := events.expect(t, "binding_created", devID); *ev.Data.UserID != owner.User.ID {
		t.Fatalf("binding event %+v", ev)
	}
	devLogin := b.MacLogin(t, mac)
	ws := b.Dial(t, devLogin.Token)
	events.expect(t, "device_online", devID)
	res := b.Do(t, http.MethodPost, "/api/ai/chat/", devLogin.Token, map[string]any{"message": "hi"})
	expect(t, res, http.StatusOK, 200)
	if ev := events.expect(t, "conversation_created", devID); ev.Data.ConversationID == nil {
		t.Fatalf("conversation event %+v", ev)
	}
	_ = ws.Conn.Close(websocket.StatusNormalClosure, "bye")
	events.expect(t, "device_offline", devID)
	expect(t, a.Do(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/devices/%d/unbind/", devID), e.admin.Token, nil), http.StatusOK, 200)
	events.expect(t, "binding_ended", devID)

	// The stream refuses user tokens with the envelope.
	expect(t, a.Do(t, http.MethodGet, "/api/v1/admin/events/", owner.Token, nil), http.StatusUnauthorized, 401)
}

func TestStats(t *testing.T) {
	cfg := testenv.Config(t, testenv.Postgres)
	var accounts *account.Service
	a := testenv.StartWith(t, cfg, fx.Populate(&accounts))
	b := testenv.StartWith(t, cfg)
	e := &env{Service: a, accounts: accounts}
	e.admin = e.staff(t)
	owner := b.Register(t, "owner")
	mac := testenv.RandomID()
	b.Bind(t, owner.Token, mac)
	devLogin := b.MacLogin(t, mac)
	b.Dial(t, devLogin.Token) // a session on instance b
	a.Dial(t, owner.Token)    // and one on instance a
	expect(t, b.Do(t, http.MethodPost, "/api/ai/chat/", owner.Token, map[string]any{"message": "hi"}), http.StatusOK, 200)
	expect(t, b.Do(t, http.MethodPost, "/api/ai/chat/", owner.Token, map[string]any{"message": "again"}), http.StatusOK, 200)

	// Instance b reports its count every few seconds; wait for it.
	var st api.AdminStats
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := e.API(t, e.admin.Token).AdminGetStats(t.Context(), api.AdminGetStatsParams{Days: api.NewOptInt(3)})
		st = testenv.OK(t, res, err, http.StatusOK).Data
		if st.HubSessions == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st.HubSessions != 2 {
		t.Fatalf("hub sessions %d, want 2", st.HubSessions)
	}
	if st.Users.Total != 2 || st.Users.Staff != 1 || st.Users.Active != 2 || len(st.Users.NewPerDay) != 3 || st.Users.NewPerDay[2].Count != 2 {
		t.Fatalf("user stats %+v", st.Users)
	}
	if st.Devices.Total != 1 || st.Devices.Connected != 1 || st.Devices.Bound != 1 || len(st.Devices.ByType) != 1 ||
		!st.Devices.ByType[0].DeviceTypeID.Null || st.Devices.ByType[0].Count != 1 || len(st.Devices.ByFirmware) != 1 {
		t.Fatalf("device stats %+v", st.Devices)
	}
	if len(st.MessagesPerDay) != 3 || st.MessagesPerDay[2].Count != 2 || st.MessagesPerDay[0].Count != 0 {
		t.Fatalf("messages per day %+v", st.MessagesPerDay)
	}
	today := time.Now().UTC().Format("2006-01-02")
	if got := st.MessagesPerDay[2].Date.Format("2006-01-02"); got != today {
		t.Fatalf("last day %s, want %s", got, today)
	}
	expect(t, a.Do(t, http.MethodGet, "/api/v1/admin/stats/?days=0", e.admin.Token, nil), http.StatusBadRequest, 400)
}

func TestAuditFilters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		other := e.staff(t)
		oc := e.API(t, other.Token)
		typ, err := oc.AdminCreateDeviceType(ctx, &api.DeviceTypeCreate{Name: testenv.Name("T")})
		id := testenv.OK(t, typ, err, http.StatusCreated).Data.ID
		updated, err := e.c.AdminUpdateDeviceType(ctx, &api.DeviceTypeUpdate{PromptTemplate: api.NewOptString("Hi {{.User.Nickname}}")}, api.AdminUpdateDeviceTypeParams{ID: id})
		testenv.OK(t, updated, err, http.StatusOK)
		expect(t, e.Do(t, http.MethodDelete, fmt.Sprintf("/api/v1/admin/device-types/%d/", id), e.admin.Token, nil), http.StatusOK, 200)
		list := func(p api.AdminListAuditLogParams) []string {
			t.Helper()
			res, err := e.c.AdminListAuditLog(ctx, p)
			var out []string
			for _, en := range testenv.OK(t, res, err, http.StatusOK).Data.Results {
				out = append(out, en.Action)
			}
			return out
		}
		if got := list(api.AdminListAuditLogParams{ActorID: api.NewOptInt(other.User.ID)}); fmt.Sprint(got) != "[device_type.create]" {
			t.Fatalf("by actor: %v", got)
		}
		if got := list(api.AdminListAuditLogParams{Action: api.NewOptString("device_type.")}); fmt.Sprint(got) != "[device_type.delete device_type.update device_type.create]" {
			t.Fatalf("by action prefix: %v", got)
		}
		today := time.Now().UTC()
		if got := list(api.AdminListAuditLogParams{From: api.NewOptDate(today), To: api.NewOptDate(today)}); len(got) != 3 {
			t.Fatalf("today: %v", got)
		}
		if got := list(api.AdminListAuditLogParams{From: api.NewOptDate(today.AddDate(0, 0, 1))}); len(got) != 0 {
			t.Fatalf("tomorrow: %v", got)
		}
		upd := e.auditFor(t, api.AuditTargetTypeDeviceType, id)[1]
		if field(t, upd.Before, "prompt_template") != `""` || field(t, after(upd), "prompt_template") != `"Hi {{.User.Nickname}}"` {
			t.Fatalf("update entry %+v", upd)
		}
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/audit-log/?target_id=1", e.admin.Token, nil), http.StatusBadRequest, 400)
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/audit-log/?target_type=planet", e.admin.Token, nil), http.StatusBadRequest, 400)
	})
}

// TestDeviceCommands: an admin queues, lists, reads and cancels a
// device's commands; the writes are in the audit log with the command.
func TestDeviceCommands(t *testing.T) {
	e := start(t, testenv.Postgres)
	ctx := t.Context()
	alice := e.Register(t, "alice")
	devID := e.Bind(t, alice.Token, testenv.RandomID())

	res, err := e.c.AdminCreateDeviceCommand(ctx, &api.DeviceCommandRequest{Name: "reboot", TTLSeconds: api.NewOptInt(600)},
		api.AdminCreateDeviceCommandParams{ID: devID})
	if err != nil {
		t.Fatal(err)
	}
	created, ok := res.(*api.AdminCreateDeviceCommandCreated)
	if !ok || created.Data.Status != api.DeviceCommandStatusQueued || created.Data.IssuerID != e.admin.User.ID {
		t.Fatalf("admin command: %#v, want queued, issued by the admin", res)
	}
	cmdID := created.Data.ID

	page, err := e.c.AdminListDeviceCommands(ctx, api.AdminListDeviceCommandsParams{ID: devID, Status: api.NewOptDeviceCommandStatus(api.DeviceCommandStatusQueued)})
	if got := testenv.OK(t, page, err, http.StatusOK).Data; got.Count != 1 || got.Results[0].ID != cmdID {
		t.Fatalf("pending commands: %+v", got)
	}
	// The device's detail lists it as pending, until it is cancelled.
	pendingIn := func() api.AdminDeviceDetail {
		t.Helper()
		d, err := e.c.AdminGetDevice(ctx, api.AdminGetDeviceParams{ID: devID})
		return testenv.OK(t, d, err, http.StatusOK).Data
	}
	if d := pendingIn(); d.PendingCommandCount != 1 || len(d.PendingCommands) != 1 || d.PendingCommands[0].ID != cmdID {
		t.Fatalf("device detail before cancel: %d pending, %+v", d.PendingCommandCount, d.PendingCommands)
	}
	cancelled, err := e.c.AdminCancelDeviceCommand(ctx, api.AdminCancelDeviceCommandParams{ID: devID, CommandID: cmdID})
	if err != nil {
		t.Fatal(err)
	}
	if env, ok := cancelled.(*api.DeviceCommandEnvelope); !ok || env.Data.Status != api.DeviceCommandStatusFailed {
		t.Fatalf("cancel: %#v, want failed", cancelled)
	}
	one, err := e.c.AdminGetDeviceCommand(ctx, api.AdminGetDeviceCommandParams{ID: devID, CommandID: cmdID})
	if got := testenv.OK(t, one, err, http.StatusOK).Data; string(got.Result.Value["cancelled"]) != "true" {
		t.Fatalf("cancelled command: %+v", got)
	}
	expect(t, e.Do(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/devices/%d/commands/%d/cancel/", devID, cmdID), e.admin.Token, nil),
		http.StatusConflict, 409)
	if d := pendingIn(); d.PendingCommandCount != 0 || len(d.PendingCommands) != 0 {
		t.Fatalf("device detail after cancel: %d pending, %+v", d.PendingCommandCount, d.PendingCommands)
	}
	// Alice, the owner, sees the admin's command and its end.
	if r := e.Do(t, http.MethodGet, fmt.Sprintf("/api/device/devices/%d/commands/%d/", devID, cmdID), alice.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("owner read: %d %s", r.Status, r.Body)
	}

	entries := e.auditFor(t, api.AuditTargetTypeDevice, devID)
	if len(entries) != 2 || entries[0].Action != "device.command.cancel" || entries[1].Action != "device.command.create" {
		t.Fatalf("audit entries: %+v", entries)
	}
	if got := field(t, entries[0].Before, "status"); got != `"queued"` {
		t.Fatalf("cancel before: status %s", got)
	}
	if got := field(t, after(entries[0]), "status"); got != `"failed"` {
		t.Fatalf("cancel after: status %s", got)
	}
	if got := field(t, after(entries[1]), "id"); got != fmt.Sprint(cmdID) {
		t.Fatalf("create after: id %s, want %d", got, cmdID)
	}
}
