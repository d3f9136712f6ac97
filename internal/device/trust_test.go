package device_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"go.uber.org/fx"

	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/config"
	"paradise/internal/device"
	"paradise/internal/testenv"
)

// staffToken creates a staff user and returns its admin token.
func staffToken(t *testing.T, s *testenv.Service, accounts *account.Service) string {
	t.Helper()
	name := testenv.Name("staff")
	if _, err := accounts.CreateSuperuser(context.Background(), name, testenv.Password); err != nil {
		t.Fatal(err)
	}
	res := s.Do(t, "POST", "/api/v1/admin/login/", "", map[string]any{"username": name, "password": testenv.Password})
	if res.Status != 200 {
		t.Fatalf("admin login: %d %s", res.Status, res.Body)
	}
	var d struct {
		Token string `json:"token"`
	}
	res.Decode(t, &d)
	return d.Token
}

func provision(t *testing.T, s *testenv.Service, admin, mac string) string {
	t.Helper()
	res := s.Do(t, "POST", "/api/v1/admin/device-secrets/", admin, map[string]any{"mac_address": mac})
	if res.Status != 201 {
		t.Fatalf("provision: %d %s", res.Status, res.Body)
	}
	var d struct {
		Secret string `json:"secret"`
	}
	res.Decode(t, &d)
	if len(d.Secret) != 64 {
		t.Fatalf("secret %q: want 64 hex digits", d.Secret)
	}
	return d.Secret
}

func challenge(t *testing.T, s *testenv.Service, mac string) string {
	t.Helper()
	res := s.Do(t, "POST", "/api/device/challenge/", "", map[string]any{"mac_address": mac})
	if res.Status != 200 {
		t.Fatalf("challenge: %d %s", res.Status, res.Body)
	}
	var d struct {
		Nonce string `json:"nonce"`
	}
	res.Decode(t, &d)
	return d.Nonce
}

func deviceLogin(t *testing.T, s *testenv.Service, mac, nonce string, ts int64, secret string) *testenv.Response {
	t.Helper()
	sig, err := device.Sign(secret, nonce, mac, ts)
	if err != nil {
		t.Fatal(err)
	}
	return s.Do(t, "POST", "/api/device/login/", "", map[string]any{
		"mac_address": mac, "nonce": nonce, "timestamp": ts, "signature": sig})
}

func expect(t *testing.T, what string, res *testenv.Response, status, code int) {
	t.Helper()
	if res.Status != status || res.Code != code {
		t.Fatalf("%s: got %d code %d (%s), want %d code %d", what, res.Status, res.Code, res.Body, status, code)
	}
}

