package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

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

		// Bound by A: MAC login in any format returns A's token.
		a := e.register(t, "owner_a")
		d := e.bind(t, a.Token, forms[1])
		if d.MACAddress != strings.ToUpper(forms[2]) || d.Status != "disconnected" || d.BoundAt == nil {
			t.Fatalf("unexpected device: %+v", d)
		}
		for _, form := range forms {
			res = e.macLogin(t, form)
			expect(t, res, http.StatusOK, 200)
			var login macLoginData
			res.Decode(t, &login)
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
		res = e.macLogin(t, forms[0])
		expect(t, res, http.StatusOK, 200)
		var login macLoginData
		res.Decode(t, &login)
		if login.User.ID != b.User.ID {
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
		res = e.macLogin(t, mac)
		res.Decode(t, &login)
		if login.User.ID != a.User.ID {
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
		res := e.Do(t, http.MethodPost, "/api/v1/admin/device-types/", admin.Token, map[string]string{"name": "Companion " + randomMAC()})
		expect(t, res, http.StatusCreated, 201)
		var typ deviceType
		res.Decode(t, &typ)

		a := e.register(t, "gina")
		mac := randomMAC()
		res = e.Do(t, http.MethodPost, "/api/device/bind/", a.Token, map[string]any{"mac_address": mac, "name": "Desk", "device_type_id": typ.ID})
		expect(t, res, http.StatusOK, 200)
		var d device
		res.Decode(t, &d)
		if d.Name != "Desk" || d.DeviceType == nil || d.DeviceType.ID != typ.ID || d.BatteryLevel != nil {
			t.Fatalf("unexpected device: %s", res.Data)
		}
		// MAC login returns the device with its type.
		res = e.macLogin(t, mac)
		expect(t, res, http.StatusOK, 200)
		var login macLoginData
		res.Decode(t, &login)
		if login.Device.Name != "Desk" || login.Device.DeviceType == nil || login.Device.DeviceType.Name != typ.Name || login.Device.BoundAt == nil {
			t.Fatalf("MAC login device: %s", res.Data)
		}
		// Binding again keeps the binding and applies only the given fields.
		res = e.Do(t, http.MethodPost, "/api/device/bind/", a.Token, map[string]any{"mac_address": mac, "name": "Kitchen"})
		expect(t, res, http.StatusOK, 200)
		var d2 device
		res.Decode(t, &d2)
		if d2.ID != d.ID || d2.Name != "Kitchen" || d2.DeviceType == nil || *d2.BoundAt != *d.BoundAt {
			t.Fatalf("unexpected device after re-bind: %s", res.Data)
		}
		res = e.Do(t, http.MethodPost, "/api/device/bind/", a.Token, map[string]any{"mac_address": randomMAC(), "device_type_id": 999999})
		expect(t, res, http.StatusBadRequest, 400)
		if !strings.HasPrefix(res.Message, "device_type_id: ") {
			t.Fatalf("message %q", res.Message)
		}
		// The type cannot be deleted while the device uses it.
		expect(t, e.Do(t, http.MethodDelete, fmt.Sprintf("/api/v1/admin/device-types/%d/", typ.ID), admin.Token, nil), http.StatusConflict, 409)
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
		res := e.Do(t, http.MethodGet, "/api/device/devices/?page_size=2", a.Token, nil)
		expect(t, res, http.StatusOK, 200)
		var p page[device]
		res.Decode(t, &p)
		if p.Count != 5 || len(p.Results) != 2 || p.Previous != nil || p.Next == nil {
			t.Fatalf("page 1: %s", res.Data)
		}
		if want := e.URL + "/api/device/devices/?page=2&page_size=2"; *p.Next != want {
			t.Fatalf("next %q, want %q", *p.Next, want)
		}
		// Newest binding first.
		if p.Results[0].MACAddress != strings.ToUpper(formats(macs[4])[2]) {
			t.Fatalf("first result %s, want the newest binding %s", p.Results[0].MACAddress, macs[4])
		}
		res = e.Do(t, http.MethodGet, "/api/device/devices/?page=3&page_size=2", a.Token, nil)
		res.Decode(t, &p)
		if len(p.Results) != 1 || p.Next != nil || p.Previous == nil || *p.Previous != e.URL+"/api/device/devices/?page=2&page_size=2" {
			t.Fatalf("page 3: %s", res.Data)
		}
		res = e.Do(t, http.MethodGet, "/api/device/devices/?page=2&page_size=2", a.Token, nil)
		res.Decode(t, &p)
		if *p.Previous != e.URL+"/api/device/devices/?page_size=2" {
			t.Fatalf("previous of page 2: %q", *p.Previous)
		}
		expect(t, e.Do(t, http.MethodGet, "/api/device/devices/?page=4&page_size=2", a.Token, nil), http.StatusNotFound, 404)
		expect(t, e.Do(t, http.MethodGet, "/api/device/devices/?page=0", a.Token, nil), http.StatusBadRequest, 400)
		expect(t, e.Do(t, http.MethodGet, "/api/device/devices/?page_size=abc", a.Token, nil), http.StatusBadRequest, 400)
		// Sizes above 100 are served as 100.
		res = e.Do(t, http.MethodGet, "/api/device/devices/?page_size=1000", a.Token, nil)
		res.Decode(t, &p)
		if len(p.Results) != 5 || p.Next != nil {
			t.Fatalf("page_size=1000: %s", res.Data)
		}
	})
}
