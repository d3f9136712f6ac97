package contract_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/rtc/rtctest"
	"paradise/internal/speech/aliyun/aliyuntest"
	"paradise/internal/testenv"
)

const password = testenv.Password

// call is the request a case sends.
type call struct {
	method, path string
	// token goes in "Authorization: Token <token>"; auth, when set, is the
	// whole Authorization header instead.
	token, auth string
	// body is JSON-encoded unless it is a string (sent as is).
	body        any
	contentType string // default application/json when there is a body
}

// restCase is one request to one operation and the status it must get.
// Every response is validated against openapi.yaml whatever its status.
type restCase struct {
	name   string
	status int
	code   int // envelope code; 0 means the status
	// raw: the success answer is not the envelope (the voice agent's
	// OpenAI-compatible endpoint); only the spec validates it.
	raw   bool
	setup func(t *testing.T, f *fixture) call
}

func (c restCase) success() bool { return c.status >= 200 && c.status < 300 }

// restCases are the cases, keyed by operationId. Every operation in
// openapi.yaml needs at least one success case and one error case
// (TestRESTCoverage).
var restCases = map[string][]restCase{
	"registerUser": {
		{name: "created", status: 201, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/register/", body: map[string]any{
				"username": testenv.Name("reg"), "password": password, "nickname": "Reg"}}
		}},
		{name: "missing password", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/register/", body: map[string]any{"username": testenv.Name("reg")}}
		}},
		{name: "username taken", status: 400, setup: func(t *testing.T, f *fixture) call {
			u := f.Register(t, "taken")
			return call{method: "POST", path: "/api/user/register/", body: map[string]any{"username": u.User.Username, "password": password}}
		}},
		{name: "malformed JSON", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/register/", body: `{"username":`}
		}},
		{name: "unsupported media type", status: 415, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/register/", body: "username=x", contentType: "application/x-www-form-urlencoded"}
		}},
		{name: "body too large", status: 413, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/register/", body: `{"nickname":"` + strings.Repeat("x", 1<<20) + `"}`}
		}},
	},
	"loginUser": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			u := f.Register(t, "login")
			return call{method: "POST", path: "/api/user/login/", body: map[string]any{"username": u.User.Username, "password": password}}
		}},
		{name: "wrong password", status: 400, setup: func(t *testing.T, f *fixture) call {
			u := f.Register(t, "login")
			return call{method: "POST", path: "/api/user/login/", body: map[string]any{"username": u.User.Username, "password": "wrong-password"}}
		}},
		{name: "disabled user", status: 403, setup: func(t *testing.T, f *fixture) call {
			u := f.Register(t, "login")
			f.must(t, "POST", fmt.Sprintf("/api/v1/admin/users/%d/disable/", u.User.ID), f.admin, nil, 200)
			return call{method: "POST", path: "/api/user/login/", body: map[string]any{"username": u.User.Username, "password": password}}
		}},
	},
	"logoutUser": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/logout/", token: f.Register(t, "logout").Token}
		}},
		{name: "no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/logout/"}
		}},
	},
	"getProfile": {
		{name: "ok with Bearer", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/user/profile/", auth: "Bearer " + f.user.Token}
		}},
		{name: "device token", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/user/profile/", token: f.MacLogin(t, f.mac).Token}
		}},
		{name: "unknown token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/user/profile/", token: strings.Repeat("ab", 16)}
		}},
		{name: "admin token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/user/profile/", token: f.admin}
		}},
	},
	"updateProfile": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: "/api/user/profile/", token: f.Register(t, "prof").Token, body: map[string]any{
				"nickname": "Ally", "gender": "female", "mbti": "infp", "interests": []string{"music", "hiking"}}}
		}},
		{name: "invalid mbti", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: "/api/user/profile/", token: f.user.Token, body: map[string]any{"mbti": "XXXX"}}
		}},
		{name: "no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: "/api/user/profile/", body: map[string]any{"nickname": "x"}}
		}},
	},
	"changePassword": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/password/", token: f.Register(t, "pw").Token, body: map[string]any{
				"old_password": password, "new_password": "staple-battery-horse"}}
		}},
		{name: "wrong old password", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/password/", token: f.Register(t, "pw").Token, body: map[string]any{
				"old_password": "not-the-password", "new_password": "staple-battery-horse"}}
		}},
		{name: "short new password", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/password/", token: f.user.Token, body: map[string]any{
				"old_password": password, "new_password": "short"}}
		}},
	},
	"macLogin": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/mac-login/", body: map[string]any{"mac_address": dashed(f.mac)}}
		}},
		{name: "unbound device", status: 404, code: 4010, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/mac-login/", body: map[string]any{"mac_address": newMAC()}}
		}},
		{name: "invalid MAC", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/mac-login/", body: map[string]any{"mac_address": "zz:bb:cc:00:00:01"}}
		}},
		{name: "empty body", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/user/mac-login/", body: `{}`}
		}},
	},
	"listDeviceTypes": {
		{name: "page", status: 200, setup: func(t *testing.T, f *fixture) call {
			f.deviceType(t)
			f.deviceType(t)
			return call{method: "GET", path: "/api/device/types/?page=1&page_size=1", token: f.user.Token}
		}},
		{name: "no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/types/"}
		}},
		{name: "page zero", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/types/?page=0", token: f.user.Token}
		}},
	},
	"listDevices": {
		{name: "page", status: 200, setup: func(t *testing.T, f *fixture) call {
			u := f.Register(t, "lister")
			f.Bind(t, u.Token, newMAC())
			f.bindTyped(t, u.Token, newMAC())
			return call{method: "GET", path: "/api/device/devices/?page=2&page_size=1", token: u.Token}
		}},
		{name: "page out of range", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/devices/?page=99", token: f.user.Token}
		}},
		{name: "no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/devices/"}
		}},
		{name: "page_size not a number", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/devices/?page_size=abc", token: f.user.Token}
		}},
	},
	"getDevice": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			u := f.Register(t, "getdev")
			id := f.bindTyped(t, u.Token, newMAC())
			return call{method: "GET", path: fmt.Sprintf("/api/device/devices/%d/", id), token: u.Token}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/devices/999999999/", token: f.user.Token}
		}},
		{name: "another user's device", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/device/devices/%d/", f.devID), token: f.Register(t, "nosy").Token}
		}},
		{name: "id not a number", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/devices/abc/", token: f.user.Token}
		}},
	},
	"sendDeviceMessage": {
		{name: "command", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/device/devices/%d/messages/", f.devID), token: f.user.Token, body: map[string]any{
				"type": "command", "message": map[string]any{"command_id": "c-1", "name": "play_sound", "params": map[string]any{"sound": "chime"}}}}
		}},
		{name: "invalid payload", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/device/devices/%d/messages/", f.devID), token: f.user.Token, body: map[string]any{
				"type": "weather", "message": map[string]any{"city": "Hangzhou"}}}
		}},
		{name: "type not pushable", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/device/devices/%d/messages/", f.devID), token: f.user.Token, body: map[string]any{
				"type": "connected", "message": map[string]any{}}}
		}},
		{name: "another user's device", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/device/devices/%d/messages/", f.devID), token: f.Register(t, "nosy").Token, body: map[string]any{
				"type": "chat", "message": map[string]any{"text": "hi"}}}
		}},
	},
	"bindDevice": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/bind/", token: f.Register(t, "binder").Token, body: map[string]any{
				"mac_address": newMAC(), "name": "Living room companion", "device_type_id": f.deviceType(t)}}
		}},
		{name: "invalid MAC", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/bind/", token: f.user.Token, body: map[string]any{"mac_address": "aa:bb:cc:00:00"}}
		}},
		{name: "unknown device type", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/bind/", token: f.user.Token, body: map[string]any{"mac_address": newMAC(), "device_type_id": 999999999}}
		}},
		{name: "no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/bind/", body: map[string]any{"mac_address": newMAC()}}
		}},
	},
	"unbindDevice": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			u := f.Register(t, "unbinder")
			mac := newMAC()
			f.Bind(t, u.Token, mac)
			return call{method: "POST", path: "/api/device/unbind/", token: u.Token, body: map[string]any{"mac_address": mac}}
		}},
		{name: "not bound to caller", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/unbind/", token: f.Register(t, "nosy").Token, body: map[string]any{"mac_address": f.mac}}
		}},
	},
	"adminLogin": {
		{name: "staff", status: 200, setup: func(t *testing.T, f *fixture) call {
			name := f.superuser(t)
			return call{method: "POST", path: "/api/v1/admin/login/", body: map[string]any{"username": name, "password": password}}
		}},
		{name: "not staff", status: 403, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/login/", body: map[string]any{"username": f.user.User.Username, "password": password}}
		}},
		{name: "wrong password", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/login/", body: map[string]any{"username": f.superuser(t), "password": "wrong-password"}}
		}},
	},
	"adminLogout": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/logout/", token: f.staff(t)}
		}},
		{name: "user token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/logout/", token: f.user.Token}
		}},
	},
	"adminListUsers": {
		{name: "search", status: 200, setup: func(t *testing.T, f *fixture) call {
			stem := "srch" + testenv.RandomID()
			f.Register(t, stem)
			f.Register(t, stem)
			return call{method: "GET", path: "/api/v1/admin/users/?page_size=1&search=" + strings.ToUpper(stem), token: f.admin}
		}},
		{name: "no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/users/"}
		}},
		{name: "page zero", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/users/?page=0", token: f.admin}
		}},
	},
	"adminGetUser": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/users/%d/", f.user.User.ID), token: f.admin}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/users/999999999/", token: f.admin}
		}},
	},
	"adminDisableUser": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/users/%d/disable/", f.Register(t, "victim").User.ID), token: f.admin}
		}},
		{name: "self", status: 403, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/users/%d/disable/", f.adminID), token: f.admin}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/users/999999999/disable/", token: f.admin}
		}},
	},
	"adminEnableUser": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			u := f.Register(t, "victim")
			f.must(t, "POST", fmt.Sprintf("/api/v1/admin/users/%d/disable/", u.User.ID), f.admin, nil, 200)
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/users/%d/enable/", u.User.ID), token: f.admin}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/users/999999999/enable/", token: f.admin}
		}},
	},
	"adminSendDeviceMessage": {
		{name: "notification", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/devices/%d/messages/", f.devID), token: f.admin, body: map[string]any{
				"type": "notification", "message": map[string]any{"title": "Maintenance", "body": "The service restarts at 02:00.", "level": "info"}}}
		}},
		{name: "unbound device", status: 409, setup: func(t *testing.T, f *fixture) call {
			u := f.Register(t, "unbinder")
			mac := newMAC()
			id := f.Bind(t, u.Token, mac)
			f.must(t, "POST", "/api/device/unbind/", u.Token, map[string]any{"mac_address": mac}, 200)
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/devices/%d/messages/", id), token: f.admin, body: map[string]any{
				"type": "chat", "message": map[string]any{"text": "hi"}}}
		}},
		{name: "unknown device", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/devices/999999999/messages/", token: f.admin, body: map[string]any{
				"type": "chat", "message": map[string]any{"text": "hi"}}}
		}},
		{name: "user token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/devices/%d/messages/", f.devID), token: f.user.Token, body: map[string]any{
				"type": "chat", "message": map[string]any{"text": "hi"}}}
		}},
	},
	"adminListDeviceTypes": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			f.deviceType(t)
			return call{method: "GET", path: "/api/v1/admin/device-types/", token: f.admin}
		}},
		{name: "user token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/device-types/", token: f.user.Token}
		}},
	},
	"adminCreateDeviceType": {
		{name: "created", status: 201, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/device-types/", token: f.admin, body: map[string]any{
				"name": testenv.Name("Companion"), "description": "First-generation desk companion"}}
		}},
		{name: "with a persona", status: 201, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/device-types/", token: f.admin, body: map[string]any{
				"name": testenv.Name("Companion"), "persona_name": "Mochi", "persona_description": "A playful cat.",
				"prompt_template": "You are {{.Persona.Name}}, talking with {{.User.Nickname}}.", "voice": "zh_female_cute"}}
		}},
		{name: "template does not parse", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/device-types/", token: f.admin, body: map[string]any{
				"name": testenv.Name("Companion"), "prompt_template": "{{.User.Nickname"}}
		}},
		{name: "duplicate name", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/device-types/", token: f.admin, body: map[string]any{"name": f.typeName(t, f.deviceType(t))}}
		}},
		{name: "empty name", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/device-types/", token: f.admin, body: map[string]any{"name": ""}}
		}},
		{name: "user token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/device-types/", token: f.user.Token, body: map[string]any{"name": "Nope"}}
		}},
	},
	"adminGetDeviceType": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/device-types/%d/", f.deviceType(t)), token: f.admin}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/device-types/999999999/", token: f.admin}
		}},
	},
	"adminUpdateDeviceType": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: fmt.Sprintf("/api/v1/admin/device-types/%d/", f.deviceType(t)), token: f.admin, body: map[string]any{
				"description": "Desk companion, 2024 edition"}}
		}},
		{name: "persona", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: fmt.Sprintf("/api/v1/admin/device-types/%d/", f.deviceType(t)), token: f.admin, body: map[string]any{
				"persona_name": "Mochi", "prompt_template": "{{.Persona.Name}} in {{.Device.Name}}", "voice": ""}}
		}},
		{name: "template with a missing field", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: fmt.Sprintf("/api/v1/admin/device-types/%d/", f.deviceType(t)), token: f.admin, body: map[string]any{
				"prompt_template": "{{.User.Age}}"}}
		}},
		{name: "duplicate name", status: 400, setup: func(t *testing.T, f *fixture) call {
			taken := f.typeName(t, f.deviceType(t))
			return call{method: "PATCH", path: fmt.Sprintf("/api/v1/admin/device-types/%d/", f.deviceType(t)), token: f.admin, body: map[string]any{"name": taken}}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: "/api/v1/admin/device-types/999999999/", token: f.admin, body: map[string]any{"name": "X"}}
		}},
	},
	"adminDeleteDeviceType": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/device-types/%d/", f.deviceType(t)), token: f.admin}
		}},
		{name: "in use", status: 409, setup: func(t *testing.T, f *fixture) call {
			typ := f.deviceType(t)
			f.must(t, "POST", "/api/device/bind/", f.Register(t, "typed").Token, map[string]any{"mac_address": newMAC(), "device_type_id": typ}, 200)
			return call{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/device-types/%d/", typ), token: f.admin}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "DELETE", path: "/api/v1/admin/device-types/999999999/", token: f.admin}
		}},
	},
	"adminListConversations": {
		{name: "all filters", status: 200, setup: func(t *testing.T, f *fixture) call {
			f.conversation(t, f.user.Token)
			today := time.Now().UTC().Format(time.DateOnly)
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/conversations/?user_id=%d&from=%s&to=%s&text=MORNING&page_size=1",
				f.user.User.ID, today, today), token: f.admin}
		}},
		{name: "device conversation", status: 200, setup: func(t *testing.T, f *fixture) call {
			f.conversation(t, f.MacLogin(t, f.mac).Token)
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/conversations/?device_id=%d", f.devID), token: f.admin}
		}},
		{name: "from after to", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/conversations/?from=2026-02-02&to=2026-02-01", token: f.admin}
		}},
		{name: "bad date", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/conversations/?from=yesterday", token: f.admin}
		}},
		{name: "no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/conversations/"}
		}},
		{name: "user token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/conversations/", token: f.user.Token}
		}},
		{name: "page past the last", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/conversations/?page=999999", token: f.admin}
		}},
	},
	"adminListConversationMessages": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/conversations/%d/messages/", f.conversation(t, f.user.Token)), token: f.admin}
		}},
		{name: "bad id", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/conversations/0/messages/", token: f.admin}
		}},
		{name: "user token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/conversations/%d/messages/", f.conversation(t, f.user.Token)), token: f.user.Token}
		}},
		{name: "unknown", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/conversations/999999999/messages/", token: f.admin}
		}},
	},
	"adminGetChatUsage": {
		{name: "default range", status: 200, setup: func(t *testing.T, f *fixture) call {
			f.conversation(t, f.user.Token)
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/users/%d/chat-usage/", f.user.User.ID), token: f.admin}
		}},
		{name: "range", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/users/%d/chat-usage/?from=2026-01-01&to=2026-01-31", f.user.User.ID), token: f.admin}
		}},
		{name: "range too long", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/users/%d/chat-usage/?from=2020-01-01&to=2026-01-31", f.user.User.ID), token: f.admin}
		}},
		{name: "user token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/users/%d/chat-usage/", f.user.User.ID), token: f.user.Token}
		}},
		{name: "unknown user", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/users/999999999/chat-usage/", token: f.admin}
		}},
	},
	"chatCompletion": {
		{name: "new conversation", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/chat/", token: f.user.Token, body: map[string]any{"message": "Hello"}}
		}},
		{name: "continue", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/chat/", token: f.user.Token,
				body: map[string]any{"message": "And then?", "conversation_id": f.conversation(t, f.user.Token)}}
		}},
		{name: "device token", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/chat/", token: f.MacLogin(t, f.mac).Token, body: map[string]any{"message": "From the device"}}
		}},
		{name: "blank message", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/chat/", token: f.user.Token, body: map[string]any{"message": "   "}}
		}},
		{name: "message too long", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/chat/", token: f.user.Token, body: map[string]any{"message": strings.Repeat("x", 4001)}}
		}},
		{name: "no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/chat/", body: map[string]any{"message": "Hello"}}
		}},
		{name: "another user's conversation", status: 404, setup: func(t *testing.T, f *fixture) call {
			other := f.Register(t, "chatother")
			return call{method: "POST", path: "/api/ai/chat/", token: other.Token,
				body: map[string]any{"message": "Hi", "conversation_id": f.conversation(t, f.user.Token)}}
		}},
		{name: "streamed, blank message", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/chat/", token: f.user.Token, body: map[string]any{"message": " ", "stream": true}}
		}},
		{name: "streamed, no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/chat/", body: map[string]any{"message": "Hello", "stream": true}}
		}},
	},
	"listConversations": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			f.conversation(t, f.user.Token)
			return call{method: "GET", path: "/api/ai/conversations/", token: f.user.Token}
		}},
		{name: "no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/ai/conversations/"}
		}},
		{name: "page past the last", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/ai/conversations/?page=999", token: f.user.Token}
		}},
	},
	"getConversation": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/ai/conversations/%d/", f.conversation(t, f.user.Token)), token: f.user.Token}
		}},
		{name: "another user's", status: 404, setup: func(t *testing.T, f *fixture) call {
			id := f.conversation(t, f.user.Token)
			return call{method: "GET", path: fmt.Sprintf("/api/ai/conversations/%d/", id), token: f.Register(t, "chatother").Token}
		}},
	},
	"renameConversation": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: fmt.Sprintf("/api/ai/conversations/%d/", f.conversation(t, f.user.Token)), token: f.user.Token,
				body: map[string]any{"title": "Morning plans"}}
		}},
		{name: "blank title", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: fmt.Sprintf("/api/ai/conversations/%d/", f.conversation(t, f.user.Token)), token: f.user.Token,
				body: map[string]any{"title": ""}}
		}},
		{name: "unknown", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: "/api/ai/conversations/999999/", token: f.user.Token, body: map[string]any{"title": "x"}}
		}},
	},
	"deleteConversation": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "DELETE", path: fmt.Sprintf("/api/ai/conversations/%d/", f.conversation(t, f.user.Token)), token: f.user.Token}
		}},
		{name: "another user's", status: 404, setup: func(t *testing.T, f *fixture) call {
			id := f.conversation(t, f.user.Token)
			return call{method: "DELETE", path: fmt.Sprintf("/api/ai/conversations/%d/", id), token: f.Register(t, "chatother").Token}
		}},
	},
	"listConversationMessages": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/ai/conversations/%d/messages/", f.conversation(t, f.user.Token)), token: f.user.Token}
		}},
		{name: "bad id", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/ai/conversations/0/messages/", token: f.user.Token}
		}},
		{name: "another user's", status: 404, setup: func(t *testing.T, f *fixture) call {
			id := f.conversation(t, f.user.Token)
			return call{method: "GET", path: fmt.Sprintf("/api/ai/conversations/%d/messages/", id), token: f.Register(t, "chatother").Token}
		}},
	}, "speechToText": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/speech-to-text/?sample_rate=16000", token: f.user.Token, body: string(speechPCM()),
				contentType: "application/octet-stream"}
		}},
		{name: "empty audio", status: 400, code: 4023, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/speech-to-text/", token: f.user.Token, body: string(make([]byte, 3200)),
				contentType: "application/octet-stream"}
		}},
		{name: "no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/speech-to-text/", body: string(speechPCM()), contentType: "application/octet-stream"}
		}},
	},
	"textToSpeech": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/text-to-speech/", token: f.user.Token, body: map[string]any{"text": "早上好", "format": "mp3"}}
		}},
		{name: "blank text", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/text-to-speech/", token: f.user.Token, body: map[string]any{"text": " "}}
		}},
	},
	"voiceChat": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/voice-chat/", token: f.user.Token, body: string(speechPCM()), contentType: "application/octet-stream"}
		}},
		{name: "silence", status: 400, code: 4023, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/ai/voice-chat/", token: f.user.Token, body: string(make([]byte, 3200)),
				contentType: "application/octet-stream"}
		}},
	},
	"getVoiceChatAudio": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			req, _ := http.NewRequest(http.MethodPost, f.URL+"/api/ai/voice-chat/", strings.NewReader(string(speechPCM())))
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("Authorization", "Token "+f.user.Token)
			res := f.Send(t, req)
			var d struct {
				AudioURL string `json:"audio_url"`
			}
			if res.Status != 200 || json.Unmarshal(res.Envelope.Data, &d) != nil {
				t.Fatalf("setup voice chat: %d %s", res.Status, res.Body)
			}
			return call{method: "GET", path: strings.TrimPrefix(d.AudioURL, f.URL), token: f.user.Token}
		}},
		{name: "unknown", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/ai/voice-chat/audio/00000000000000000000000000000000/", token: f.user.Token}
		}},
	},
}