// TestDeviceLogin: the challenge-response login accepts the right HMAC
// and refuses a wrong secret, a stale timestamp, a replayed nonce (on
// another instance), an unknown MAC; MAC login is refused for a device
// with a secret and allowed for one without, and the admin override
// works both ways.
func TestDeviceLogin(t *testing.T) {
	cfg := testenv.Config(t, testenv.Postgres)
	cfg.Devices.SecretKey = make([]byte, 32) // a fixed test key: both instances share it
	var accounts *account.Service
	a := testenv.StartWith(t, cfg, fx.Populate(&accounts))
	b := testenv.StartWith(t, cfg)
	admin := staffToken(t, a, accounts)
	alice := a.Register(t, "alice")
	const mac, legacy = "AA:BB:CC:10:00:01", "AA:BB:CC:10:00:02"
	a.Bind(t, alice.Token, mac)
	a.Bind(t, alice.Token, legacy)
	secret := provision(t, a, admin, mac)

	// Right HMAC: a device token of the owner, usable on the other instance.
	res := deviceLogin(t, a, mac, challenge(t, a, mac), time.Now().Unix(), secret)
	expect(t, "device login", res, 200, 200)
	var l testenv.Login
	res.Decode(t, &l)
	if l.User.ID != alice.User.ID || l.Device.MACAddress != mac {
		t.Fatalf("device login: user %d device %q, want %d %q", l.User.ID, l.Device.MACAddress, alice.User.ID, mac)
	}
	b.Dial(t, l.Token)

	// Replayed nonce: used up on instance a, refused on instance b.
	nonce := challenge(t, a, mac)
	now := time.Now().Unix()
	expect(t, "first use", deviceLogin(t, a, mac, nonce, now, secret), 200, 200)
	expect(t, "replay on b", deviceLogin(t, b, mac, nonce, now, secret), 401, apperr.CodeDeviceAuthFailed)

	wrong := "00" + secret[2:]
	expect(t, "wrong secret", deviceLogin(t, a, mac, challenge(t, a, mac), time.Now().Unix(), wrong), 401, apperr.CodeDeviceAuthFailed)
	expect(t, "stale timestamp", deviceLogin(t, a, mac, challenge(t, a, mac), time.Now().Add(-10*time.Minute).Unix(), secret), 401, apperr.CodeDeviceAuthFailed)
	expect(t, "nonce of another MAC", deviceLogin(t, a, mac, challenge(t, a, legacy), time.Now().Unix(), secret), 401, apperr.CodeDeviceAuthFailed)
	const unknown = "AA:BB:CC:10:00:09"
	expect(t, "unknown MAC", deviceLogin(t, a, unknown, challenge(t, a, unknown), time.Now().Unix(), secret), 401, apperr.CodeDeviceAuthFailed)
	expect(t, "no secret", deviceLogin(t, a, legacy, challenge(t, a, legacy), time.Now().Unix(), secret), 401, apperr.CodeDeviceAuthFailed)

	// MAC login: refused with a secret, allowed without.
	expect(t, "mac login, secured", a.Do(t, "POST", "/api/user/mac-login/", "", map[string]any{"mac_address": mac}), 403, apperr.CodeMACLoginRefused)
	expect(t, "mac login, legacy", a.Do(t, "POST", "/api/user/mac-login/", "", map[string]any{"mac_address": legacy}), 200, 200)

	// Admin overrides.
	id := l.Device.ID
	expect(t, "allow", a.Do(t, "PUT", "/api/v1/admin/devices/"+strconv.Itoa(id)+"/mac-login/", admin, map[string]any{"mac_login": "allow"}), 200, 200)
	expect(t, "mac login, allowed", a.Do(t, "POST", "/api/user/mac-login/", "", map[string]any{"mac_address": mac}), 200, 200)
	legacyID := a.MacLogin(t, legacy).Device.ID
	expect(t, "refuse", a.Do(t, "PUT", "/api/v1/admin/devices/"+strconv.Itoa(legacyID)+"/mac-login/", admin, map[string]any{"mac_login": "refuse"}), 200, 200)
	expect(t, "mac login, refused", a.Do(t, "POST", "/api/user/mac-login/", "", map[string]any{"mac_address": legacy}), 403, apperr.CodeMACLoginRefused)
	expect(t, "user token on admin route", a.Do(t, "POST", "/api/v1/admin/device-secrets/", alice.Token, map[string]any{"mac_address": mac}), 401, 401)
}

// TestMACLoginOff: PARADISE_MAC_LOGIN=off refuses every MAC login.
func TestMACLoginOff(t *testing.T) {
	cfg := testenv.Config(t, testenv.Embedded)
	cfg.Devices.MACLogin = "off"
	s := testenv.StartWith(t, cfg)
	alice := s.Register(t, "alice")
	s.Bind(t, alice.Token, "AA:BB:CC:10:01:01")
	expect(t, "mac login", s.Do(t, "POST", "/api/user/mac-login/", "", map[string]any{"mac_address": "AA:BB:CC:10:01:01"}), 403, apperr.CodeMACLoginRefused)
}

