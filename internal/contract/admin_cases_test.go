package contract_test

import (
	"fmt"
	"testing"

	"paradise/internal/testenv"
)

// adminCases are the cases of the console's admin operations; init adds
// them to restCases.
var adminCases = map[string][]restCase{
	"adminCreateUser": {
		{name: "created", status: 201, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/users/", token: f.admin, body: map[string]any{
				"username": testenv.Name("made"), "password": password, "nickname": "Made", "is_staff": false}}
		}},
		{name: "short password", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/users/", token: f.admin, body: map[string]any{"username": testenv.Name("made"), "password": "short"}}
		}},
	},
	"adminUpdateUser": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: fmt.Sprintf("/api/v1/admin/users/%d/", f.Register(t, "edited").User.ID), token: f.admin,
				body: map[string]any{"nickname": "Ally", "favorability": 70, "is_staff": false, "interests": []string{"music"}}}
		}},
		{name: "self demotion", status: 403, code: 4040, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: fmt.Sprintf("/api/v1/admin/users/%d/", f.adminID), token: f.admin, body: map[string]any{"is_staff": false}}
		}},
		{name: "favorability out of range", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: fmt.Sprintf("/api/v1/admin/users/%d/", f.user.User.ID), token: f.admin, body: map[string]any{"favorability": 101}}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: "/api/v1/admin/users/999999999/", token: f.admin, body: map[string]any{"nickname": "x"}}
		}},
	},
	"adminResetPassword": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/users/%d/password/", f.Register(t, "reset").User.ID), token: f.admin,
				body: map[string]any{"password": "another-horse-battery"}}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/users/999999999/password/", token: f.admin, body: map[string]any{"password": "another-horse-battery"}}
		}},
	},
	"adminDeleteUser": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			u := f.Register(t, "doomed")
			f.Bind(t, u.Token, newMAC())
			return call{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/users/%d/", u.User.ID), token: f.admin}
		}},
		{name: "self", status: 403, code: 4040, setup: func(t *testing.T, f *fixture) call {
			return call{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/users/%d/", f.adminID), token: f.admin}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "DELETE", path: "/api/v1/admin/users/999999999/", token: f.admin}
		}},
	},
	"adminListDevices": {
		{name: "filtered", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/devices/?bound=true&ordering=-last_seen&page_size=5", token: f.admin}
		}},
		{name: "bad ordering", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/devices/?ordering=owner", token: f.admin}
		}},
	},
	"adminGetDevice": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/devices/%d/", f.devID), token: f.admin}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/devices/999999999/", token: f.admin}
		}},
	},
	"adminUpdateDevice": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: fmt.Sprintf("/api/v1/admin/devices/%d/", f.devID), token: f.admin,
				body: map[string]any{"name": "Kitchen companion", "device_type_id": nil}}
		}},
		{name: "unknown type", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: fmt.Sprintf("/api/v1/admin/devices/%d/", f.devID), token: f.admin, body: map[string]any{"device_type_id": 999999999}}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "PATCH", path: "/api/v1/admin/devices/999999999/", token: f.admin, body: map[string]any{"name": "x"}}
		}},
	},
	"adminUnbindDevice": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/devices/%d/unbind/", f.Bind(t, f.Register(t, "unb").Token, newMAC())), token: f.admin}
		}},
		{name: "not bound", status: 409, setup: func(t *testing.T, f *fixture) call {
			id := f.Bind(t, f.Register(t, "unb").Token, newMAC())
			f.must(t, "POST", fmt.Sprintf("/api/v1/admin/devices/%d/unbind/", id), f.admin, nil, 200)
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/devices/%d/unbind/", id), token: f.admin}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/devices/999999999/unbind/", token: f.admin}
		}},
	},
	"adminDisconnectDevice": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/devices/%d/disconnect/", f.devID), token: f.admin}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/devices/999999999/disconnect/", token: f.admin}
		}},
	},
	"adminListDeviceCommands": {
		{name: "pending", status: 200, setup: func(t *testing.T, f *fixture) call {
			f.must(t, "POST", fmt.Sprintf("/api/device/devices/%d/commands/", f.devID), f.user.Token, map[string]any{"name": "reboot"}, 201)
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/devices/%d/commands/?status=queued&page_size=5", f.devID), token: f.admin}
		}},
		{name: "unknown status", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/devices/%d/commands/?status=lost", f.devID), token: f.admin}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/devices/999999999/commands/", token: f.admin}
		}},
	},
	"adminCreateDeviceCommand": {
		{name: "queued", status: 201, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/devices/%d/commands/", f.devID), token: f.admin,
				body: map[string]any{"name": "play_sound", "params": map[string]any{"sound": "chime"}, "ttl_seconds": 60}}
		}},
		{name: "same idempotency key", status: 200, setup: func(t *testing.T, f *fixture) call {
			path := fmt.Sprintf("/api/v1/admin/devices/%d/commands/", f.devID)
			key := testenv.RandomID()
			f.must(t, "POST", path, f.admin, map[string]any{"name": "reboot", "idempotency_key": key}, 201)
			return call{method: "POST", path: path, token: f.admin, body: map[string]any{"name": "reboot", "idempotency_key": key}}
		}},
		{name: "bound to nobody", status: 409, setup: func(t *testing.T, f *fixture) call {
			id := f.Bind(t, f.Register(t, "unb").Token, newMAC())
			f.must(t, "POST", fmt.Sprintf("/api/v1/admin/devices/%d/unbind/", id), f.admin, nil, 200)
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/devices/%d/commands/", id), token: f.admin, body: map[string]any{"name": "reboot"}}
		}},
		{name: "no name", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/devices/%d/commands/", f.devID), token: f.admin, body: map[string]any{"ttl_seconds": 60}}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/devices/999999999/commands/", token: f.admin, body: map[string]any{"name": "reboot"}}
		}},
	},
	"adminGetDeviceCommand": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			id := f.adminCommand(t)
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/devices/%d/commands/%d/", f.devID, id), token: f.admin}
		}},
		{name: "unknown command", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/devices/%d/commands/999999999/", f.devID), token: f.admin}
		}},
	},
	"adminCancelDeviceCommand": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			id := f.adminCommand(t)
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/devices/%d/commands/%d/cancel/", f.devID, id), token: f.admin}
		}},
		{name: "no longer pending", status: 409, setup: func(t *testing.T, f *fixture) call {
			id := f.adminCommand(t)
			path := fmt.Sprintf("/api/v1/admin/devices/%d/commands/%d/cancel/", f.devID, id)
			f.must(t, "POST", path, f.admin, nil, 200)
			return call{method: "POST", path: path, token: f.admin}
		}},
		{name: "unknown command", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: fmt.Sprintf("/api/v1/admin/devices/%d/commands/999999999/cancel/", f.devID), token: f.admin}
		}},
	},
	"adminDeleteDevice": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "DELETE", path: fmt.Sprintf("/api/v1/admin/devices/%d/", f.Bind(t, f.Register(t, "del").Token, newMAC())), token: f.admin}
		}},
		{name: "unknown id", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "DELETE", path: "/api/v1/admin/devices/999999999/", token: f.admin}
		}},
	},
	"adminImportDevices": {
		{name: "report", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/devices/import/", token: f.admin,
				body: map[string]any{"csv": "mac_address,name\n" + newMAC() + ",Batch 7 #1\nnot-a-mac,Batch 7 #2\n"}}
		}},
		{name: "no mac column", status: 400, code: 4041, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/v1/admin/devices/import/", token: f.admin, body: map[string]any{"csv": "name\nx\n"}}
		}},
	},
	"adminListBindings": {
		{name: "of a device", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/bindings/?device_id=%d", f.devID), token: f.admin}
		}},
		{name: "of a user, ended", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/bindings/?user_id=%d&active=false", f.user.User.ID), token: f.admin}
		}},
		{name: "bad id", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/bindings/?device_id=0", token: f.admin}
		}},
	},
	"adminGetStats": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/stats/?days=7", token: f.admin}
		}},
		{name: "too many days", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/stats/?days=91", token: f.admin}
		}},
	},
	"adminStreamEvents": {
		// The success case is TestAdminEvents (an endless stream).
		{name: "user token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/events/", token: f.user.Token}
		}},
	},
	"adminListAuditLog": {
		{name: "filtered", status: 200, setup: func(t *testing.T, f *fixture) call {
			f.must(t, "POST", fmt.Sprintf("/api/v1/admin/users/%d/enable/", f.user.User.ID), f.admin, nil, 200)
			return call{method: "GET", path: fmt.Sprintf("/api/v1/admin/audit-log/?action=user.&target_type=user&target_id=%d", f.user.User.ID), token: f.admin}
		}},
		{name: "bad target type", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/v1/admin/audit-log/?target_type=planet", token: f.admin}
		}},
	},
}

// streamedSuccess names the operations whose success is an endless event
// stream, which TestREST cannot read to its end: their success case is a
// test of its own.
var streamedSuccess = map[string]string{"adminStreamEvents": "TestAdminEvents"}

// adminCommand queues a command for the fixture's device as the admin
// and returns its id.
func (f *fixture) adminCommand(t *testing.T) int {
	t.Helper()
	var c struct {
		ID int `json:"id"`
	}
	f.must(t, "POST", fmt.Sprintf("/api/v1/admin/devices/%d/commands/", f.devID), f.admin, map[string]any{"name": "reboot"}, 201).Decode(t, &c)
	return c.ID
}

func init() {
	for id, cases := range adminCases {
		restCases[id] = append(restCases[id], cases...)
	}
}