// speechPCM is half a second of 16 kHz PCM that is not silence.
func speechPCM() []byte {
	b := make([]byte, 16000)
	for i := 1; i < len(b); i += 2 {
		b[i] = byte(i % 40)
	}
	return b
}

// TestRESTCoverage fails when an operation of openapi.yaml lacks a success
// case or an error case, or when a case names an operation the spec does
// not have. It needs no server, so it also guards `go test -run` subsets.
func TestRESTCoverage(t *testing.T) {
	t.Parallel()
	ops := operations(t, loadOpenAPI(t))
	for _, id := range sortedKeys(ops) {
		var ok, failed int
		for _, c := range restCases[id] {
			if c.success() {
				ok++
			} else if c.status >= 400 {
				failed++
			}
		}
		if _, streamed := streamedSuccess[id]; streamed {
			ok++
		}
		if ok == 0 || failed == 0 {
			t.Errorf("operation %s (%s %s) has %d success and %d error cases in internal/contract; every operation needs at least one of each",
				id, strings.ToUpper(ops[id].method), ops[id].path, ok, failed)
		}
	}
	for _, id := range sortedKeys(restCases) {
		if _, ok := ops[id]; !ok {
			t.Errorf("cases for operation %s, which openapi.yaml does not have", id)
		}
	}
}

