package testenv

import (
	"net/http"
	"testing"
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

// Register creates a user with a unique name from stem and returns its
// login.
func (s *Service) Register(t testing.TB, stem string) Login {
	t.Helper()
	res := s.Do(t, http.MethodPost, "/api/user/register/", "", map[string]string{
		"username": Name(stem), "password": "correct-horse-battery",
	})
	if res.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	var l Login
	res.Decode(t, &l)
	return l
}

// Bind binds the device with this MAC to the token's user and returns the
// device id.
func (s *Service) Bind(t testing.TB, token, mac string) int {
	t.Helper()
	res := s.Do(t, http.MethodPost, "/api/device/bind/", token, map[string]string{"mac_address": mac})
	if res.Status != http.StatusOK {
		t.Fatalf("bind %s: %d %s", mac, res.Status, res.Body)
	}
	var d struct {
		ID int `json:"id"`
	}
	res.Decode(t, &d)
	return d.ID
}

// MacLogin logs in as the device with this MAC.
func (s *Service) MacLogin(t testing.TB, mac string) Login {
	t.Helper()
	res := s.Do(t, http.MethodPost, "/api/user/mac-login/", "", map[string]string{"mac_address": mac})
	if res.Status != http.StatusOK {
		t.Fatalf("mac login %s: %d %s", mac, res.Status, res.Body)
	}
	var l Login
	res.Decode(t, &l)
	return l
}
