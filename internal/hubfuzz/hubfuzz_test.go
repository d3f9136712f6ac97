package hubfuzz_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"paradise/internal/fuzzkit"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"paradise"
	"paradise/internal/hubfuzz"
	"paradise/internal/testenv"
)

// Settings of a run. CI uses the defaults: a fixed seed, the systematic
// sweep and two seconds of random frames per backend. `make fuzz-hub`
// raises the budget and picks a random seed, printed so a failure
// reproduces with PARADISE_FUZZ_HUB_SEED.
//
// envPrefix names the settings: PARADISE_FUZZ_HUB_SEED (a number, or "random";
// default 1), _BUDGET (random phase per backend; default 2s) and
// _ITERATIONS (a cap on the random phase; default none).
const envPrefix = "PARADISE_FUZZ_HUB"

// maxErrorFrame bounds an error frame: its detail may quote the input,
// which can be as large as the read limit.
const maxErrorFrame = 1 << 10

// readTimeout is how long a frame the protocol waits for may take.
const readTimeout = 5 * time.Second

// TestHubFuzz sends the sweep and then random frames from a device
// session and an app session of one user, on every backend, and checks
// what the hub does with each against asyncapi.yaml.
func TestHubFuzz(t *testing.T) {
	spec, err := hubfuzz.LoadSpec(paradise.AsyncAPI)
	if err != nil {
		t.Fatal(err)
	}
	set := fuzzkit.LoadSettings(t, envPrefix)
	t.Logf("seed %d (reproduce: %s_SEED=%d), random phase %s per backend", set.Seed, envPrefix, set.Seed, set.Budget)
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		start := time.Now()
		f := newFixture(t, b, spec)
		gen := hubfuzz.New(set.Seed, spec, int(f.svc.Config.Hub.ReadLimit))
		sweep := gen.Sweep()
		// Sweep frames alternate between the device and the app session;
		// device_info goes both ways, since only a device's is stored.
		sent := 0
		for i, fr := range sweep {
			fromDevice := i%2 == 0
			f.exchange(fr, fromDevice)
			sent++
			if fr.Type == "device_info" {
				f.exchange(fr, !fromDevice)
				sent++
			}
		}
		swept := sent
		t.Logf("sweep of %d frames done in %s", sent, time.Since(start).Round(time.Millisecond))
		deadline := time.Now().Add(set.Budget)
		for i := 0; time.Now().Before(deadline) && (set.Iterations == 0 || i < set.Iterations); i++ {
			f.exchange(gen.Random(), i%2 == 0)
			sent++
		}
		f.checkREST("end of run")
		f.report(t)
		t.Logf("%d frames (%d in the sweep, %d random), %d reconnects, %d findings", sent, swept, sent-swept, f.reconnects, len(f.findings))
	})
}

// fixture is a running service with one user, its device, and a device
// and an app session.
type fixture struct {
	t    *testing.T
	svc  *testenv.Service
	spec *hubfuzz.Spec

	owner, device testenv.Login
	devID         int
	// dev holds the device's session (token in the URL), app the owner's
	// (token in the Authorization header): both channels are fuzzed.
	dev, app   *testenv.WS
	seq        int
	reconnects int
	http       *http.Client

	findings map[string]*finding
}

type finding struct {
	problem string
	example string
	count   int
}

func newFixture(t *testing.T, b testenv.Backend, spec *hubfuzz.Spec) *fixture {
	t.Helper()
	cfg := testenv.Config(t, b)
	// The fuzzer sends as fast as the hub answers; the rate limit is not
	// what it tests.
	cfg.Hub.Rate = 1e6
	cfg.Hub.Burst = 1e6
	// chat_request replies stream dozens of chat_delta frames to both
	// sessions at once; the fuzzer reads them between exchanges.
	cfg.Hub.SendQueue = 1024
	f := &fixture{t: t, spec: spec, svc: testenv.StartWith(t, cfg), findings: map[string]*finding{},
		http: &http.Client{Timeout: 30 * time.Second}}
	f.owner = f.svc.Register(t, "fuzz")
	mac := testenv.RandomID()
	f.devID = f.svc.Bind(t, f.owner.Token, mac)
	f.device = f.svc.MacLogin(t, mac)
	f.dev = f.svc.Dial(t, f.device.Token)
	f.app = f.svc.DialHeader(t, f.owner.Token)
	if f.dev.Info.Role != "device" || f.app.Info.Role != "app" {
		t.Fatalf("sessions: device %+v, app %+v", f.dev.Info, f.app.Info)
	}
	return f
}

