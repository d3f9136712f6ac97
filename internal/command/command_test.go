package command_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"go.uber.org/fx"

	"paradise/internal/command"
	"paradise/internal/database"
	"paradise/internal/testenv"
)

type cmd struct {
	ID       int            `json:"id"`
	Status   string         `json:"status"`
	Attempts int            `json:"attempts"`
	Result   map[string]any `json:"result"`
}

func create(t *testing.T, s *testenv.Service, token string, deviceID int, body map[string]any, status int) cmd {
	t.Helper()
	res := s.Do(t, "POST", "/api/device/devices/"+strconv.Itoa(deviceID)+"/commands/", token, body)
	if res.Status != status {
		t.Fatalf("create command: %d %s, want %d", res.Status, res.Body, status)
	}
	var c cmd
	res.Decode(t, &c)
	return c
}

func get(t *testing.T, s *testenv.Service, token string, deviceID, id int) cmd {
	t.Helper()
	res := s.Do(t, "GET", "/api/device/devices/"+strconv.Itoa(deviceID)+"/commands/"+strconv.Itoa(id)+"/", token, nil)
	if res.Status != 200 {
		t.Fatalf("get command: %d %s", res.Status, res.Body)
	}
	var c cmd
	res.Decode(t, &c)
	return c
}

// expectCommand reads a command frame and returns its command_id.
func expectCommand(t *testing.T, c *testenv.WS, name string) string {
	t.Helper()
	f := c.Expect("command")
	var p struct {
		CommandID string `json:"command_id"`
		Name      string `json:"name"`
	}
	if err := json.Unmarshal(f.Message, &p); err != nil {
		t.Fatal(err)
	}
	if p.Name != name {
		t.Fatalf("command %s, want %s", p.Name, name)
	}
	return p.CommandID
}

func expectStatus(t *testing.T, c *testenv.WS, id int, status string) {
	t.Helper()
	f := c.Expect("command_status")
	var p struct {
		CommandID string `json:"command_id"`
		Status    string `json:"status"`
	}
	if err := json.Unmarshal(f.Message, &p); err != nil {
		t.Fatal(err)
	}
	if p.CommandID != strconv.Itoa(id) || p.Status != status {
		t.Fatalf("command_status %s, want command %d %s", f.Raw, id, status)
	}
}

func ack(c *testenv.WS, id string, ok bool) {
	msg := map[string]any{"command_id": id, "ok": ok}
	if ok {
		msg["result"] = map[string]any{"level": 40}
	} else {
		msg["error"] = "speaker busy"
	}
	c.Send(map[string]any{"type": "command_result", "message": msg})
}

// TestOnlineDeliveryAcrossInstances: a command created on one instance
// reaches the device on another at once; its answer is recorded and the
// app sees every state.
func TestOnlineDeliveryAcrossInstances(t *testing.T) {
	cfg := testenv.Config(t, testenv.Postgres)
	a := testenv.StartWith(t, cfg)
	b := testenv.StartWith(t, cfg)
	alice := a.Register(t, "alice")
	const mac = "AA:BB:CC:40:00:01"
	id := a.Bind(t, alice.Token, mac)
	dev := b.Dial(t, b.MacLogin(t, mac).Token)
	// A round trip: the session reads frames only once its join hooks
	// (delivery of pending commands) are done, so a command created now
	// is not also delivered by them (at least once: it could be).
	dev.ExpectNothing()
	app := a.Dial(t, alice.Token)

	c := create(t, a, alice.Token, id, map[string]any{"name": "set_volume", "params": map[string]any{"level": 40}}, 201)
	if c.Status != "sent" || c.Attempts != 1 {
		t.Fatalf("created online: %+v, want sent after 1 attempt", c)
	}
	got := expectCommand(t, dev, "set_volume")
	if got != strconv.Itoa(c.ID) {
		t.Fatalf("command_id %s, want %d", got, c.ID)
	}
	expectStatus(t, app, c.ID, "queued")
	expectStatus(t, app, c.ID, "sent")
	ack(dev, got, true)
	app.Expect("command_result") // relayed as before
	expectStatus(t, app, c.ID, "acknowledged")
	if r := get(t, a, alice.Token, id, c.ID); r.Status != "acknowledged" || r.Result["level"] != float64(40) {
		t.Fatalf("after the answer: %+v", r)
	}
	// A repeated answer changes nothing; the device got no status frames.
	ack(dev, got, false)
	app.Expect("command_result")
	dev.ExpectNothing()
	if r := get(t, b, alice.Token, id, c.ID); r.Status != "acknowledged" {
		t.Fatalf("after a repeated answer: %+v", r)
	}

	// A failed command.
	c2 := create(t, a, alice.Token, id, map[string]any{"name": "play_sound"}, 201)
	ack(dev, expectCommand(t, dev, "play_sound"), false)
	expectStatus(t, app, c2.ID, "queued")
	expectStatus(t, app, c2.ID, "sent")
	app.Expect("command_result")
	expectStatus(t, app, c2.ID, "failed")
	if r := get(t, a, alice.Token, id, c2.ID); r.Status != "failed" || r.Result["error"] != "speaker busy" {
		t.Fatalf("failed command: %+v", r)
	}
}

