package rtc_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"paradise/gen/api"
	"paradise/internal/config"
	"paradise/internal/rtc"
	"paradise/internal/rtc/rtctest"
	"paradise/internal/testenv"
)

const (
	testAppID     = "0123456789abcdef01234567"
	testAppKey    = "0123456789abcdef0123456789abcdef"
	testAccessKey = "AKLTtestaccesskey"
	testSecretKey = "dGVzdHNlY3JldGtleQ=="
)

// rtcConfig is a configuration with RTC on, the agent talking to fake and
// (CustomLLM) calling back on a port chosen now.
func rtcConfig(t *testing.T, b testenv.Backend, fake *rtctest.Fake) config.Config {
	t.Helper()
	cfg := testenv.Config(t, b)
	cfg.RTC.AppID, cfg.RTC.AppKey = testAppID, testAppKey
	if fake != nil {
		cfg.RTC.AccessKey, cfg.RTC.SecretKey, cfg.RTC.OpenAPIURL = testAccessKey, testSecretKey, fake.URL
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Addr = ln.Addr().String()
		ln.Close()
		cfg.RTC.PublicBaseURL = "http://" + cfg.Addr
		cfg.RTC.WelcomeMessage = "Hi!"
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newFake(t *testing.T) *rtctest.Fake {
	return rtctest.New(t, testAccessKey, testSecretKey, "cn-north-1")
}

// owner registers a user and binds a new device; it returns the user's
// login and the device's (MAC login).
func owner(t *testing.T, s *testenv.Service) (user, dev testenv.Login, mac string) {
	t.Helper()
	user = s.Register(t, "rtc")
	mac = randomMAC()
	s.Bind(t, user.Token, mac)
	return user, s.MacLogin(t, mac), mac
}

func randomMAC() string {
	id := testenv.RandomID()
	return strings.ToUpper(id[0:2] + ":" + id[2:4] + ":" + id[4:6] + ":" + id[6:8] + ":" + id[8:10] + ":" + id[10:12])
}

func checkToken(t *testing.T, tok api.RtcToken, room, user string) {
	t.Helper()
	if tok.RoomID != room || tok.UserID != user || tok.AppID != testAppID {
		t.Fatalf("token for %s/%s in app %s, want %s/%s", tok.UserID, tok.RoomID, tok.AppID, user, room)
	}
	p, err := rtc.ParseToken(tok.Token)
	if err != nil {
		t.Fatalf("ParseToken: %v", err)
	}
	if err := p.Verify(testAppID, testAppKey, time.Now()); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.RoomID != room || p.UserID != user || int64(p.ExpireAt) != tok.ExpiresAt.Unix() ||
		!p.Allows(rtc.PrivPublishStream, time.Now()) || !p.Allows(rtc.PrivSubscribeStream, time.Now()) {
		t.Fatalf("token content %+v does not match %+v", p.AccessToken, tok)
	}
}

// TestTokens checks that a device's token and its owner's app token name
// the same room, that repeated calls hit the cache, and who may ask.
func TestTokens(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		s := testenv.StartWith(t, rtcConfig(t, b, nil))
		user, dev, mac := owner(t, s)
		ctx := t.Context()
		room := rtc.RoomID(user.User.ID)

		devRes, err := s.API(t, dev.Token).GetRtcTokenByMac(ctx, api.GetRtcTokenByMacParams{MACAddress: api.MacAddress(strings.ToLower(mac))})
		testenv.OK(t, devRes, err, http.StatusOK)
		checkToken(t, devRes.Data, room, rtc.DeviceUserID(mac))
		appRes, err := s.API(t, user.Token).GetRtcToken(ctx)
		testenv.OK(t, appRes, err, http.StatusOK)
		checkToken(t, appRes.Data, room, rtc.AppUserID(user.User.ID))

		again, err := s.API(t, dev.Token).GetRtcTokenByMac(ctx, api.GetRtcTokenByMacParams{MACAddress: api.MacAddress(mac)})
		testenv.OK(t, again, err, http.StatusOK)
		if again.Data.Token != devRes.Data.Token {
			t.Fatal("a second call issued a new token; want the cached one")
		}
		ttl := s.Redis.TTL(ctx, s.Key("rtc_room:"+itoa(user.User.ID)+":"+rtc.DeviceUserID(mac))).Val()
		if ttl <= 0 || ttl > s.Config.RTC.TokenTTL-s.Config.RTC.TokenRefresh {
			t.Fatalf("cache TTL %v, want (0, %v]", ttl, s.Config.RTC.TokenTTL-s.Config.RTC.TokenRefresh)
		}

		other := randomMAC()
		_, err = s.API(t, dev.Token).GetRtcTokenByMac(ctx, api.GetRtcTokenByMacParams{MACAddress: api.MacAddress(other)})
		testenv.ExpectAPIError(t, err, http.StatusForbidden, 4034)
		_, err = s.API(t, user.Token).GetRtcTokenByMac(ctx, api.GetRtcTokenByMacParams{MACAddress: api.MacAddress(mac)})
		testenv.ExpectAPIError(t, err, http.StatusForbidden, 4034)
		res := s.Do(t, http.MethodGet, "/api/device/rtc-token/get_by_mac/?mac_address="+mac, "", nil)
		if res.Status != http.StatusUnauthorized {
			t.Fatalf("no token, legacy mode off: status %d, want 401", res.Status)
		}
		_, err = s.API(t, dev.Token).GetRtcTokenByMac(ctx, api.GetRtcTokenByMacParams{MACAddress: "not-a-mac"})
		testenv.ExpectAPIError(t, err, http.StatusBadRequest, http.StatusBadRequest)
	})
}