// session is one side of an exchange.
type session struct {
	name string
	ws   **testenv.WS
}

func (f *fixture) sessions(fromDevice bool) (sender, peer session) {
	d, a := session{"device", &f.dev}, session{"app", &f.app}
	if fromDevice {
		return d, a
	}
	return a, d
}

// reconnect replaces a session that ended.
func (f *fixture) reconnect(s session) {
	f.reconnects++
	(*s.ws).Conn.CloseNow()
	if s.name == "device" {
		*s.ws = f.svc.Dial(f.t, f.device.Token)
	} else {
		*s.ws = f.svc.DialHeader(f.t, f.owner.Token)
	}
}

// write sends a frame's bytes as they are.
func write(c *testenv.WS, data []byte, binary bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
	}
	return c.Conn.Write(ctx, typ, data)
}

func chat(text string) []byte {
	b, _ := json.Marshal(map[string]any{"type": "chat", "message": map[string]any{"text": text}})
	return b
}

// readUntil reads frames until a chat whose text is want, and returns the
// frames before it and the marker.
func readUntil(c *testenv.WS, want string) (before []testenv.Frame, marker testenv.Frame, err error) {
	for {
		fr, err := c.TryRead(readTimeout)
		if err != nil {
			return before, fr, err
		}
		if fr.Type == "chat" {
			var m struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(fr.Message, &m) == nil && m.Text == want {
				return before, fr, nil
			}
		}
		before = append(before, fr)
	}
}

// exchange sends one frame and checks what the hub did with it. After the
// frame the sender sends a marker chat; the peer reads up to it (so it
// has everything the frame caused) and answers with its own marker, which
// the sender reads up to (so it has every answer to the frame).
func (f *fixture) exchange(fr *hubfuzz.Frame, fromDevice bool) {
	f.seq++
	sender, peer := f.sessions(fromDevice)
	report := func(problem string, got ...[]testenv.Frame) {
		f.record(fr, sender.name, problem, got...)
	}
	werr := write(*sender.ws, fr.Data, fr.Binary)
	if fr.Want == hubfuzz.Close {
		f.expectClose(fr, sender, peer, werr)
		return
	}
	if werr != nil {
		report("write failed: " + werr.Error())
		f.recover(sender, peer)
		return
	}
	sync := fmt.Sprintf("hubfuzz sync %d", f.seq)
	if err := write(*sender.ws, chat(sync), false); err != nil {
		report("write of the marker failed: " + err.Error())
		f.recover(sender, peer)
		return
	}
	relayed, m, err := readUntil(*peer.ws, sync)
	if err != nil {
		report(fmt.Sprintf("%s never got the marker after the frame: %s", peer.name, describeErr(err)), relayed)
		f.recover(sender, peer)
		return
	}
	f.checkFrom(fr, sender, m)
	ack := fmt.Sprintf("hubfuzz ack %d", f.seq)
	if err := write(*peer.ws, chat(ack), false); err != nil {
		report("write of the answer marker failed: " + err.Error())
		f.recover(sender, peer)
		return
	}
	answers, _, err := readUntil(*sender.ws, ack)
	if err != nil {
		report(fmt.Sprintf("the sender never got the answer marker: %s", describeErr(err)), answers)
		f.recover(sender, peer)
		return
	}

	// Replies to chat_request frames (chat_delta, chat_done and error
	// frames carrying a request id) come asynchronously, to the whole
	// group, possibly during later exchanges: they are checked against
	// the spec and otherwise set aside.
	answers = f.dropChatOutput(fr, sender.name, answers)
	relayed = f.dropChatOutput(fr, sender.name, relayed)
	var errs, others []testenv.Frame
	for _, a := range answers {
		f.checkServerFrame(fr, sender.name, a)
		switch {
		case a.Type == "error":
			errs = append(errs, a)
			f.checkError(fr, sender.name, a)
		case fr.Type == "heartbeat" && a.Type == "pong":
			// The answer to a heartbeat, checked below.
		case fr.Type == "claim_code_request" && a.Type == "claim_code":
			// A device's claim code (checked against the spec above).
		default:
			others = append(others, a)
		}
	}
	for _, r := range relayed {
		f.checkServerFrame(fr, sender.name, r)
	}
	if fr.Type == "voice_start" && len(errs) == 0 {
		// The voice turn would take the fuzzer's later binary frames as
		// audio; abort it so binary frames stay out of spec.
		abortTurn(sender, fr.Data)
	}
	if len(others) > 0 {
		report("the sender got frames that are neither an answer nor an error", others)
	}
	answered := fr.Type == "heartbeat" && len(answers)-len(errs)-len(others) > 0
	wasRelayed := len(relayed) > 0
	if len(errs) > 1 {
		report(fmt.Sprintf("answered with %d error frames", len(errs)), errs)
	}
	switch fr.Want {
	case hubfuzz.Relay:
		if len(errs) > 0 && !refusable[fr.Type] {
			report("in-spec frame answered with an error", errs)
		}
		if fr.Type == "heartbeat" {
			if !answered {
				report("in-spec heartbeat not answered with pong", answers)
			}
			if wasRelayed {
				report("heartbeat relayed", relayed)
			}
			break
		}
		if consumed[fr.Type] {
			if wasRelayed {
				report(fr.Type+" relayed", relayed)
			}
			break
		}
		f.checkRelayed(fr, sender, relayed)
	case hubfuzz.Refuse:
		if len(errs) == 0 {
			report("out-of-spec frame not answered with an error", answers)
		}
		if wasRelayed {
			report("out-of-spec frame relayed", relayed)
		}
		if answered {
			report("out-of-spec heartbeat answered with pong", answers)
		}
	case hubfuzz.Either:
		switch {
		case len(errs) > 0 && (wasRelayed || answered) && !refusable[fr.Type]:
			report("both refused and relayed", errs, relayed)
		case len(errs) == 0 && fr.Type == "heartbeat" && !answered:
			report("neither refused nor answered", answers)
		case len(errs) == 0 && consumed[fr.Type]:
			if wasRelayed {
				report(fr.Type+" relayed", relayed)
			}
		case len(errs) == 0 && fr.Type != "heartbeat":
			f.checkRelayed(fr, sender, relayed)
		}
	}
	if fr.Type == "device_info" && sender.name == "device" {
		f.checkREST("after " + fr.Case)
	}
}

