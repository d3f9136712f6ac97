package apifuzz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"paradise/internal/fuzzkit"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/fx"

	"paradise"
	"paradise/internal/account"
	"paradise/internal/apifuzz"
	"paradise/internal/config"
	"paradise/internal/rtc/rtctest"
	"paradise/internal/speech/aliyun/aliyuntest"
	"paradise/internal/testenv"
)

// Settings of a run. CI uses the defaults: a fixed seed, the systematic
// sweep and two seconds of random requests per backend. `make fuzz-api`
// raises the budget and picks a random seed, printed so a failure
// reproduces with PARADISE_FUZZ_API_SEED.
//
// envPrefix names the settings: PARADISE_FUZZ_API_SEED (a number, or "random";
// default 1), _BUDGET (random phase per backend; default 2s) and
// _ITERATIONS (a cap on the random phase; default none).
const envPrefix = "PARADISE_FUZZ_API"

// Bounds on error answers: the envelope writer truncates messages, and
// nothing else in an error grows with the input.
const (
	maxErrorBody    = 8 << 10
	maxErrorMessage = 1 << 10
)

const password = "correct-horse-battery"

// sweepWorkers is how many sweep requests are in flight at once.
const sweepWorkers = 4

// TestAPIFuzz runs the sweep and then random requests against every
// operation of openapi.yaml, on every backend, and checks every answer.
func TestAPIFuzz(t *testing.T) {
	ops, err := apifuzz.LoadOperations(paradise.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	set := fuzzkit.LoadSettings(t, envPrefix)
	t.Logf("seed %d (reproduce: %s_SEED=%d), random phase %s per backend", set.Seed, envPrefix, set.Seed, set.Budget)
	for _, b := range testenv.Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			f := newFixture(t, b)
			t.Logf("fixture ready in %s", time.Since(start).Round(time.Millisecond))
			gen := apifuzz.New(set.Seed, f.hints)
			// The sweep's requests are generated in a fixed order and sent
			// by a few workers: the server is mostly waiting on its
			// database, and the sweep must fit in CI's time.
			sweep := gen.Sweep(ops)
			work := make(chan *apifuzz.Request)
			var wg sync.WaitGroup
			for range sweepWorkers {
				wg.Go(func() {
					for req := range work {
						f.exchange(req)
					}
				})
			}
			for _, req := range sweep {
				work <- req
			}
			close(work)
			wg.Wait()
			sent := len(sweep)
			t.Logf("sweep of %d requests done in %s", sent, time.Since(start).Round(time.Millisecond))
			deadline := time.Now().Add(set.Budget)
			for i := 0; time.Now().Before(deadline) && (set.Iterations == 0 || i < set.Iterations); i++ {
				f.exchange(gen.Random(ops[i%len(ops)]))
				sent++
			}
			f.report(t)
			t.Logf("%d requests (%d in the sweep, %d random), %d findings", sent, len(sweep), sent-len(sweep), len(f.findings))
		})
	}
}

// fixture is a running service with the accounts and rows the generated
// requests refer to.
type fixture struct {
	svc      *testenv.Service
	accounts *account.Service
	client   *http.Client

	user, device, admin string // tokens of the main user, its device, a staff user
	staffName           string
	// victimMAC is a device bound to a user of its own: operations that
	// spend the caller's token (logout, password change) get a fresh MAC
	// login of it, so the main tokens survive.
	victimMAC string
	victims   []int // users the admin operations may disable; ids 1-3
	// victimDevices are the devices the admin operations may delete,
	// unbind or disconnect; ids 1-3.
	victimDevices []int
	deviceID      int // the main user's device
	typeID        int

	mu       sync.Mutex
	findings map[string]finding
	order    []string
}

type finding struct {
	problem string
	example string
	count   int
}

func newFixture(t *testing.T, b testenv.Backend) *fixture {
	t.Helper()
	f := &fixture{findings: map[string]finding{}}
	// Voice rooms on, the agent against the fake Volcengine OpenAPI, so
	// the rtc operations answer (not 503 "not configured").
	fake := rtctest.New(t, "AKLTfuzz", "fuzz-secret", "cn-north-1")
	rtcOn := fx.Decorate(func(c config.RTC) config.RTC {
		c.AppID, c.AppKey = "0123456789abcdef01234567", "0123456789abcdef0123456789abcdef"
		c.AccessKey, c.SecretKey, c.OpenAPIURL, c.PublicBaseURL = "AKLTfuzz", "fuzz-secret", fake.URL, "http://paradise.test"
		return c
	})
	// Speech runs on a fake vendor, so no local engine is needed.
	nls := aliyuntest.New(t)
	f.svc = testenv.Start(t, b, fx.Populate(&f.accounts), rtcOn, fx.Decorate(nls.Speech))
	f.client = &http.Client{Timeout: 30 * time.Second}
	// The first users get ids 1-3, the ids boundary values hit; they are
	// the ones admin operations may disable.
	for range 3 {
		f.victims = append(f.victims, f.svc.Register(t, "victim").User.ID)
	}
	keeper := f.svc.Register(t, "keeper")
	for range 3 {
		f.victimDevices = append(f.victimDevices, f.svc.Bind(t, keeper.Token, testenv.RandomID()))
	}
	victim := f.svc.Register(t, "spender")
	f.victimMAC = testenv.RandomID()
	f.svc.Bind(t, victim.Token, f.victimMAC)

	main := f.svc.Register(t, "main")
	f.user = main.Token
	mac := testenv.RandomID()
	f.deviceID = f.svc.Bind(t, f.user, mac)
	f.device = f.svc.MacLogin(t, mac).Token

	f.staffName = testenv.Name("staff")
	if _, err := f.accounts.CreateSuperuser(context.Background(), f.staffName, password); err != nil {
		t.Fatal(err)
	}
	f.admin = f.adminLogin(t)
	res := f.svc.Do(t, "POST", "/api/v1/admin/device-types/", f.admin, map[string]any{"name": testenv.Name("Model")})
	if res.Status != http.StatusCreated {
		t.Fatalf("create device type: %d %s", res.Status, res.Body)
	}
	var dt struct {
		ID int `json:"id"`
	}
	res.Decode(t, &dt)
	f.typeID = dt.ID
	return f
}