// TestREST runs every case against the service and validates each
// response with kin-openapi against the strict copy of openapi.yaml.
func TestREST(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ops := operations(t, loadOpenAPI(t))
	for _, id := range sortedKeys(restCases) {
		for _, c := range restCases[id] {
			t.Run(id+"/"+c.name, func(t *testing.T) {
				x := f.run(t, c.setup(t, f))
				route, params := f.contract.route(t, x.req)
				if route.Operation.OperationID != id {
					t.Fatalf("%s %s is operation %s in openapi.yaml, but the case is filed under %s",
						x.req.Method, x.req.URL.RequestURI(), route.Operation.OperationID, id)
				}
				if _, ok := ops[id]; !ok {
					t.Fatalf("operation %s is not in openapi.yaml", id)
				}
				if c.success() {
					f.contract.validateRequest(t, x, route, params)
				}
				f.contract.validateResponse(t, x, route, params)
				if c.success() && isAudio(x.header.Get("Content-Type")) {
					if x.status != c.status || len(x.resp) == 0 {
						t.Errorf("got status %d with %d bytes of audio, want %d", x.status, len(x.resp), c.status)
					}
					return
				}
				if c.raw && c.success() {
					if x.status != c.status {
						t.Errorf("got status %d, want %d: %s", x.status, c.status, x.resp)
					}
					return
				}
				env := x.envelope(t)
				wantCode := c.code
				if wantCode == 0 {
					wantCode = c.status
				}
				if x.status != c.status || env.Code != wantCode {
					t.Errorf("got status %d code %d, want %d/%d: %s", x.status, env.Code, c.status, wantCode, x.resp)
				}
				if want := x.status >= 200 && x.status < 300; env.Success != want {
					t.Errorf("status %d with success=%t", x.status, env.Success)
				}
			})
		}
	}

	// The validator itself must catch drift: a real response with one
	// undocumented field, anywhere, fails; so does a wrong content type.
	t.Run("validator rejects drift", func(t *testing.T) {
		x := f.run(t, call{method: "GET", path: fmt.Sprintf("/api/device/devices/%d/", f.devID), token: f.user.Token})
		route, params := f.contract.route(t, x.req)
		if !f.contract.accepts(x, route, params) {
			t.Fatalf("unmodified response rejected: %s", x.resp)
		}
		for _, mutate := range []struct {
			name string
			fn   func(body map[string]any, h http.Header)
		}{
			{"field in envelope", func(b map[string]any, _ http.Header) { b["extra"] = 1 }},
			{"field in data", func(b map[string]any, _ http.Header) { b["data"].(map[string]any)["extra"] = "x" }},
			{"missing field in data", func(b map[string]any, _ http.Header) { delete(b["data"].(map[string]any), "status") }},
			{"wrong type", func(b map[string]any, _ http.Header) { b["code"] = "200" }},
			{"content type", func(_ map[string]any, h http.Header) { h.Set("Content-Type", "text/plain") }},
		} {
			var body map[string]any
			if err := json.Unmarshal(x.resp, &body); err != nil {
				t.Fatal(err)
			}
			bad := *x
			bad.header = x.header.Clone()
			mutate.fn(body, bad.header)
			bad.resp, _ = json.Marshal(body)
			if f.contract.accepts(&bad, route, params) {
				t.Errorf("%s: validator accepted %s", mutate.name, bad.resp)
			}
		}
	})
}