// consumed are the client frame types the server handles without relaying
// them (asyncapi.yaml: "except heartbeat, chat_request, rtc_agent_start,
// rtc_agent_stop, voice_start, voice_end, abort and claim_code_request").
var consumed = map[string]bool{"chat_request": true, "rtc_agent_start": true, "rtc_agent_stop": true,
	"voice_start": true, "voice_end": true, "abort": true, "claim_code_request": true}

// refusable are in-spec frame types the domain may still refuse with an
// error frame to the sender: the voice agent requests (no agent to stop,
// not the user's device, voice rooms not configured in the fixture).
// claim_code_request is refused to app sessions.
var refusable = map[string]bool{"rtc_agent_start": true, "rtc_agent_stop": true, "claim_code_request": true}

// dropChatOutput validates and removes the frames that answer chat
// requests: chat_delta, chat_done, and error frames with a request_id.
func (f *fixture) dropChatOutput(fr *hubfuzz.Frame, sender string, frames []testenv.Frame) []testenv.Frame {
	kept := frames[:0]
	for _, a := range frames {
		var e struct {
			RequestID *string `json:"request_id"`
		}
		if a.Type == "chat_delta" || a.Type == "chat_done" ||
			a.Type == "error" && json.Unmarshal(a.Message, &e) == nil && e.RequestID != nil {
			f.checkServerFrame(fr, sender, a)
			if a.Type == "error" {
				f.checkError(&hubfuzz.Frame{Type: "chat_request", Case: "a chat reply", Want: hubfuzz.Either}, sender, a)
			}
			continue
		}
		kept = append(kept, a)
	}
	return kept
}

// expectClose checks a frame the spec closes the session for: the close
// code is the declared one, nothing was relayed, and the session
// reconnects.
func (f *fixture) expectClose(fr *hubfuzz.Frame, sender, peer session, werr error) {
	var got []testenv.Frame
	for {
		a, err := (*sender.ws).TryRead(readTimeout)
		if err == nil {
			got = append(got, a)
			continue
		}
		code := websocket.CloseStatus(err)
		if code != websocket.StatusCode(fr.CloseCode) {
			problem := fmt.Sprintf("closed with %s, want %d", describeErr(err), fr.CloseCode)
			if werr != nil {
				problem += " (write: " + werr.Error() + ")"
			}
			f.record(fr, sender.name, problem, got)
		} else if got = f.dropChatOutput(fr, sender.name, got); len(got) > 0 {
			f.record(fr, sender.name, "frames before the close", got)
		}
		break
	}
	f.reconnect(sender)
	// Nothing of the frame reached the peer: a marker from the new
	// session is the next thing it reads.
	sync := fmt.Sprintf("hubfuzz sync %d", f.seq)
	if err := write(*sender.ws, chat(sync), false); err != nil {
		f.record(fr, sender.name, "write of the marker after reconnecting failed: "+err.Error())
		f.recover(sender, peer)
		return
	}
	relayed, _, err := readUntil(*peer.ws, sync)
	if err != nil {
		f.record(fr, sender.name, "peer never got the marker after the close: "+describeErr(err), relayed)
		f.recover(sender, peer)
		return
	}
	if relayed = f.dropChatOutput(fr, sender.name, relayed); len(relayed) > 0 {
		f.record(fr, sender.name, "frame that closed the session reached the peer", relayed)
	}
	if fr.Type == "device_info" && sender.name == "device" {
		f.checkREST("after " + fr.Case)
	}
}