// TestClaimCodes: a claim code binds its device to the app's user (last
// bind wins), once; expired, reused, wrong and guessed codes are refused;
// bind by MAC is refused for an owned device with a secret.
func TestClaimCodes(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, backend testenv.Backend) {
		cfg := testenv.Config(t, backend)
		cfg.RateLimits.BindUser = config.Limit{Events: 5, Per: time.Hour}
		if backend == testenv.Postgres {
			cfg.Devices.SecretKey = make([]byte, 32) // the embedded default makes its own
		}
		var accounts *account.Service
		s := testenv.StartWith(t, cfg, fx.Populate(&accounts))
		admin := staffToken(t, s, accounts)
		alice, bob, mallory := s.Register(t, "alice"), s.Register(t, "bob"), s.Register(t, "mallory")
		const mac = "AA:BB:CC:20:00:01"
		s.Bind(t, alice.Token, mac)
		secret := provision(t, s, admin, mac)

		// Bind by MAC of a secured, owned device: refused.
		expect(t, "bind by MAC", s.Do(t, "POST", "/api/device/bind/", mallory.Token, map[string]any{"mac_address": mac}), 403, apperr.CodeBindByMACRefused)

		res := deviceLogin(t, s, mac, challenge(t, s, mac), time.Now().Unix(), secret)
		expect(t, "device login", res, 200, 200)
		var dl testenv.Login
		res.Decode(t, &dl)
		expect(t, "claim code with a user token", s.Do(t, "POST", "/api/device/claim-code/", alice.Token, nil), 403, 403)
		code := claimCode(t, s, dl.Token)
		if len(code) != device.ClaimCodeLength {
			t.Fatalf("code %q: want %d characters", code, device.ClaimCodeLength)
		}
		// A new code retires the previous one.
		old := code
		code = claimCode(t, s, dl.Token)
		expect(t, "retired code", s.Do(t, "POST", "/api/device/claim/", bob.Token, map[string]any{"claim_code": old}), 400, apperr.CodeClaimCodeInvalid)

		// Typed sloppily, it still binds: bob now owns the device.
		sloppy := code[:4] + "-" + code[4:]
		res = s.Do(t, "POST", "/api/device/claim/", bob.Token, map[string]any{"claim_code": sloppy, "name": "Bob's"})
		expect(t, "claim", res, 200, 200)
		var d struct {
			MACAddress string `json:"mac_address"`
			Name       string `json:"name"`
		}
		res.Decode(t, &d)
		if d.MACAddress != mac || d.Name != "Bob's" {
			t.Fatalf("claimed %+v", d)
		}
		// Last bind wins: alice's device token is revoked, alice lists nothing.
		if r := s.Do(t, "GET", "/api/device/devices/", dl.Token, nil); r.Status != 401 {
			t.Fatalf("previous owner's device token: %d, want 401", r.Status)
		}
		expect(t, "reused code", s.Do(t, "POST", "/api/device/claim/", mallory.Token, map[string]any{"claim_code": code}), 400, apperr.CodeClaimCodeInvalid)
		expect(t, "wrong code", s.Do(t, "POST", "/api/device/claim/", mallory.Token, map[string]any{"claim_code": "2345ABCD"}), 400, apperr.CodeClaimCodeInvalid)

		// Expired: the key's TTL ran out (removed here, as Redis would).
		res = deviceLogin(t, s, mac, challenge(t, s, mac), time.Now().Unix(), secret)
		res.Decode(t, &dl)
		code = claimCode(t, s, dl.Token)
		if err := s.Redis.Del(t.Context(), s.Key("claim:code:"+code)).Err(); err != nil {
			t.Fatal(err)
		}
		expect(t, "expired code", s.Do(t, "POST", "/api/device/claim/", alice.Token, map[string]any{"claim_code": code}), 400, apperr.CodeClaimCodeInvalid)

		// Guessing: mallory used 3 of her 5 attempts an hour above (one
		// bind, two claims); the rest is spent and then she is held off.
		for range 2 {
			expect(t, "guess", s.Do(t, "POST", "/api/device/claim/", mallory.Token, map[string]any{"claim_code": "ZZZZZZZZ"}), 400, apperr.CodeClaimCodeInvalid)
		}
		res = s.Do(t, "POST", "/api/device/claim/", mallory.Token, map[string]any{"claim_code": "ZZZZZZZZ"})
		expect(t, "guess over the limit", res, 429, apperr.CodeBindRate)
		if res.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	})
}