// TestTokenCacheExpiry checks that a cached token close to its expiry is
// not handed out again.
func TestTokenCacheExpiry(t *testing.T) {
	s := testenv.StartWith(t, rtcConfig(t, testenv.Postgres, nil))
	user, dev, mac := owner(t, s)
	ctx := t.Context()
	first, err := s.API(t, dev.Token).GetRtcTokenByMac(ctx, api.GetRtcTokenByMacParams{MACAddress: api.MacAddress(mac)})
	testenv.OK(t, first, err, http.StatusOK)
	key := s.Key("rtc_room:" + itoa(user.User.ID) + ":" + rtc.DeviceUserID(mac))
	// The cached token as it would be 5 minutes before its expiry, inside
	// the 10 minute refresh margin.
	stale, _ := json.Marshal(map[string]any{"app_id": testAppID, "room_id": first.Data.RoomID, "user_id": first.Data.UserID,
		"token": first.Data.Token, "expires_at": time.Now().Add(5 * time.Minute)})
	if err := s.Redis.Set(ctx, key, stale, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	second, err := s.API(t, dev.Token).GetRtcTokenByMac(ctx, api.GetRtcTokenByMacParams{MACAddress: api.MacAddress(mac)})
	testenv.OK(t, second, err, http.StatusOK)
	if second.Data.Token == first.Data.Token {
		t.Fatal("a token about to expire was handed out again")
	}
	checkToken(t, second.Data, rtc.RoomID(user.User.ID), rtc.DeviceUserID(mac))
}

// TestLegacyMode checks the unauthenticated get_by_mac: off by default,
// and when on, limited per MAC and per IP; an unbound MAC gets 4010.
func TestLegacyMode(t *testing.T) {
	cfg := rtcConfig(t, testenv.Postgres, nil)
	cfg.RTC.LegacyGetByMAC, cfg.RTC.LegacyPerMAC, cfg.RTC.LegacyPerIP = true, 2, 4
	s := testenv.StartWith(t, cfg)
	user, _, mac := owner(t, s)
	get := func(mac string) *testenv.Response {
		return s.Do(t, http.MethodGet, "/api/device/rtc-token/get_by_mac/?mac_address="+mac, "", nil)
	}
	for i := range 2 {
		res := get(mac)
		if res.Status != http.StatusOK {
			t.Fatalf("call %d: status %d, want 200", i, res.Status)
		}
		var tok api.RtcToken
		res.Decode(t, &tok)
		checkToken(t, tok, rtc.RoomID(user.User.ID), rtc.DeviceUserID(mac))
	}
	expect := func(res *testenv.Response, status, code int) {
		t.Helper()
		if res.Status != status || res.Code != code {
			t.Fatalf("status %d code %d, want %d/%d", res.Status, res.Code, status, code)
		}
	}
	expect(get(mac), http.StatusTooManyRequests, 4291)  // third call for the MAC
	expect(get(randomMAC()), http.StatusNotFound, 4010) // fourth call from the IP: unbound
	expect(get(randomMAC()), http.StatusTooManyRequests, 4291)
}

// TestRebindNeverLeaksOldRoom checks that after a device changes hands it
// gets the new owner's room, never the old one's token.
func TestRebindNeverLeaksOldRoom(t *testing.T) {
	cfg := rtcConfig(t, testenv.Postgres, nil)
	cfg.RTC.LegacyGetByMAC = true
	s := testenv.StartWith(t, cfg)
	ctx := t.Context()
	oldOwner, dev, mac := owner(t, s)
	before, err := s.API(t, dev.Token).GetRtcTokenByMac(ctx, api.GetRtcTokenByMacParams{MACAddress: api.MacAddress(mac)})
	testenv.OK(t, before, err, http.StatusOK)

	newOwner := s.Register(t, "rtc_new")
	s.Bind(t, newOwner.Token, mac)
	_, err = s.API(t, dev.Token).GetRtcTokenByMac(ctx, api.GetRtcTokenByMacParams{MACAddress: api.MacAddress(mac)})
	testenv.ExpectAPIError(t, err, http.StatusUnauthorized, http.StatusUnauthorized)

	dev = s.MacLogin(t, mac)
	after, err := s.API(t, dev.Token).GetRtcTokenByMac(ctx, api.GetRtcTokenByMacParams{MACAddress: api.MacAddress(mac)})
	testenv.OK(t, after, err, http.StatusOK)
	checkToken(t, after.Data, rtc.RoomID(newOwner.User.ID), rtc.DeviceUserID(mac))
	if after.Data.Token == before.Data.Token || after.Data.RoomID == rtc.RoomID(oldOwner.User.ID) {
		t.Fatal("the device got its old owner's room")
	}
	res := s.Do(t, http.MethodGet, "/api/device/rtc-token/get_by_mac/?mac_address="+mac, "", nil)
	var tok api.RtcToken
	res.Decode(t, &tok)
	if tok.Token != after.Data.Token {
		t.Fatal("the legacy call did not return the new owner's cached token")
	}
}

// TestNotConfigured checks the answer when RTC is off.
func TestNotConfigured(t *testing.T) {
	s := testenv.Start(t, testenv.Postgres)
	user, dev, mac := owner(t, s)
	_, err := s.API(t, dev.Token).GetRtcTokenByMac(t.Context(), api.GetRtcTokenByMacParams{MACAddress: api.MacAddress(mac)})
	testenv.ExpectAPIError(t, err, http.StatusServiceUnavailable, 5050)
	_, err = s.API(t, user.Token).StartRtcAgent(t.Context(), &api.MacRequest{MACAddress: api.MacAddress(mac)})
	testenv.ExpectAPIError(t, err, http.StatusServiceUnavailable, 5050)
}

func itoa(n int) string { return strconv.Itoa(n) }

// do sends a POST and checks its status and envelope code.
func do(t *testing.T, s *testenv.Service, path, token string, body any, status, code int) {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	res := s.Do(t, http.MethodPost, path, token, body)
	if res.Status != status || res.Code != code {
		t.Fatalf("POST %s: status %d code %d (%s), want %d/%d", path, res.Status, res.Code, res.Message, status, code)
	}
}

// agentState reads rtc_agent_state frames until one in state.
func agentState(t *testing.T, c *testenv.WS, state string) map[string]any {
	t.Helper()
	for {
		f := c.Read()
		if f.Type != "rtc_agent_state" {
			continue
		}
		var p map[string]any
		if err := json.Unmarshal(f.Message, &p); err != nil {
			t.Fatal(err)
		}
		if p["state"] == state {
			return p
		}
	}
}

// TestAgentLifecycle starts, drives and stops an agent through REST, and
// plays the agent calling its CustomLLM endpoint.
func TestAgentLifecycle(t *testing.T) {
	fake := newFake(t)
	s := testenv.StartWith(t, rtcConfig(t, testenv.Postgres, fake))
	ctx := t.Context()
	user, _, mac := owner(t, s)
	app := s.Dial(t, user.Token)
	client := s.API(t, user.Token)

	_, err := client.GetRtcAgent(ctx)
	testenv.ExpectAPIError(t, err, http.StatusNotFound, 4032)
	started, err := client.StartRtcAgent(ctx, &api.MacRequest{MACAddress: api.MacAddress(mac)})
	testenv.OK(t, started, err, http.StatusOK)
	room := rtc.RoomID(user.User.ID)
	if started.Data.RoomID != room || started.Data.State != api.RtcAgentStateRunning || started.Data.Mode != api.RtcAgentModeCustomLLM {
		t.Fatalf("started %+v", started.Data)
	}
	task := started.Data.TaskID
	p := agentState(t, app, "running")
	if p["task_id"] != task || p["room_id"] != room || p["mac_address"] != mac {
		t.Fatalf("rtc_agent_state %v", p)
	}
	body, ok := fake.Task(task)
	if !ok {
		t.Fatal("no StartVoiceChat for the task")
	}
	agentCfg := body["AgentConfig"].(map[string]any)
	llm := fake.LLMConfig(task)
	if body["AppId"] != testAppID || body["RoomId"] != room ||
		agentCfg["TargetUserId"].([]any)[0] != rtc.DeviceUserID(mac) || agentCfg["WelcomeMessage"] != "Hi!" ||
		llm["Mode"] != "CustomLLM" || llm["Url"] != s.Config.RTC.PublicBaseURL+rtc.LLMPath(task) || len(llm["APIKey"].(string)) < 32 {
		t.Fatalf("StartVoiceChat body %v", body)
	}

	again, err := client.StartRtcAgent(ctx, &api.MacRequest{MACAddress: api.MacAddress(mac)})
	testenv.OK(t, again, err, http.StatusOK)
	if again.Data.TaskID != task || len(fake.Calls("StartVoiceChat")) != 1 {
		t.Fatalf("a second start started another agent (%s, %d starts)", again.Data.TaskID, len(fake.Calls("StartVoiceChat")))
	}

	// EmptyEnvelope's data is null, which the generated client cannot
	// decode: these calls go through Do.
	do(t, s, "/api/device/rtc-agent/speak/", user.Token, map[string]any{"text": "Time for your medicine!", "when": "after"}, http.StatusOK, http.StatusOK)
	do(t, s, "/api/device/rtc-agent/interrupt/", user.Token, nil, http.StatusOK, http.StatusOK)
	updates := fake.Calls("UpdateVoiceChat")
	if len(updates) != 2 || updates[0].Body["Command"] != "ExternalTextToSpeech" || updates[0].Body["Message"] != "Time for your medicine!" ||
		updates[0].Body["InterruptMode"] != float64(2) || updates[1].Body["Command"] != "Interrupt" || updates[1].Body["TaskId"] != task {
		t.Fatalf("UpdateVoiceChat bodies %v", updates)
	}

	// The agent's turns run the chat service and land in one conversation.
	for _, text := range []string{"Tell me a joke.", "Another one."} {
		status, reply, err := fake.AgentTurn(ctx, task, text, "")
		if err != nil || status != http.StatusOK || reply == "" {
			t.Fatalf("agent turn: status %d reply %q err %v", status, reply, err)
		}
	}
	state, err := client.GetRtcAgent(ctx)
	testenv.OK(t, state, err, http.StatusOK)
	convID, ok := state.Data.ConversationID.Get()
	if !ok {
		t.Fatal("no conversation recorded for the agent")
	}
	msgs, err := client.ListConversationMessages(ctx, api.ListConversationMessagesParams{ID: convID})
	testenv.OK(t, msgs, err, http.StatusOK)
	if msgs.Data.Count != 4 {
		t.Fatalf("conversation has %d messages, want 4 (two turns)", msgs.Data.Count)
	}

	if res := s.Do(t, http.MethodPost, "/api/rtc/agent/not-a-task/chat/completions/", "", map[string]any{}); res.Status != http.StatusNotFound {
		t.Fatalf("malformed task id: status %d, want 404", res.Status)
	}
	if status, _, _ := fake.AgentTurn(ctx, task, "Hello?", "wrong-key"); status != http.StatusUnauthorized {
		t.Fatalf("wrong task key: status %d, want 401", status)
	}
	do(t, s, "/api/device/rtc-agent/stop/", user.Token, nil, http.StatusOK, http.StatusOK)
	if p := agentState(t, app, "stopped"); p["reason"] != "requested" {
		t.Fatalf("stopped with %v", p)
	}
	if stops := fake.Calls("StopVoiceChat"); len(stops) != 1 || stops[0].Body["TaskId"] != task {
		t.Fatalf("StopVoiceChat calls %v", stops)
	}
	if status, _, _ := fake.AgentTurn(ctx, task, "Hello?", ""); status != http.StatusUnauthorized {
		t.Fatalf("key of a stopped task: status %d, want 401", status)
	}
	do(t, s, "/api/device/rtc-agent/stop/", user.Token, nil, http.StatusNotFound, 4032)
	if len(fake.Rejected()) != 0 {
		t.Fatalf("the fake rejected signatures: %v", fake.Rejected())
	}
}

// TestAgentVendorErrors checks that the gateway's errors map to clear
// envelopes and leave the room free.
func TestAgentVendorErrors(t *testing.T) {
	fake := newFake(t)
	s := testenv.StartWith(t, rtcConfig(t, testenv.Postgres, fake))
	user, _, mac := owner(t, s)
	client := s.API(t, user.Token)
	tests := []struct {
		code   string
		status int
		want   int
	}{
		{"SignatureDoesNotMatch", http.StatusBadGateway, 5051},
		{"AccessDenied", http.StatusBadGateway, 5051},
		{"FlowLimitExceeded", http.StatusServiceUnavailable, 5052},
		{"InternalError", http.StatusServiceUnavailable, 5053},
		{"ServiceUnavailableTemp", http.StatusServiceUnavailable, 5053},
		{"MissingParameter", http.StatusBadGateway, 5054},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			fake.FailNext(rtc.ActionStart, tc.code)
			_, err := client.StartRtcAgent(t.Context(), &api.MacRequest{MACAddress: api.MacAddress(mac)})
			testenv.ExpectAPIError(t, err, tc.status, tc.want)
			_, err = client.GetRtcAgent(t.Context())
			testenv.ExpectAPIError(t, err, http.StatusNotFound, 4032)
		})
	}
	res, err := client.StartRtcAgent(t.Context(), &api.MacRequest{MACAddress: api.MacAddress(mac)})
	testenv.OK(t, res, err, http.StatusOK)

	other := s.Register(t, "rtc_other")
	_, err = s.API(t, other.Token).StartRtcAgent(t.Context(), &api.MacRequest{MACAddress: api.MacAddress(mac)})
	testenv.ExpectAPIError(t, err, http.StatusForbidden, 4034)
}

