package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Envelope is the response body every REST call returns.
type Envelope struct {
	Success bool            `json:"success"`
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// Response is a decoded REST response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	Envelope
}

// Decode unmarshals the envelope's data into v, failing the test on error.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Data, err)
	}
}

// Do sends a request to the service. body is JSON-encoded unless it is a
// string or nil; token, when set, goes in "Authorization: Token <token>".
// A body that is not an envelope fails the test: every response must be.
func (s *Service) Do(t testing.TB, method, path, token string, body any) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	return s.Send(t, req)
}

// Send sends a prepared request and decodes the envelope.
func (s *Service) Send(t testing.TB, req *http.Request) *Response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := &Response{Status: res.StatusCode, Header: res.Header, Body: data}
	if err := json.Unmarshal(data, &out.Envelope); err != nil {
		t.Fatalf("%s %s: status %d, body is not an envelope: %q", req.Method, req.URL.Path, res.StatusCode, data)
	}
	if want := res.StatusCode >= 200 && res.StatusCode < 300; out.Success != want {
		t.Fatalf("%s %s: status %d but success=%t: %s", req.Method, req.URL.Path, res.StatusCode, out.Success, data)
	}
	return out
}
