package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"paradise/gen/api"
	"paradise/internal/testenv"
)

// formats writes one MAC address the three ways clients send it.
func formats(mac string) []string {
	upper := strings.ToUpper(mac)
	var pairs []string
	for i := 0; i < 12; i += 2 {
		pairs = append(pairs, upper[i:i+2])
	}
	return []string{mac, strings.Join(pairs, "-"), strings.ToLower(strings.Join(pairs, ":"))}
}

func TestMacLoginLastBindWins(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		mac := randomMAC()
		forms := formats(mac)

		// Unknown device.
		res := e.macLogin(t, forms[0])
		expect(t, res, http.StatusNotFound, 4010)
		if res.Success {
			t.Fatal("4010 must not be a success")
		}
		// The typed client sees the same error envelope.
		_, err := e.API(t, "").MacLogin(t.Context(), &api.MacRequest{MACAddress: api.MacAddress(forms[1])})
		if env := testenv.ExpectAPIError(t, err, http.StatusNotFound, 4010); env.Message != res.Message {
			t.Fatalf("typed client: message %q, want %q", env.Message, res.Message)
		}

		// Bound by A: MAC login in any format returns A's token.
		a := e.register(t, "owner_a")
		d := e.bind(t, a.Token, forms[1])
		if d.MACAddress != strings.ToUpper(forms[2]) || d.Status != api.DeviceStatusDisconnected || d.BoundAt.Null {
			t.Fatalf("unexpected device: %+v", d)
		}
		for _, form := range forms {
			login := e.deviceLogin(t, form)
			if login.User.ID != a.User.ID || login.Device.ID != d.ID || login.Token == a.Token {
				t.Fatalf("MAC login %s: got user %d device %d, want user %d device %d", form, login.User.ID, login.Device.ID, a.User.ID, d.ID)
			}
			// The token works on user routes and is marked as a device session.
			expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", login.Token, nil), http.StatusOK, 200)
			if got := e.Redis.Get(context.Background(), e.Key("token_mac:"+login.Token)).Val(); got != d.MACAddress {
				t.Fatalf("token_mac = %q, want %q", got, d.MACAddress)
			}
		}
		if got := e.devices(t, a.Token); got.Count != 1 || got.Results[0].ID != d.ID {
			t.Fatalf("A's devices: %+v", got)
		}

		// B binds the same device: it is B's now, and A no longer sees it.
		b := e.register(t, "owner_b")
		e.bind(t, b.Token, forms[2])
		if login := e.deviceLogin(t, forms[0]); login.User.ID != b.User.ID {
			t.Fatalf("after rebind MAC login returned user %d, want %d", login.User.ID, b.User.ID)
		}
		if got := e.devices(t, a.Token); got.Count != 0 || len(got.Results) != 0 {
			t.Fatalf("A still lists the device: %+v", got)
		}
		expect(t, e.Do(t, http.MethodGet, fmt.Sprintf("/api/device/devices/%d/", d.ID), a.Token, nil), http.StatusNotFound, 404)
		if got := e.devices(t, b.Token); got.Count != 1 || got.Results[0].ID != d.ID {
			t.Fatalf("B's devices: %+v", got)
		}

		// A cannot unbind B's device; B can, and then nobody owns it.
		expect(t, e.Do(t, http.MethodPost, "/api/device/unbind/", a.Token, map[string]string{"mac_address": mac}), http.StatusNotFound, 404)
		expect(t, e.Do(t, http.MethodPost, "/api/device/unbind/", b.Token, map[string]string{"mac_address": forms[1]}), http.StatusOK, 200)
		expect(t, e.macLogin(t, mac), http.StatusNotFound, 4010)
		if got := e.devices(t, b.Token); got.Count != 0 {
			t.Fatalf("B still lists the unbound device: %+v", got)
		}
		expect(t, e.Do(t, http.MethodPost, "/api/device/unbind/", b.Token, map[string]string{"mac_address": mac}), http.StatusNotFound, 404)

		// Binding again makes it A's again (with the same device record).
		again := e.bind(t, a.Token, mac)
		if again.ID != d.ID {
			t.Fatalf("rebinding created device %d, want %d", again.ID, d.ID)
		}
		if login := e.deviceLogin(t, mac); login.User.ID != a.User.ID {
			t.Fatalf("MAC login returned user %d, want %d", login.User.ID, a.User.ID)
		}
	})
}

func TestMacValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		a := e.register(t, "mallory")
		for _, mac := range []string{"", "zz:bb:cc:00:00:01", "aa:bb:cc:00:00", "aa:bb-cc:00:00:01", "aabbcc0000011", "aa bb cc 00 00 01"} {
			for _, call := range []func() *testenv.Response{
				func() *testenv.Response { return e.macLogin(t, mac) },
				func() *testenv.Response {
					return e.Do(t, http.MethodPost, "/api/device/bind/", a.Token, map[string]string{"mac_address": mac})
				},
				func() *testenv.Response {
					return e.Do(t, http.MethodPost, "/api/device/unbind/", a.Token, map[string]string{"mac_address": mac})
				},
			} {
				res := call()
				expect(t, res, http.StatusBadRequest, 400)
				if !strings.HasPrefix(res.Message, "mac_address: ") {
					t.Fatalf("%q: message %q", mac, res.Message)
				}
			}
		}
		expect(t, e.Do(t, http.MethodPost, "/api/user/mac-login/", "", `{}`), http.StatusBadRequest, 400)
	})
}

func TestDeviceAuthorization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		a := e.register(t, "ann")
		b := e.register(t, "ben")
		d := e.bind(t, b.Token, randomMAC())
		path := fmt.Sprintf("/api/device/devices/%d/", d.ID)

		expect(t, e.Do(t, http.MethodGet, path, b.Token, nil), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodGet, path, a.Token, nil), http.StatusNotFound, 404)
		expect(t, e.Do(t, http.MethodGet, path, "", nil), http.StatusUnauthorized, 401)
		expect(t, e.Do(t, http.MethodGet, "/api/device/devices/999999/", b.Token, nil), http.StatusNotFound, 404)
		expect(t, e.Do(t, http.MethodGet, "/api/device/devices/abc/", b.Token, nil), http.StatusBadRequest, 400)
		expect(t, e.Do(t, http.MethodGet, "/api/device/devices/", "", nil), http.StatusUnauthorized, 401)
		expect(t, e.Do(t, http.MethodPost, "/api/device/bind/", "", map[string]string{"mac_address": randomMAC()}), http.StatusUnauthorized, 401)
		if got := e.devices(t, a.Token); got.Count != 0 {
			t.Fatalf("A sees B's device: %+v", got)
		}
	})
}

func TestBindDetails(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.staff(t)
		created, err := e.API(t, admin.Token).AdminCreateDeviceType(t.Context(), &api.DeviceTypeCreate{Name: "Companion " + randomMAC()})
		typ := testenv.OK(t, created, err, http.StatusCreated).Data

		a := e.register(t, "gina")
		c := e.API(t, a.Token)
		mac := randomMAC()
		bound, err := c.BindDevice(t.Context(), &api.BindRequest{
			MACAddress: api.MacAddress(mac), Name: api.NewOptString("Desk"), DeviceTypeID: api.NewOptInt(typ.ID)})
		d := testenv.OK(t, bound, err, http.StatusOK).Data
		if d.Name != "Desk" || d.DeviceType.Null || d.DeviceType.Value.ID != typ.ID || !d.BatteryLevel.Null || d.BoundAt.Null {
			t.Fatalf("unexpected device: %+v", d)
		}
		// MAC login returns the device with its type.
		login := e.deviceLogin(t, mac)
		if login.Device.Name != "Desk" || login.Device.DeviceType.Null || login.Device.DeviceType.Value.Name != typ.Name || login.Device.BoundAt.Null {
			t.Fatalf("MAC login device: %+v", login.Device)
		}
		// Binding again keeps the binding and applies only the given fields.
		bound, err = c.BindDevice(t.Context(), &api.BindRequest{MACAddress: api.MacAddress(mac), Name: api.NewOptString("Kitchen")})
		d2 := testenv.OK(t, bound, err, http.StatusOK).Data
		if d2.ID != d.ID || d2.Name != "Kitchen" || d2.DeviceType.Null || d2.BoundAt.Null || !d2.BoundAt.Value.Equal(d.BoundAt.Value) {
			t.Fatalf("unexpected device after re-bind: %+v", d2)
		}
		res := e.Do(t, http.MethodPost, "/api/device/bind/", a.Token, map[string]any{"mac_address": randomMAC(), "device_type_id": 999999})
		expect(t, res, http.StatusBadRequest, 400)
		if !strings.HasPrefix(res.Message, "device_type_id: ") {
			t.Fatalf("message %q", res.Message)
		}
		// The type cannot be deleted while the device uses it.
		_, err = e.API(t, admin.Token).AdminDeleteDeviceType(t.Context(), api.AdminDeleteDeviceTypeParams{ID: typ.ID})
		testenv.ExpectAPIError(t, err, http.StatusConflict, 409)
	})
}

