package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"go.uber.org/fx"

	"paradise/internal/account"
	"paradise/internal/testenv"
)

// env is a running service plus what the suite needs to set up state.
type env struct {
	*testenv.Service
	accounts *account.Service
}

// start runs the service on the backend with access to the account service
// (to create staff users, which have no public endpoint).
func start(t *testing.T, b testenv.Backend) *env {
	t.Helper()
	e := &env{}
	e.Service = testenv.Start(t, b, fx.Populate(&e.accounts))
	return e
}

// forEachBackend runs fn as a parallel subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range testenv.Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			fn(t, start(t, b))
		})
	}
}

type user struct {
	ID           int      `json:"id"`
	Username     string   `json:"username"`
	Nickname     string   `json:"nickname"`
	Gender       string   `json:"gender"`
	Mbti         string   `json:"mbti"`
	Interests    []string `json:"interests"`
	IsStaff      bool     `json:"is_staff"`
	IsActive     bool     `json:"is_active"`
	LastLogin    *string  `json:"last_login"`
	DateJoined   string   `json:"date_joined"`
	Favorability int      `json:"favorability"`
}

type authData struct {
	Token string `json:"token"`
	User  user   `json:"user"`
}

type deviceType struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type device struct {
	ID           int         `json:"id"`
	MACAddress   string      `json:"mac_address"`
	Name         string      `json:"name"`
	DeviceType   *deviceType `json:"device_type"`
	Status       string      `json:"status"`
	BatteryLevel *int        `json:"battery_level"`
	BoundAt      *string     `json:"bound_at"`
}

type macLoginData struct {
	Token  string `json:"token"`
	User   user   `json:"user"`
	Device device `json:"device"`
}

type page[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

const password = "correct-horse-battery"

// register creates a user with a unique name and returns its login.
func (e *env) register(t *testing.T, stem string) authData {
	t.Helper()
	res := e.Do(t, http.MethodPost, "/api/user/register/", "", map[string]string{
		"username": testenv.Name(stem), "password": password,
	})
	expect(t, res, http.StatusCreated, 201)
	var a authData
	res.Decode(t, &a)
	return a
}

// staff creates a staff user and logs in to the admin.
func (e *env) staff(t *testing.T) authData {
	t.Helper()
	name := testenv.Name("staff")
	if _, err := e.accounts.CreateSuperuser(context.Background(), name, password); err != nil {
		t.Fatal(err)
	}
	res := e.Do(t, http.MethodPost, "/api/v1/admin/login/", "", map[string]string{"username": name, "password": password})
	expect(t, res, http.StatusOK, 200)
	var a authData
	res.Decode(t, &a)
	return a
}

func (e *env) bind(t *testing.T, token, mac string) device {
	t.Helper()
	res := e.Do(t, http.MethodPost, "/api/device/bind/", token, map[string]any{"mac_address": mac})
	expect(t, res, http.StatusOK, 200)
	var d device
	res.Decode(t, &d)
	return d
}

func (e *env) macLogin(t *testing.T, mac string) *testenv.Response {
	t.Helper()
	return e.Do(t, http.MethodPost, "/api/user/mac-login/", "", map[string]string{"mac_address": mac})
}

func (e *env) devices(t *testing.T, token string) page[device] {
	t.Helper()
	res := e.Do(t, http.MethodGet, "/api/device/devices/", token, nil)
	expect(t, res, http.StatusOK, 200)
	var p page[device]
	res.Decode(t, &p)
	return p
}

// expect checks the status and envelope code of a response.
func expect(t *testing.T, res *testenv.Response, status, code int) {
	t.Helper()
	if res.Status != status || res.Code != code {
		t.Fatalf("got status %d code %d, want %d/%d: %s", res.Status, res.Code, status, code, res.Body)
	}
}

// randomMAC is a unique MAC address in lower-case, no separators.
func randomMAC() string {
	return testenv.RandomID()
}
