package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"go.uber.org/fx"

	"paradise/gen/api"
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

// forEachBackend runs fn as a parallel subtest per backend
// (testenv.ForEachBackend), each on its own service.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		fn(t, start(t, b))
	})
}

const password = testenv.Password

// register creates a user with a unique name and returns its login.
func (e *env) register(t *testing.T, stem string) api.AuthData {
	t.Helper()
	res, err := e.API(t, "").RegisterUser(t.Context(), &api.RegisterRequest{
		Username: api.Username(testenv.Name(stem)), Password: password,
	})
	return testenv.OK(t, res, err, http.StatusCreated).Data
}

// login logs the user in with the password.
func (e *env) login(t *testing.T, username string) api.AuthData {
	t.Helper()
	res, err := e.API(t, "").LoginUser(t.Context(), &api.LoginRequest{Username: username, Password: password})
	return testenv.OK(t, res, err, http.StatusOK).Data
}

// staff creates a staff user and logs in to the admin.
func (e *env) staff(t *testing.T) api.AuthData {
	t.Helper()
	name := testenv.Name("staff")
	if _, err := e.accounts.CreateSuperuser(context.Background(), name, password); err != nil {
		t.Fatal(err)
	}
	res, err := e.API(t, "").AdminLogin(t.Context(), &api.LoginRequest{Username: name, Password: password})
	return testenv.OK(t, res, err, http.StatusOK).Data
}

func (e *env) bind(t *testing.T, token, mac string) api.Device {
	t.Helper()
	res, err := e.API(t, token).BindDevice(t.Context(), &api.BindRequest{MACAddress: api.MacAddress(mac)})
	return testenv.OK(t, res, err, http.StatusOK).Data
}

// macLogin sends a MAC login as is (for its error responses).
func (e *env) macLogin(t *testing.T, mac string) *testenv.Response {
	t.Helper()
	return e.Do(t, http.MethodPost, "/api/user/mac-login/", "", map[string]string{"mac_address": mac})
}

// deviceLogin is a MAC login that must succeed.
func (e *env) deviceLogin(t *testing.T, mac string) api.MacLoginData {
	t.Helper()
	res, err := e.API(t, "").MacLogin(t.Context(), &api.MacRequest{MACAddress: api.MacAddress(mac)})
	return testenv.OK(t, res, err, http.StatusOK).Data
}

// devices lists the token's devices (first page).
func (e *env) devices(t *testing.T, token string) api.DevicePage {
	t.Helper()
	return e.listDevices(t, token, api.ListDevicesParams{})
}

func (e *env) listDevices(t *testing.T, token string, params api.ListDevicesParams) api.DevicePage {
	t.Helper()
	res, err := e.API(t, token).ListDevices(t.Context(), params)
	return testenv.OK(t, res, err, http.StatusOK).Data
}

// expect checks the status and envelope code of a response.
func expect(t *testing.T, res *testenv.Response, status, code int) {
	t.Helper()
	if res.Status != status || res.Code != code {
		t.Fatalf("got status %d code %d, want %d/%d: %s", res.Status, res.Code, status, code, res.Body)
	}
}

// bindTyped binds a new device of the type to the token's user and
// returns its id.
func (e *env) bindTyped(t *testing.T, token string, typeID int) int {
	t.Helper()
	res, err := e.API(t, token).BindDevice(t.Context(), &api.BindRequest{MACAddress: api.MacAddress(randomMAC()), DeviceTypeID: api.NewOptInt(typeID)})
	return testenv.OK(t, res, err, http.StatusOK).Data.ID
}

// randomMAC is a unique MAC address in lower-case, no separators.
func randomMAC() string {
	return testenv.RandomID()
}