func claimCode(t *testing.T, s *testenv.Service, deviceToken string) string {
	t.Helper()
	res := s.Do(t, "POST", "/api/device/claim-code/", deviceToken, nil)
	if res.Status != 200 {
		t.Fatalf("claim code: %d %s", res.Status, res.Body)
	}
	var c struct {
		Code      string `json:"code"`
		ExpiresIn int    `json:"expires_in"`
	}
	res.Decode(t, &c)
	if c.ExpiresIn <= 0 {
		t.Fatalf("claim code expires_in %d", c.ExpiresIn)
	}
	return c.Code
}

// TestSignVector pins the HMAC of docs/devices.md's worked example.
func TestSignVector(t *testing.T) {
	const (
		secret = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		nonce  = "5f2b9c1e8a7d4f3b9e6c0a1d2b3c4d5e"
		mac    = "AA:BB:CC:00:00:01"
		ts     = int64(1767254400)
	)
	got, err := device.Sign(secret, nonce, mac, ts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("signature %s", got)
	if got != signVector {
		t.Fatalf("Sign = %s, want %s (docs/devices.md)", got, signVector)
	}
}

// signVector was computed with Python's hmac module (independently of
// this code): hmac.new(bytes(range(32)), nonce+"\n"+mac+"\n"+ts, sha256).
const signVector = "a40835b89a1dc98f6fb571fdd542dc583edd558aace3202619152e0259d34f5b"

// macLoginSecret logs in by MAC and returns the answer's device_secret
// ("" when there is none).
func macLoginSecret(t *testing.T, s *testenv.Service, mac string) string {
	t.Helper()
	res := s.Do(t, "POST", "/api/user/mac-login/", "", map[string]any{"mac_address": mac})
	expect(t, "mac login", res, 200, 200)
	var d struct {
		DeviceSecret *string `json:"device_secret"`
	}
	res.Decode(t, &d)
	if d.DeviceSecret == nil {
		return ""
	}
	if len(*d.DeviceSecret) != 64 {
		t.Fatalf("device_secret %q: want 64 hex digits", *d.DeviceSecret)
	}
	return *d.DeviceSecret
}

// TestSecretOnFirstLogin: a MAC login of a device without a secret
// issues one, pending until the device's first challenge login with it;
// a secret the device never used is replaced by the next MAC login's and
// stops working; once used, the secret is the device's, MAC login is
// refused and no further secret is issued (also not where an admin
// allows MAC login).
func TestSecretOnFirstLogin(t *testing.T) {
	cfg := testenv.Config(t, testenv.Postgres)
	cfg.Devices.SecretKey = make([]byte, 32)
	var accounts *account.Service
	a := testenv.StartWith(t, cfg, fx.Populate(&accounts))
	b := testenv.StartWith(t, cfg)
	admin := staffToken(t, a, accounts)
	alice := a.Register(t, "alice")
	const mac, unbound = "AA:BB:CC:30:00:01", "AA:BB:CC:30:00:02"
	a.Bind(t, alice.Token, mac)

	lost := macLoginSecret(t, a, mac)
	if lost == "" {
		t.Fatal("first MAC login: no device_secret")
	}
	// The device never stored it: its next MAC login still works and
	// gets another secret; the lost one no longer opens anything.
	secret := macLoginSecret(t, b, mac)
	if secret == "" || secret == lost {
		t.Fatalf("second MAC login: secret %q after %q, want a new one", secret, lost)
	}
	expect(t, "lost secret", deviceLogin(t, a, mac, challenge(t, a, mac), time.Now().Unix(), lost), 401, apperr.CodeDeviceAuthFailed)

	// The first challenge login with it (on the other instance) makes it
	// the device's; it keeps working.
	res := deviceLogin(t, a, mac, challenge(t, a, mac), time.Now().Unix(), secret)
	expect(t, "first device login", res, 200, 200)
	var l testenv.Login
	res.Decode(t, &l)
	if l.User.ID != alice.User.ID {
		t.Fatalf("device login as user %d, want %d", l.User.ID, alice.User.ID)
	}
	expect(t, "second device login", deviceLogin(t, b, mac, challenge(t, b, mac), time.Now().Unix(), secret), 200, 200)
	expect(t, "mac login after activation", a.Do(t, "POST", "/api/user/mac-login/", "", map[string]any{"mac_address": mac}), 403, apperr.CodeMACLoginRefused)

	// An admin allowing MAC login again does not get the device a new secret.
	expect(t, "allow", a.Do(t, "PUT", "/api/v1/admin/devices/"+strconv.Itoa(l.Device.ID)+"/mac-login/", admin, map[string]any{"mac_login": "allow"}), 200, 200)
	if got := macLoginSecret(t, a, mac); got != "" {
		t.Fatalf("MAC login of a device with a secret issued %q", got)
	}
	expect(t, "secret still works", deviceLogin(t, a, mac, challenge(t, a, mac), time.Now().Unix(), secret), 200, 200)

	// An unbound device's MAC login fails and issues nothing.
	expect(t, "unbound", a.Do(t, "POST", "/api/user/mac-login/", "", map[string]any{"mac_address": unbound}), 404, apperr.CodeDeviceNotBound)
	if n, err := a.Redis.Exists(t.Context(), a.Key("device:pending_secret:"+unbound)).Result(); err != nil || n != 0 {
		t.Fatalf("pending secret of an unbound device: %d %v", n, err)
	}
}

// TestNoSecretWithoutKey: where device secrets are not configured, MAC
// login issues none.
func TestNoSecretWithoutKey(t *testing.T) {
	cfg := testenv.Config(t, testenv.Postgres)
	cfg.Devices.SecretKey = nil
	s := testenv.StartWith(t, cfg)
	alice := s.Register(t, "alice")
	s.Bind(t, alice.Token, "AA:BB:CC:30:01:01")
	if got := macLoginSecret(t, s, "AA:BB:CC:30:01:01"); got != "" {
		t.Fatalf("device_secret %q without a secret key", got)
	}
}

// TestClaimCodeFrame: a device session asks for a claim code over the hub
// and an app binds with it; the frame's code retires the previous one; an
// app session is refused with the REST operation's business code.
func TestClaimCodeFrame(t *testing.T) {
	s := testenv.Start(t, testenv.Postgres)
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	const mac = "AA:BB:CC:20:01:01"
	s.Bind(t, alice.Token, mac)
	dev := s.Dial(t, s.MacLogin(t, mac).Token)
	restCode := claimCode(t, s, s.MacLogin(t, mac).Token)

	dev.Send(map[string]any{"type": "claim_code_request", "message": map[string]any{"request_id": "cc-1"}})
	f := dev.Expect("claim_code")
	var c struct {
		Code      string `json:"code"`
		ExpiresIn int    `json:"expires_in"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(f.Message, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Code) != device.ClaimCodeLength || c.ExpiresIn <= 0 || c.RequestID != "cc-1" {
		t.Fatalf("claim_code %s", f.Raw)
	}
	expect(t, "code from REST, retired", s.Do(t, "POST", "/api/device/claim/", bob.Token, map[string]any{"claim_code": restCode}), 400, apperr.CodeClaimCodeInvalid)
	res := s.Do(t, "POST", "/api/device/claim/", bob.Token, map[string]any{"claim_code": c.Code})
	expect(t, "claim with the frame's code", res, 200, 200)
	// Last bind wins: the device's session under alice closes.
	dev.ExpectClose(4003)

	app := s.Dial(t, bob.Token)
	app.Send(map[string]any{"type": "claim_code_request", "message": map[string]any{"request_id": "cc-2"}})
	e := app.ExpectError("not_allowed")
	var p struct {
		RequestID    string `json:"request_id"`
		BusinessCode int    `json:"business_code"`
	}
	if err := json.Unmarshal(e.Message, &p); err != nil {
		t.Fatal(err)
	}
	if p.RequestID != "cc-2" || p.BusinessCode != 403 {
		t.Fatalf("refusal %s, want request_id cc-2 and business_code 403", e.Raw)
	}
}

// TestImportSecrets: the CSV import provisions secrets for the rows that
// ask (or for every row, with secrets: true) and shows each once in its
// row; the secret logs the device in. Without a secret key an import
// asking for secrets is refused before anything is written.
func TestImportSecrets(t *testing.T) {
	cfg := testenv.Config(t, testenv.Postgres)
	cfg.Devices.SecretKey = make([]byte, 32)
	var accounts *account.Service
	s := testenv.StartWith(t, cfg, fx.Populate(&accounts))
	admin := staffToken(t, s, accounts)
	type row struct {
		MACAddress string  `json:"mac_address"`
		Status     string  `json:"status"`
		Message    string  `json:"message"`
		Secret     *string `json:"secret"`
	}
	importCSV := func(s *testenv.Service, admin string, body map[string]any) []row {
		t.Helper()
		res := s.Do(t, "POST", "/api/v1/admin/devices/import/", admin, body)
		expect(t, "import", res, 200, 200)
		var rep struct {
			Rows []row `json:"rows"`
		}
		res.Decode(t, &rep)
		return rep.Rows
	}
	const a, b, c = "AA:BB:CC:50:00:01", "AA:BB:CC:50:00:02", "AA:BB:CC:50:00:03"
	rows := importCSV(s, admin, map[string]any{"csv": "mac_address,secret\n" + a + ",yes\n" + b + ",\n" + c + ",maybe\n"})
	if len(rows) != 3 || rows[0].Secret == nil || len(*rows[0].Secret) != 64 || rows[1].Secret != nil ||
		rows[2].Status != "error" || rows[2].Secret != nil {
		t.Fatalf("rows %+v", rows)
	}
	alice := s.Register(t, "alice")
	s.Bind(t, alice.Token, a)
	expect(t, "login with the imported secret", deviceLogin(t, s, a, challenge(t, s, a), time.Now().Unix(), *rows[0].Secret), 200, 200)
	expect(t, "mac login of a device with an imported secret", s.Do(t, "POST", "/api/user/mac-login/", "", map[string]any{"mac_address": a}), 403, apperr.CodeMACLoginRefused)

	// secrets: true gives every row one, a known device a new one.
	rows = importCSV(s, admin, map[string]any{"csv": "mac_address\n" + a + "\n" + b + "\n", "secrets": true})
	if rows[0].Secret == nil || rows[1].Secret == nil || *rows[0].Secret == *rows[1].Secret {
		t.Fatalf("rows %+v", rows)
	}
	expect(t, "new secret", deviceLogin(t, s, a, challenge(t, s, a), time.Now().Unix(), *rows[0].Secret), 200, 200)

	// No key: refused, and the new device in the file is not created.
	cfg2 := testenv.Config(t, testenv.Postgres)
	cfg2.Devices.SecretKey = nil
	var accounts2 *account.Service
	s2 := testenv.StartWith(t, cfg2, fx.Populate(&accounts2))
	admin2 := staffToken(t, s2, accounts2)
	const d = "AA:BB:CC:50:00:04"
	res := s2.Do(t, "POST", "/api/v1/admin/devices/import/", admin2, map[string]any{"csv": "mac_address\n" + d + "\n", "secrets": true})
	expect(t, "import without a key", res, 503, apperr.CodeDeviceSecretsUnavailable)
	res = s2.Do(t, "GET", "/api/v1/admin/devices/?search="+d, admin2, nil)
	var page struct {
		Count int `json:"count"`
	}
	res.Decode(t, &page)
	if page.Count != 0 {
		t.Fatalf("refused import created %d devices", page.Count)
	}
}
