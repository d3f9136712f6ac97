package command_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"

	"go.uber.org/fx"

	"paradise/internal/apperr"
	"paradise/internal/command"
	"paradise/internal/paging"
	"paradise/internal/testenv"
)

// TestCancel: a cancelled command is failed with the cancelled result,
// tells the owner's app, is not delivered on connect, and ignores a late
// answer; only pending commands can be cancelled.
func TestCancel(t *testing.T) {
	var svc *command.Service
	s := testenv.Start(t, testenv.Postgres, fx.Populate(&svc))
	alice := s.Register(t, "alice")
	const mac = "AA:BB:CC:40:00:11"
	id := s.Bind(t, alice.Token, mac)
	app := s.Dial(t, alice.Token)
	c := create(t, s, alice.Token, id, map[string]any{"name": "reboot"}, 201)
	keep := create(t, s, alice.Token, id, map[string]any{"name": "chime"}, 201)
	expectStatus(t, app, c.ID, "queued")
	expectStatus(t, app, keep.ID, "queued")

	before, after, err := svc.Cancel(t.Context(), id, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if before.Status != command.Queued || after.Status != command.Failed || after.Result["cancelled"] != true || after.CompletedAt == nil {
		t.Fatalf("cancel: before %+v, after %+v", before, after)
	}
	expectStatus(t, app, c.ID, "failed")
	if r := get(t, s, alice.Token, id, c.ID); r.Status != "failed" || r.Result["error"] != "Cancelled by an administrator." {
		t.Fatalf("cancelled command as the owner reads it: %+v", r)
	}

	// The device gets only the command still pending, and its late
	// answer to the cancelled one changes nothing.
	dev := s.Dial(t, s.MacLogin(t, mac).Token)
	expectCommand(t, dev, "chime")
	dev.ExpectNothing()
	ack(dev, strconv.Itoa(c.ID), true)
	if r := get(t, s, alice.Token, id, c.ID); r.Status != "failed" {
		t.Fatalf("after a late answer: %+v", r)
	}

	for _, tc := range []struct {
		name        string
		device, cmd int
		status      int
	}{
		{name: "already cancelled", device: id, cmd: c.ID, status: http.StatusConflict},
		{name: "unknown command", device: id, cmd: 999999999, status: http.StatusNotFound},
		{name: "another device's command", device: s.Bind(t, alice.Token, "AA:BB:CC:40:00:12"), cmd: keep.ID, status: http.StatusNotFound},
		{name: "unknown device", device: 999999999, cmd: keep.ID, status: http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := svc.Cancel(t.Context(), tc.device, tc.cmd)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Status != tc.status {
				t.Fatalf("cancel: %v, want status %d", err, tc.status)
			}
		})
	}
}

// TestAdminCreate: an administrator's command goes to the owner's device
// and tells the owner's app; the admin is its issuer; a device bound to
// nobody or unknown is refused; the admin list reads any device.
func TestAdminCreate(t *testing.T) {
	var svc *command.Service
	s := testenv.Start(t, testenv.Postgres, fx.Populate(&svc))
	alice, admin := s.Register(t, "alice"), s.Register(t, "admin")
	const mac = "AA:BB:CC:40:00:13"
	id := s.Bind(t, alice.Token, mac)
	app := s.Dial(t, alice.Token)
	dev := s.Dial(t, s.MacLogin(t, mac).Token)

	c, created, err := svc.AdminCreate(t.Context(), admin.User.ID, id, command.CreateInput{Name: "reboot"})
	if err != nil || !created {
		t.Fatalf("admin create: %+v %v %v", c, created, err)
	}
	if c.IssuerID != admin.User.ID || c.Status != command.Sent {
		t.Fatalf("admin command: %+v, want sent, issued by %d", c, admin.User.ID)
	}
	expectCommand(t, dev, "reboot")
	expectStatus(t, app, c.ID, "queued")
	expectStatus(t, app, c.ID, "sent")

	cmds, count, err := svc.AdminList(t.Context(), id, command.Sent, paging.Page{Number: 1, Size: 10})
	if err != nil || count != 1 || len(cmds) != 1 || cmds[0].ID != c.ID {
		t.Fatalf("admin list: %+v %d %v", cmds, count, err)
	}

	unbound := s.Bind(t, alice.Token, "AA:BB:CC:40:00:14")
	if r := s.Do(t, "POST", "/api/device/unbind/", alice.Token, map[string]any{"mac_address": "AA:BB:CC:40:00:14"}); r.Status != 200 {
		t.Fatalf("unbind: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct {
		name   string
		device int
		status int
	}{
		{name: "bound to nobody", device: unbound, status: http.StatusConflict},
		{name: "unknown device", device: 999999999, status: http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := svc.AdminCreate(t.Context(), admin.User.ID, tc.device, command.CreateInput{Name: "reboot"})
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Status != tc.status {
				t.Fatalf("admin create: %v, want status %d", err, tc.status)
			}
		})
	}
	if _, _, err := svc.AdminList(t.Context(), 999999999, "", paging.Page{Number: 1, Size: 10}); err == nil {
		t.Fatal("admin list of an unknown device: no error")
	}
}