func TestDevicePagination(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		a := e.register(t, "hal")
		var macs []string
		for i := 0; i < 5; i++ {
			mac := randomMAC()
			macs = append(macs, mac)
			e.bind(t, a.Token, mac)
		}
		p := e.listDevices(t, a.Token, api.ListDevicesParams{PageSize: api.NewOptInt(2)})
		if p.Count != 5 || len(p.Results) != 2 || !p.Previous.Null || p.Next.Null {
			t.Fatalf("page 1: %+v", p)
		}
		if want := e.URL + "/api/device/devices/?page=2&page_size=2"; p.Next.Value != want {
			t.Fatalf("next %q, want %q", p.Next.Value, want)
		}
		// Newest binding first.
		if p.Results[0].MACAddress != strings.ToUpper(formats(macs[4])[2]) {
			t.Fatalf("first result %s, want the newest binding %s", p.Results[0].MACAddress, macs[4])
		}
		p = e.listDevices(t, a.Token, api.ListDevicesParams{Page: api.NewOptInt(3), PageSize: api.NewOptInt(2)})
		if len(p.Results) != 1 || !p.Next.Null || p.Previous.Null || p.Previous.Value != e.URL+"/api/device/devices/?page=2&page_size=2" {
			t.Fatalf("page 3: %+v", p)
		}
		p = e.listDevices(t, a.Token, api.ListDevicesParams{Page: api.NewOptInt(2), PageSize: api.NewOptInt(2)})
		if p.Previous.Null || p.Previous.Value != e.URL+"/api/device/devices/?page_size=2" {
			t.Fatalf("previous of page 2: %+v", p.Previous)
		}
		expect(t, e.Do(t, http.MethodGet, "/api/device/devices/?page=4&page_size=2", a.Token, nil), http.StatusNotFound, 404)
		expect(t, e.Do(t, http.MethodGet, "/api/device/devices/?page=0", a.Token, nil), http.StatusBadRequest, 400)
		expect(t, e.Do(t, http.MethodGet, "/api/device/devices/?page_size=abc", a.Token, nil), http.StatusBadRequest, 400)
		// Sizes above 100 are served as 100.
		p = e.listDevices(t, a.Token, api.ListDevicesParams{PageSize: api.NewOptInt(1000)})
		if len(p.Results) != 5 || !p.Next.Null {
			t.Fatalf("page_size=1000: %+v", p)
		}
	})
}

// TestDeviceTokenScope: a device token (MAC login) acts as its device, not
// as its owner's account.
func TestDeviceTokenScope(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		owner := e.register(t, "owner")
		mac := randomMAC()
		self := e.bind(t, owner.Token, mac)
		other := e.bind(t, owner.Token, randomMAC())
		dev := e.MacLogin(t, mac)

		refused := []struct {
			name, method, path string
			body               any
		}{
			{"profile change", http.MethodPatch, "/api/user/profile/", map[string]string{"nickname": "pwned"}},
			{"password change", http.MethodPost, "/api/user/password/", map[string]string{"old_password": testenv.Password, "new_password": "another-horse-battery"}},
			{"bind", http.MethodPost, "/api/device/bind/", map[string]string{"mac_address": randomMAC()}},
			{"unbind", http.MethodPost, "/api/device/unbind/", map[string]string{"mac_address": mac}},
			{"push", http.MethodPost, fmt.Sprintf("/api/device/devices/%d/messages/", self.ID),
				map[string]any{"type": "notification", "message": map[string]any{"title": "Hi", "body": "x"}}},
		}
		for _, tc := range refused {
			t.Run(tc.name, func(t *testing.T) {
				expect(t, e.Do(t, tc.method, tc.path, dev.Token, tc.body), http.StatusForbidden, 403)
			})
		}
		// Admin operations never take a user token, device or not.
		expect(t, e.Do(t, http.MethodGet, "/api/v1/admin/users/", dev.Token, nil), http.StatusUnauthorized, 401)

		// What a device does still works, on its own record only.
		expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", dev.Token, nil), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodGet, fmt.Sprintf("/api/device/devices/%d/", self.ID), dev.Token, nil), http.StatusOK, 200)
		expect(t, e.Do(t, http.MethodGet, fmt.Sprintf("/api/device/devices/%d/", other.ID), dev.Token, nil), http.StatusNotFound, 404)
		if got := e.devices(t, dev.Token); got.Count != 1 || len(got.Results) != 1 || got.Results[0].ID != self.ID {
			t.Fatalf("device token lists %+v, want only device %d", got, self.ID)
		}
		if got := e.devices(t, owner.Token); got.Count != 2 {
			t.Fatalf("owner lists %d devices, want 2", got.Count)
		}
		// Nothing was changed by the refused calls.
		if res := e.Do(t, http.MethodGet, "/api/user/profile/", owner.Token, nil); strings.Contains(string(res.Body), "pwned") {
			t.Fatalf("profile changed through a device token: %s", res.Body)
		}
	})
}