// TestOfflineQueue: commands queued while the device is offline arrive on
// connect, in order; they come again on every reconnect until answered;
// they survive every instance restarting; idempotency keys and other
// users' devices.
func TestOfflineQueue(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, backend testenv.Backend) {
		cfg := testenv.Config(t, backend)
		a := testenv.StartWith(t, cfg)
		alice, bob := a.Register(t, "alice"), a.Register(t, "bob")
		const mac = "AA:BB:CC:40:00:02"
		id := a.Bind(t, alice.Token, mac)
		deviceToken := a.MacLogin(t, mac).Token

		var ids []int
		for _, name := range []string{"one", "two", "three"} {
			c := create(t, a, alice.Token, id, map[string]any{"name": name}, 201)
			if c.Status != "queued" {
				t.Fatalf("offline: %+v, want queued", c)
			}
			ids = append(ids, c.ID)
		}
		// Idempotency key: the second request returns the first command.
		k1 := create(t, a, alice.Token, id, map[string]any{"name": "four", "idempotency_key": "k-1"}, 201)
		k2 := create(t, a, alice.Token, id, map[string]any{"name": "four", "idempotency_key": "k-1"}, 200)
		if k1.ID != k2.ID {
			t.Fatalf("idempotency key: %d then %d", k1.ID, k2.ID)
		}
		ids = append(ids, k1.ID)
		// Bob may not command or read alice's device.
		if r := a.Do(t, "POST", "/api/device/devices/"+strconv.Itoa(id)+"/commands/", bob.Token, map[string]any{"name": "x"}); r.Status != 404 {
			t.Fatalf("bob's command: %d %s", r.Status, r.Body)
		}
		if r := a.Do(t, "GET", "/api/device/devices/"+strconv.Itoa(id)+"/commands/", bob.Token, nil); r.Status != 404 {
			t.Fatalf("bob's list: %d %s", r.Status, r.Body)
		}

		// Every instance restarts; the queue is still there.
		a.Stop()
		a = testenv.StartWith(t, cfg)
		// The embedded default's Redis is in the process: its tokens are
		// gone, the database's queue is not.
		deviceToken = a.MacLogin(t, mac).Token
		var relogin testenv.Login
		a.Do(t, "POST", "/api/user/login/", "", map[string]any{"username": alice.User.Username, "password": testenv.Password}).Decode(t, &relogin)
		alice.Token = relogin.Token

		dev := a.Dial(t, deviceToken)
		names := []string{"one", "two", "three", "four"}
		for i, name := range names {
			if got := expectCommand(t, dev, name); got != strconv.Itoa(ids[i]) {
				t.Fatalf("command %d: id %s, want %d", i, got, ids[i])
			}
		}
		dev.ExpectNothing()
		// Answer the first two only, then drop the connection.
		ack(dev, strconv.Itoa(ids[0]), true)
		ack(dev, strconv.Itoa(ids[1]), true)
		dev.ExpectNothing()
		dev.Conn.CloseNow()

		dev = a.Dial(t, deviceToken)
		for i, name := range names[2:] {
			if got := expectCommand(t, dev, name); got != strconv.Itoa(ids[2+i]) {
				t.Fatalf("re-delivery %d: id %s", i, got)
			}
		}
		dev.ExpectNothing()
		if r := get(t, a, alice.Token, id, ids[2]); r.Status != "sent" || r.Attempts != 2 {
			t.Fatalf("re-delivered command: %+v, want sent after 2 attempts", r)
		}
		res := a.Do(t, "GET", "/api/device/devices/"+strconv.Itoa(id)+"/commands/?status=acknowledged", alice.Token, nil)
		var page struct {
			Count int `json:"count"`
		}
		res.Decode(t, &page)
		if page.Count != 2 {
			t.Fatalf("acknowledged commands: %d, want 2", page.Count)
		}
	})
}