// TestAgentWrongSecret checks that the fake verifies signatures: a wrong
// secret key is refused by it and answered 502/5051.
func TestAgentWrongSecret(t *testing.T) {
	fake := newFake(t)
	cfg := rtcConfig(t, testenv.Postgres, fake)
	cfg.RTC.SecretKey = "not-the-secret"
	s := testenv.StartWith(t, cfg)
	user, _, mac := owner(t, s)
	_, err := s.API(t, user.Token).StartRtcAgent(t.Context(), &api.MacRequest{MACAddress: api.MacAddress(mac)})
	testenv.ExpectAPIError(t, err, http.StatusBadGateway, 5051)
	if r := fake.Rejected(); len(r) != 1 || r[0] != "SignatureDoesNotMatch" {
		t.Fatalf("fake rejected %v, want [SignatureDoesNotMatch]", r)
	}
}

// TestOneAgentPerRoomAcrossInstances starts the same room's agent from two
// instances at once: one agent starts, both answer with it.
func TestOneAgentPerRoomAcrossInstances(t *testing.T) {
	fake := newFake(t)
	cfg := rtcConfig(t, testenv.Postgres, fake)
	cfg.Addr = "127.0.0.1:0"
	a := testenv.StartWith(t, cfg)
	b := testenv.StartWith(t, cfg)
	user, _, mac := owner(t, a)
	var (
		wg    sync.WaitGroup
		tasks [8]string
		errs  [8]error
	)
	for i := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			res, err := s.API(t, user.Token).StartRtcAgent(context.Background(), &api.MacRequest{MACAddress: api.MacAddress(mac)})
			if err == nil {
				tasks[i] = res.Data.TaskID
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i := range tasks {
		if errs[i] != nil || tasks[i] == "" {
			t.Fatalf("start %d: %v", i, errs[i])
		}
	}
	if n := len(fake.Calls("StartVoiceChat")); n != 1 {
		t.Fatalf("%d StartVoiceChat calls, want 1", n)
	}
	for i := range tasks {
		if tasks[i] != fake.Calls("StartVoiceChat")[0].Body["TaskId"] {
			t.Fatalf("start %d answered task %s", i, tasks[i])
		}
	}
	do(t, b, "/api/device/rtc-agent/stop/", user.Token, nil, http.StatusOK, http.StatusOK)
	_, err := a.API(t, user.Token).GetRtcAgent(t.Context())
	testenv.ExpectAPIError(t, err, http.StatusNotFound, 4032)
}

// TestAgentStopsWithDevice checks the hub side: a device starts the agent
// with a frame, and the agent stops when the device disconnects, and when
// the device is unbound.
func TestAgentStopsWithDevice(t *testing.T) {
	fake := newFake(t)
	s := testenv.StartWith(t, rtcConfig(t, testenv.Postgres, fake))
	user, dev, mac := owner(t, s)
	app := s.Dial(t, user.Token)

	device := s.Dial(t, dev.Token)
	device.Send(map[string]any{"type": "rtc_agent_start", "message": map[string]any{}})
	running := agentState(t, app, "running")
	agentState(t, device, "running")
	device.Conn.Close(1000, "bye")
	stopped := agentState(t, app, "stopped")
	if stopped["reason"] != "device_disconnected" || stopped["task_id"] != running["task_id"] {
		t.Fatalf("stopped %v after running %v", stopped, running)
	}
	if len(fake.Calls("StopVoiceChat")) != 1 {
		t.Fatalf("StopVoiceChat calls %v", fake.Calls("StopVoiceChat"))
	}

	// The device reconnects and starts again; its owner unbinds it.
	device = s.Dial(t, dev.Token)
	device.Send(map[string]any{"type": "rtc_agent_start", "message": map[string]any{}})
	agentState(t, app, "running")
	do(t, s, "/api/device/unbind/", user.Token, map[string]any{"mac_address": mac}, http.StatusOK, http.StatusOK)
	device.ExpectClose(4003)
	agentState(t, app, "stopped")
	_, err := s.API(t, user.Token).GetRtcAgent(t.Context())
	testenv.ExpectAPIError(t, err, http.StatusNotFound, 4032)
	if len(fake.Calls("StopVoiceChat")) != 2 {
		t.Fatalf("StopVoiceChat calls %v", fake.Calls("StopVoiceChat"))
	}
}

// TestSweep checks the sweep: an agent whose device was unbound while not
// connected is stopped (unbound), and an idle one too (idle).
func TestSweep(t *testing.T) {
	t.Run("unbound", func(t *testing.T) {
		fake := newFake(t)
		var agents *rtc.Agents
		s := testenv.StartWith(t, rtcConfig(t, testenv.Postgres, fake), fx.Populate(&agents))
		user, _, mac := owner(t, s)
		app := s.Dial(t, user.Token)
		client := s.API(t, user.Token)
		res, err := client.StartRtcAgent(t.Context(), &api.MacRequest{MACAddress: api.MacAddress(mac)})
		testenv.OK(t, res, err, http.StatusOK)
		agentState(t, app, "running")
		do(t, s, "/api/device/unbind/", user.Token, map[string]any{"mac_address": mac}, http.StatusOK, http.StatusOK)
		// This sweep or the background one stops it.
		if _, err := agents.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		if p := agentState(t, app, "stopped"); p["reason"] != "unbound" {
			t.Fatalf("stopped for %v, want unbound", p["reason"])
		}
		_, err = client.GetRtcAgent(t.Context())
		testenv.ExpectAPIError(t, err, http.StatusNotFound, 4032)
	})
	t.Run("rebound", func(t *testing.T) {
		fake := newFake(t)
		var agents *rtc.Agents
		s := testenv.StartWith(t, rtcConfig(t, testenv.Postgres, fake), fx.Populate(&agents))
		user, _, mac := owner(t, s)
		app := s.Dial(t, user.Token)
		res, err := s.API(t, user.Token).StartRtcAgent(t.Context(), &api.MacRequest{MACAddress: api.MacAddress(mac)})
		testenv.OK(t, res, err, http.StatusOK)
		agentState(t, app, "running")
		s.Bind(t, s.Register(t, "rtc_new").Token, mac)
		if _, err := agents.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		if p := agentState(t, app, "stopped"); p["reason"] != "unbound" {
			t.Fatalf("stopped for %v, want unbound", p["reason"])
		}
	})
	t.Run("idle", func(t *testing.T) {
		fake := newFake(t)
		cfg := rtcConfig(t, testenv.Postgres, fake)
		cfg.RTC.AgentIdleTimeout = time.Millisecond
		var agents *rtc.Agents
		s := testenv.StartWith(t, cfg, fx.Populate(&agents))
		user, _, mac := owner(t, s)
		app := s.Dial(t, user.Token)
		res, err := s.API(t, user.Token).StartRtcAgent(t.Context(), &api.MacRequest{MACAddress: api.MacAddress(mac)})
		testenv.OK(t, res, err, http.StatusOK)
		if _, err := agents.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		if p := agentState(t, app, "stopped"); p["reason"] != "idle" {
			t.Fatalf("stopped for %v, want idle", p["reason"])
		}
		if len(fake.Calls(rtc.ActionStop)) != 1 {
			t.Fatalf("StopVoiceChat calls %v", fake.Calls(rtc.ActionStop))
		}
	})
}
