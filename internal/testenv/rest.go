package testenv

import (
	"net/http"
	"testing"

	"paradise/gen/api"
)

// Login is what the login endpoints return.
type Login struct {
	Token string `json:"token"`
	User  struct {
		ID       int    `json:"id"`
		Username string `json:"username"`
	} `json:"user"`
	Device struct {
		ID         int    `json:"id"`
		MACAddress string `json:"mac_address"`
	} `json:"device"`
}

// Password is the password Register gives its users.
const Password = "correct-horse-battery"

// Register creates a user with a unique name from stem and returns its
// login.
func (s *Service) Register(t testing.TB, stem string) Login {
	t.Helper()
	res, err := s.API(t, "").RegisterUser(t.Context(), &api.RegisterRequest{
		Username: api.Username(Name(stem)), Password: Password,
	})
	OK(t, res, err, http.StatusCreated)
	var l Login
	l.Token = res.Data.Token
	l.User.ID, l.User.Username = res.Data.User.ID, res.Data.User.Username
	return l
}

// Bind binds the device with this MAC to the token's user and returns the
// device id.
func (s *Service) Bind(t testing.TB, token, mac string) int {
	t.Helper()
	res, err := s.API(t, token).BindDevice(t.Context(), &api.BindRequest{MACAddress: api.MacAddress(mac)})
	OK(t, res, err, http.StatusOK)
	return res.Data.ID
}

// MacLogin logs in as the device with this MAC.
func (s *Service) MacLogin(t testing.TB, mac string) Login {
	t.Helper()
	res, err := s.API(t, "").MacLogin(t.Context(), &api.MacRequest{MACAddress: api.MacAddress(mac)})
	OK(t, res, err, http.StatusOK)
	var l Login
	l.Token = res.Data.Token
	l.User.ID, l.User.Username = res.Data.User.ID, res.Data.User.Username
	l.Device.ID, l.Device.MACAddress = res.Data.Device.ID, res.Data.Device.MACAddress
	return l
}