func (f *fixture) adminLogin(t *testing.T) string {
	t.Helper()
	token, err := f.login("/api/v1/admin/login/", map[string]any{"username": f.staffName, "password": password})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// login posts credentials to a login endpoint and returns the token. It
// runs on the sweep's workers, so it returns errors instead of failing
// the test.
func (f *fixture) login(path string, body any) (string, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	res, err := f.client.Post(f.svc.URL+path, "application/json", bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("login %s: %w", path, err)
	}
	defer res.Body.Close()
	var env struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil || res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login %s: status %d, decode: %v", path, res.StatusCode, err)
	}
	return env.Data.Token, nil
}

// hints are the in-spec values the spec cannot know: ids of rows that
// exist, and well-formed MAC addresses of new devices.
func (f *fixture) hints(op *apifuzz.Operation, name string) (any, bool) {
	switch {
	case name == "id" && op != nil && strings.Contains(op.Path, "/device-types/"):
		return int64(f.typeID), true
	case name == "id" && op != nil && strings.Contains(op.Path, "/users/"):
		return int64(f.victims[len(op.ID)%len(f.victims)]), true
	case name == "id" && op != nil && strings.HasPrefix(op.Path, "/api/v1/admin/devices/"):
		return int64(f.victimDevices[len(op.ID)%len(f.victimDevices)]), true
	case name == "id" && op != nil && strings.Contains(op.Path, "/devices/"):
		return int64(f.deviceID), true
	case name == "device_type_id":
		return int64(f.typeID), true
	case name == "mac_address":
		return dashed(testenv.RandomID()), true
	}
	return nil, false
}

// spendsToken lists the operations that revoke the caller's token(s);
// they get a token nothing else uses.
var spendsToken = map[string]bool{
	"logoutUser":     true,
	"changePassword": true,
	"adminLogout":    true,
}

// token is the Authorization token for a request.
func (f *fixture) token(req *apifuzz.Request) (string, error) {
	switch {
	case req.Cred == apifuzz.Anonymous:
		return "", nil
	case spendsToken[req.Op.ID] && req.Cred == apifuzz.Admin:
		return f.login("/api/v1/admin/login/", map[string]any{"username": f.staffName, "password": password})
	case spendsToken[req.Op.ID]:
		return f.login("/api/user/mac-login/", map[string]any{"mac_address": f.victimMAC})
	case req.Cred == apifuzz.Admin:
		return f.admin, nil
	case req.Cred == apifuzz.Device:
		return f.device, nil
	default:
		return f.user, nil
	}
}

// exchange sends one request and records what is wrong with the answer.
func (f *fixture) exchange(req *apifuzz.Request) {
	token, err := f.token(req)
	if err != nil {
		f.record(req, "fixture: "+err.Error(), 0, nil)
		return
	}
	status, header, body, err := f.send(req, token)
	if err != nil {
		f.record(req, "no answer: "+err.Error(), status, nil)
		return
	}
	for _, problem := range check(req, status, header, body) {
		f.record(req, problem, status, body)
	}
}

func (f *fixture) send(req *apifuzz.Request, token string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if req.HasBody {
		rd = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequest(req.Method, f.svc.URL+"/", rd)
	if err != nil {
		return 0, nil, nil, err
	}
	// The target is sent exactly as generated: url.Parse would refuse or
	// re-escape some of it.
	hr.URL.Opaque = req.Target
	if req.ContentType != "" {
		hr.Header.Set("Content-Type", req.ContentType)
	}
	if token != "" {
		hr.Header.Set("Authorization", "Token "+token)
	}
	for k, vs := range req.Header {
		hr.Header[k] = vs
	}
	res, err := f.client.Do(hr)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	if endless[req.Op.ID] && strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		// A live stream never ends: its status and headers are the answer.
		return res.StatusCode, res.Header, nil, nil
	}
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, body, err
}