// fixture is a running service and the state most cases share.
type fixture struct {
	*testenv.Service
	accounts *account.Service
	contract *contract
	rtc      *rtctest.Fake // the fake Volcengine OpenAPI

	user    testenv.Login // a user holding one bound device
	mac     string        // that device's MAC (lower case, no separators)
	devID   int
	admin   string // an admin token
	adminID int
}

func newFixture(t *testing.T, opts ...fx.Option) *fixture {
	t.Helper()
	f := &fixture{}
	rtcOn, rtcFake := withRTC(t)
	f.rtc = rtcFake
	// Speech runs on a fake vendor, so its cases need no local engines.
	nls := aliyuntest.New(t)
	f.Service = testenv.Start(t, testenv.Embedded, append([]fx.Option{fx.Populate(&f.accounts), rtcOn, fx.Decorate(nls.Speech)}, opts...)...)
	f.contract = newContract(t, f.URL)
	f.user = f.Register(t, "owner")
	f.mac = newMAC()
	f.devID = f.Bind(t, f.user.Token, f.mac)
	login := f.adminLogin(t, f.superuser(t))
	f.admin, f.adminID = login.Token, login.User.ID
	return f
}

// request builds the HTTP request of a call.
func (f *fixture) request(t testing.TB, c call) (*http.Request, []byte) {
	t.Helper()
	var body []byte
	switch b := c.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(c.method, absolute(f.URL, c.path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	switch {
	case c.auth != "":
		req.Header.Set("Authorization", c.auth)
	case c.token != "":
		req.Header.Set("Authorization", "Token "+c.token)
	}
	return req, body
}

func (f *fixture) run(t testing.TB, c call) *exchange {
	t.Helper()
	req, body := f.request(t, c)
	return send(t, req, body)
}

// must is a setup request (not itself a contract case) that must succeed
// with the given status.
func (f *fixture) must(t testing.TB, method, path, token string, body any, status int) *testenv.Response {
	t.Helper()
	res := f.Do(t, method, path, token, body)
	if res.Status != status {
		t.Fatalf("setup %s %s: status %d, want %d: %s", method, path, res.Status, status, res.Body)
	}
	return res
}

// superuser creates a staff user with the account service (there is no
// public endpoint for it) and returns its name.
func (f *fixture) superuser(t testing.TB) string {
	t.Helper()
	name := testenv.Name("staff")
	if _, err := f.accounts.CreateSuperuser(context.Background(), name, password); err != nil {
		t.Fatal(err)
	}
	return name
}

// adminLogin logs in to the admin as the staff user.
func (f *fixture) adminLogin(t testing.TB, name string) api.AuthData {
	t.Helper()
	res, err := f.API(t, "").AdminLogin(t.Context(), &api.LoginRequest{Username: name, Password: password})
	return testenv.OK(t, res, err, 200).Data
}

// staff creates a staff user and returns a fresh admin token.
func (f *fixture) staff(t testing.TB) string {
	t.Helper()
	return f.adminLogin(t, f.superuser(t)).Token
}

// deviceType creates a device type and returns its id.
func (f *fixture) deviceType(t testing.TB) int {
	t.Helper()
	res, err := f.API(t, f.admin).AdminCreateDeviceType(t.Context(), &api.DeviceTypeCreate{
		Name: testenv.Name("Model"), Description: api.NewOptString("desc")})
	return testenv.OK(t, res, err, 201).Data.ID
}

func (f *fixture) typeName(t testing.TB, id int) string {
	t.Helper()
	res, err := f.API(t, f.admin).AdminGetDeviceType(t.Context(), api.AdminGetDeviceTypeParams{ID: id})
	return testenv.OK(t, res, err, 200).Data.Name
}

// bindTyped binds a new device with a type and a name, so its response
// carries a nested device type, and returns the device id.
func (f *fixture) bindTyped(t testing.TB, token, mac string) int {
	t.Helper()
	res, err := f.API(t, token).BindDevice(t.Context(), &api.BindRequest{
		MACAddress: api.MacAddress(mac), Name: api.NewOptString("Desk"), DeviceTypeID: api.NewOptInt(f.deviceType(t))})
	return testenv.OK(t, res, err, 200).Data.ID
}

// newMAC is a unique MAC address, lower case without separators.
func newMAC() string { return testenv.RandomID() }

// dashed writes a MAC as aa-bb-cc-00-00-01.
func dashed(mac string) string {
	var parts []string
	for i := 0; i+2 <= len(mac); i += 2 {
		parts = append(parts, mac[i:i+2])
	}
	return strings.Join(parts, "-")
}

// conversation starts a conversation of the token's user and returns its id.
func (f *fixture) conversation(t testing.TB, token string) int {
	t.Helper()
	var r struct {
		ConversationID int `json:"conversation_id"`
	}
	f.must(t, "POST", "/api/ai/chat/", token, map[string]any{"message": "Good morning!"}, 200).Decode(t, &r)
	return r.ConversationID
}