// TestExpiry: a command past its time to live is expired by the sweep
// (once, whichever instance runs it), tells the app, and is not
// delivered any more.
func TestExpiry(t *testing.T) {
	cfg := testenv.Config(t, testenv.Postgres)
	var (
		svcA, svcB *command.Service
		db         *database.DB
	)
	a := testenv.StartWith(t, cfg, fx.Populate(&svcA, &db))
	b := testenv.StartWith(t, cfg, fx.Populate(&svcB))
	alice := a.Register(t, "alice")
	const mac = "AA:BB:CC:40:00:03"
	id := a.Bind(t, alice.Token, mac)
	deviceToken := a.MacLogin(t, mac).Token
	app := a.Dial(t, alice.Token)
	c := create(t, a, alice.Token, id, map[string]any{"name": "soon", "ttl_seconds": 3600}, 201)
	keep := create(t, a, alice.Token, id, map[string]any{"name": "later", "ttl_seconds": 3600}, 201)
	expectStatus(t, app, c.ID, "queued")
	expectStatus(t, app, keep.ID, "queued")
	// Its time runs out (moved into the past rather than waited for).
	if _, err := db.SQL.ExecContext(t.Context(), db.Rebind("UPDATE device_commands SET expires_at = $1 WHERE id = $2"),
		time.Now().Add(-time.Second), c.ID); err != nil {
		t.Fatal(err)
	}
	n1, err := svcB.Expire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n2, err := svcA.Expire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n1+n2 != 1 {
		t.Fatalf("expired %d and %d, want one in all", n1, n2)
	}
	expectStatus(t, app, c.ID, "expired")
	if r := get(t, a, alice.Token, id, c.ID); r.Status != "expired" {
		t.Fatalf("after expiry: %+v", r)
	}
	dev := b.Dial(t, deviceToken)
	expectCommand(t, dev, "later")
	dev.ExpectNothing()
}

// TestAnswersInBatches: answers sent back to back are recorded together
// and each tells the app; another device's answer for a command changes
// nothing; a device's result reaches the owner's apps but not the owner's
// other devices.
func TestAnswersInBatches(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, backend testenv.Backend) {
		s := testenv.StartWith(t, testenv.Config(t, backend))
		alice := s.Register(t, "alice")
		const mac, other = "AA:BB:CC:40:00:04", "AA:BB:CC:40:00:05"
		id := s.Bind(t, alice.Token, mac)
		s.Bind(t, alice.Token, other)
		dev := s.Dial(t, s.MacLogin(t, mac).Token)
		sibling := s.Dial(t, s.MacLogin(t, other).Token)
		dev.ExpectNothing() // join hooks done (see TestOnlineDeliveryAcrossInstances)
		app := s.Dial(t, alice.Token)

		var ids []string
		for _, name := range []string{"one", "two", "three"} {
			c := create(t, s, alice.Token, id, map[string]any{"name": name}, 201)
			ids = append(ids, expectCommand(t, dev, name))
			expectStatus(t, app, c.ID, "queued")
			expectStatus(t, app, c.ID, "sent")
		}
		// The sibling answers a command that is not its own: nothing.
		ack(sibling, ids[0], false)
		app.Expect("command_result")
		sibling.ExpectNothing()
		// The device answers all three at once; one fails.
		ack(dev, ids[0], true)
		ack(dev, ids[1], false)
		ack(dev, ids[2], true)
		want := map[string]string{ids[0]: "acknowledged", ids[1]: "failed", ids[2]: "acknowledged"}
		got := map[string]string{}
		for len(got) < 3 {
			f, err := app.TryRead(2 * time.Second)
			if err != nil {
				t.Fatalf("status frames %v, want %v: %v", got, want, err)
			}
			if f.Type == "command_result" {
				continue
			}
			if f.Type != "command_status" {
				t.Fatalf("app: unexpected %s %s", f.Type, f.Raw)
			}
			var p struct {
				CommandID string `json:"command_id"`
				Status    string `json:"status"`
			}
			if err := json.Unmarshal(f.Message, &p); err != nil {
				t.Fatal(err)
			}
			got[p.CommandID] = p.Status
		}
		for cid, status := range want {
			if got[cid] != status {
				t.Fatalf("status frames %v, want %v", got, want)
			}
			n, _ := strconv.Atoi(cid)
			if r := get(t, s, alice.Token, id, n); r.Status != status {
				t.Fatalf("command %s stored as %+v, want %s", cid, r, status)
			}
		}
		// The sibling device saw none of the results.
		sibling.ExpectNothing()
	})
}

// TestAnswersSurviveShutdown: answers the server has read when it is
// stopped are recorded, whether their batch was applied before the stop
// or by the stop's drain of the queue.
func TestAnswersSurviveShutdown(t *testing.T) {
	cfg := testenv.Config(t, testenv.Postgres)
	a := testenv.StartWith(t, cfg)
	alice := a.Register(t, "alice")
	const mac = "AA:BB:CC:40:00:06"
	id := a.Bind(t, alice.Token, mac)
	dev := a.Dial(t, a.MacLogin(t, mac).Token)
	dev.ExpectNothing()
	var ids []string
	for _, name := range []string{"one", "two"} {
		create(t, a, alice.Token, id, map[string]any{"name": name}, 201)
		ids = append(ids, expectCommand(t, dev, name))
	}
	ack(dev, ids[0], true)
	ack(dev, ids[1], false)
	dev.ExpectNothing() // both answers read (frames are handled in order)
	a.Stop()

	b := testenv.StartWith(t, cfg)
	for i, want := range []string{"acknowledged", "failed"} {
		n, _ := strconv.Atoi(ids[i])
		if r := get(t, b, alice.Token, id, n); r.Status != want {
			t.Fatalf("command %s after the restart: %+v, want %s", ids[i], r, want)
		}
	}
}