// recover reconnects both sessions after an exchange went wrong, so one
// finding does not cascade into every later exchange.
func (f *fixture) recover(a, b session) {
	f.reconnect(a)
	f.reconnect(b)
}

// checkServerFrame validates a frame the server sent against asyncapi.yaml.
func (f *fixture) checkServerFrame(fr *hubfuzz.Frame, sender string, got testenv.Frame) {
	if !utf8.Valid(got.Raw) {
		f.record(fr, sender, "server frame is not valid UTF-8", []testenv.Frame{got})
		return
	}
	if err := f.spec.Validate(got.Raw); err != nil {
		f.record(fr, sender, fmt.Sprintf("%s frame from the server does not match asyncapi.yaml: %s", got.Type, short(err.Error(), 300)), []testenv.Frame{got})
	}
}

// checkError checks an error frame: a code of the enum, the expected one
// for the input, and a bounded size.
func (f *fixture) checkError(fr *hubfuzz.Frame, sender string, got testenv.Frame) {
	var e struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(got.Message, &e)
	if !f.spec.ErrorCodes[e.Code] {
		f.record(fr, sender, fmt.Sprintf("error code %q is not in asyncapi.yaml's ErrorCode enum", e.Code), []testenv.Frame{got})
	}
	switch e.Code {
	case "internal_error", "rate_limited":
		f.record(fr, sender, "error code "+e.Code, []testenv.Frame{got})
	default:
		if fr.Want == hubfuzz.Refuse && len(fr.Codes) > 0 && !contains(fr.Codes, e.Code) {
			f.record(fr, sender, fmt.Sprintf("error code %s, want %s", e.Code, strings.Join(fr.Codes, " or ")), []testenv.Frame{got})
		}
	}
	if len(got.Raw) > maxErrorFrame {
		f.record(fr, sender, fmt.Sprintf("error frame of %d bytes (bound %d)", len(got.Raw), maxErrorFrame), []testenv.Frame{got})
	}
	if e.Detail == "" {
		f.record(fr, sender, "error frame without a detail", []testenv.Frame{got})
	}
}

// checkRelayed checks that the peer got the frame exactly once, with the
// sender's from and (when known) the message sent.
func (f *fixture) checkRelayed(fr *hubfuzz.Frame, sender session, relayed []testenv.Frame) {
	if len(relayed) != 1 {
		f.record(fr, sender.name, fmt.Sprintf("in-spec frame relayed %d times, want once", len(relayed)), relayed)
		return
	}
	got := relayed[0]
	if got.Type != fr.Type {
		f.record(fr, sender.name, fmt.Sprintf("relayed as a %s frame", got.Type), relayed)
		return
	}
	f.checkFrom(fr, sender, got)
	if fr.Message != nil {
		var m any
		if err := json.Unmarshal(got.Message, &m); err != nil || !reflect.DeepEqual(m, fr.Message) {
			want, _ := json.Marshal(fr.Message)
			f.record(fr, sender.name, fmt.Sprintf("relayed message differs from the one sent: want %s", short(string(want), 200)), relayed)
		}
	}
}

// checkFrom checks the server's from on a frame relayed from sender.
func (f *fixture) checkFrom(fr *hubfuzz.Frame, sender session, got testenv.Frame) {
	info := (*sender.ws).Info
	if got.From == nil || got.From.Role != info.Role || got.From.ConnectionID != info.ConnectionID ||
		!reflect.DeepEqual(got.From.MACAddress, info.MACAddress) {
		f.record(fr, sender.name, fmt.Sprintf("relayed frame's from is not the sender %+v", info), []testenv.Frame{got})
	}
}