// endless are the operations whose event streams stay open until the
// client leaves (the admin console's live events).
var endless = map[string]bool{"adminStreamEvents": true}

// check lists what is wrong with an answer.
func check(req *apifuzz.Request, status int, header http.Header, body []byte) []string {
	var problems []string
	if status >= 500 {
		problems = append(problems, fmt.Sprintf("status %d", status))
	}
	if ct := header.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") && endless[req.Op.ID] && status == http.StatusOK {
		return problems
	} else if strings.HasPrefix(ct, "text/event-stream") && req.Op.Streams[status] {
		return append(problems, checkEvents(body)...)
	} else if strings.HasPrefix(ct, "audio/") && req.Op.Audio[status] {
		return problems // speech: the audio itself
	} else if !strings.HasPrefix(ct, "application/json") {
		problems = append(problems, fmt.Sprintf("status %d with Content-Type %q, not the JSON envelope", status, ct))
		return problems
	}
	if !utf8.Valid(body) {
		problems = append(problems, fmt.Sprintf("status %d, body is not valid UTF-8", status))
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return append(problems, fmt.Sprintf("status %d, body is not a JSON object: %v", status, err))
	}
	var (
		success bool
		code    int
		message string
	)
	if len(env) != 4 || env["data"] == nil ||
		json.Unmarshal(env["success"], &success) != nil ||
		json.Unmarshal(env["code"], &code) != nil ||
		json.Unmarshal(env["message"], &message) != nil {
		return append(problems, fmt.Sprintf("status %d, body is not the envelope {success,code,message,data}", status))
	}
	ok := status >= 200 && status < 300
	if success != ok {
		problems = append(problems, fmt.Sprintf("status %d with success=%t", status, success))
	}
	if !ok && len(body) > maxErrorBody {
		problems = append(problems, fmt.Sprintf("status %d with a %d-byte error body (bound %d)", status, len(body), maxErrorBody))
	}
	if !ok && len(message) > maxErrorMessage {
		problems = append(problems, fmt.Sprintf("status %d with a %d-byte message (bound %d)", status, len(message), maxErrorMessage))
	}
	if req.InSpec && status < 500 && !req.Op.Documents(status) {
		problems = append(problems, fmt.Sprintf("in-spec request got status %d, which %s does not document", status, req.Op.ID))
	}
	if req.MustRefuse && ok {
		problems = append(problems, fmt.Sprintf("accepted with status %d; it breaks the spec", status))
	}
	return problems
}

// record keeps the first example of each problem per operation and case.
func (f *fixture) record(req *apifuzz.Request, problem string, status int, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := req.Op.ID + " | " + req.Case + " | " + problem
	fd, seen := f.findings[key]
	if !seen {
		f.order = append(f.order, key)
		fd = finding{problem: problem, example: describe(req, status, body)}
	}
	fd.count++
	f.findings[key] = fd
}

// maxReported bounds the findings listed; one root cause often shows up
// under many cases.
const maxReported = 300

// report fails the test with one line per finding, in a stable order.
func (f *fixture) report(t *testing.T) {
	t.Helper()
	keys := append([]string(nil), f.order...)
	sort.Strings(keys)
	for i, key := range keys {
		if i == maxReported {
			t.Errorf("... and %d more findings", len(keys)-i)
			break
		}
		fd := f.findings[key]
		t.Errorf("%s (%d times)\n    %s", key, fd.count, fd.example)
	}
}

// describe shows a request and its answer, shortened to a readable size.
func describe(req *apifuzz.Request, status int, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", req.Method, short(req.Target, 200))
	if req.HasBody {
		fmt.Fprintf(&b, " body(%d bytes, %s)=%s", len(req.Body), req.ContentType, short(string(req.Body), 300))
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, " %s: %s", k, short(v, 40))
		}
	}
	fmt.Fprintf(&b, " -> %d %s", status, short(string(body), 300))
	return b.String()
}

func short(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s...(%d bytes)", strconv.Quote(s[:n]), len(s))
}

// dashed writes a MAC as aa-bb-cc-00-00-01.
func dashed(mac string) string {
	var parts []string
	for i := 0; i+2 <= len(mac); i += 2 {
		parts = append(parts, mac[i:i+2])
	}
	return strings.Join(parts, "-")
}

// checkEvents checks a Server-Sent Events body: valid UTF-8, every data
// line a JSON object, ending with a done or error event.
func checkEvents(body []byte) []string {
	if !utf8.Valid(body) {
		return []string{"event stream is not valid UTF-8"}
	}
	last := ""
	for _, line := range strings.Split(string(body), "\n") {
		switch {
		case strings.HasPrefix(line, "event: "):
			last = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var v map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v); err != nil {
				return []string{fmt.Sprintf("event %q data is not a JSON object: %v", last, err)}
			}
		}
	}
	if last != "done" && last != "error" {
		return []string{fmt.Sprintf("event stream ends with %q, not done or error", last)}
	}
	return nil
}