// checkREST reads the device row: whatever the device sent, the REST API
// still answers it.
func (f *fixture) checkREST(when string) {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/device/devices/%d/", f.svc.URL, f.devID), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Token "+f.owner.Token)
	res, err := f.http.Do(req)
	if err != nil {
		f.recordREST(when, "no answer: "+err.Error())
		return
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var env struct {
		Success bool `json:"success"`
	}
	switch {
	case res.StatusCode != http.StatusOK:
		f.recordREST(when, fmt.Sprintf("GET device: status %d %s", res.StatusCode, short(string(body), 300)))
	case !utf8.Valid(body):
		f.recordREST(when, "GET device: body is not valid UTF-8: "+short(string(body), 300))
	case json.Unmarshal(body, &env) != nil || !env.Success:
		f.recordREST(when, "GET device: not a success envelope: "+short(string(body), 300))
	}
}

func (f *fixture) recordREST(when, problem string) {
	key := "REST | " + problem
	if fd, ok := f.findings[key]; ok {
		fd.count++
		return
	}
	f.findings[key] = &finding{problem: problem, example: when, count: 1}
}

// record keeps the first example of each problem per type and case.
func (f *fixture) record(fr *hubfuzz.Frame, sender, problem string, got ...[]testenv.Frame) {
	key := fmt.Sprintf("%s | %s | from %s | %s", orDash(fr.Type), fr.Case, sender, problem)
	if fd, ok := f.findings[key]; ok {
		fd.count++
		return
	}
	f.findings[key] = &finding{problem: problem, example: describe(fr, got), count: 1}
}

// maxReported bounds the findings listed; one root cause often shows up
// under many cases.
const maxReported = 300

// known lists findings that are reported (docs/reliability.md, "Hub
// fuzzer findings") and wait for a fix in internal/hub or gen/ws, which
// this package may not change. They are logged, not failed; anything
// else fails the test. Remove an entry once its fix is in.
var known = []struct {
	id             string // the finding's number in docs/reliability.md
	case_, problem string
}{}

// knownID is the number of the reported finding key matches, if any.
func knownID(key string) string {
	parts := strings.SplitN(key, " | ", 4)
	if len(parts) != 4 {
		return ""
	}
	for _, k := range known {
		if strings.Contains(parts[1], k.case_) && strings.Contains(parts[3], k.problem) {
			return k.id
		}
	}
	return ""
}

// report fails the test with one line per new finding, in a stable
// order, and logs the known ones.
func (f *fixture) report(t *testing.T) {
	t.Helper()
	keys := make([]string, 0, len(f.findings))
	for k := range f.findings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	failed, logged := 0, 0
	for _, key := range keys {
		fd := f.findings[key]
		if id := knownID(key); id != "" {
			if logged < maxReported {
				t.Logf("known finding %s: %s (%d times)\n    %s", id, key, fd.count, fd.example)
			}
			logged++
			continue
		}
		if failed == maxReported {
			t.Errorf("... and more findings")
		}
		if failed < maxReported {
			t.Errorf("%s (%d times)\n    %s", key, fd.count, fd.example)
		}
		failed++
	}
	t.Logf("%d known findings, %d new", logged, failed)
}

// describe shows a frame and what came back, shortened to a readable size.
func describe(fr *hubfuzz.Frame, got [][]testenv.Frame) string {
	var b strings.Builder
	kind := "text"
	if fr.Binary {
		kind = "binary"
	}
	fmt.Fprintf(&b, "%s frame (%d bytes, want %s", kind, len(fr.Data), fr.Want)
	if len(fr.Codes) > 0 {
		fmt.Fprintf(&b, " %s", strings.Join(fr.Codes, "|"))
	}
	if fr.CloseCode != 0 {
		fmt.Fprintf(&b, " %d", fr.CloseCode)
	}
	fmt.Fprintf(&b, ") %s", short(string(fr.Data), 300))
	for _, frames := range got {
		for _, g := range frames {
			fmt.Fprintf(&b, "\n    -> %s", short(string(g.Raw), 300))
		}
	}
	return b.String()
}

func describeErr(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("close %d %q", ce.Code, ce.Reason)
	}
	return err.Error()
}

func short(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s...(%d bytes)", strconv.Quote(s[:n]), len(s))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// abortTurn sends an abort for the voice turn a voice_start frame opened,
// with the turn id exactly as sent (the server accepted it).
func abortTurn(s session, data []byte) {
	var v struct {
		Message struct {
			TurnID json.RawMessage `json:"turn_id"`
		} `json:"message"`
	}
	if json.Unmarshal(data, &v) != nil || v.Message.TurnID == nil {
		return
	}
	_ = write(*s.ws, []byte(`{"type":"abort","message":{"turn_id":`+string(v.Message.TurnID)+`}}`), false)
}
