package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCheckInput runs requests through checkInput in front of a handler
// that answers 200 with the body it read.
func TestCheckInput(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("handler read: %v", err)
		}
		_, _ = w.Write(b)
	})
	h := limitBody(checkInput(next))
	tests := []struct {
		name        string
		target      string
		contentType string
		body        string
		status      int
		message     string // a substring of the envelope's message
	}{
		{name: "clean query", target: "/x/?page=2&search=%E4%B8%AD", status: 200},
		{name: "NUL in query value", target: "/x/?search=a%00b", status: 400, message: "search: Null characters are not allowed."},
		{name: "invalid UTF-8 in query value", target: "/x/?search=%ff", status: 400, message: "search: Invalid UTF-8."},
		{name: "surrogate in query value", target: "/x/?search=%ed%a0%80", status: 400, message: "search: Invalid UTF-8."},
		{name: "NUL in query name", target: "/x/?a%00=1", status: 400, message: `a\u0000: Null characters are not allowed.`},
		{name: "malformed escape", target: "/x/?page=%zz", status: 400, message: "Malformed query string."},
		{name: "NUL in path", target: "/x/%00/", status: 400, message: "Request path: null characters are not allowed."},
		{name: "clean JSON body passed on whole", target: "/x/", contentType: "application/json", body: `{"a":"中"}`, status: 200},
		{name: "NUL in JSON body", target: "/x/", contentType: "application/json", body: `{"a":"\u0000"}`, status: 400, message: "Request body: null characters are not allowed (at byte 6)."},
		{name: "NUL in JSON body without content type", target: "/x/", body: `{"a":"\u0000"}`, status: 400, message: "null characters"},
		{name: "NUL in JSON body with charset", target: "/x/", contentType: "application/json; charset=utf-8", body: `{"a":"\u0000"}`, status: 400, message: "null characters"},
		{name: "lone surrogate in JSON body", target: "/x/", contentType: "application/json", body: `{"a":"\udc00"}`, status: 400, message: "unpaired UTF-16 surrogate"},
		{name: "invalid UTF-8 in JSON body", target: "/x/", contentType: "application/json", body: "{\"a\":\"\xff\"}", status: 400, message: "invalid UTF-8"},
		{name: "other media types are left to the router", target: "/x/", contentType: "text/plain", body: "\x00\xff", status: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req := httptest.NewRequest("POST", tc.target, body)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 200 {
				if rec.Body.String() != tc.body {
					t.Fatalf("handler read %q, want %q", rec.Body, tc.body)
				}
				return
			}
			var env struct {
				Success bool   `json:"success"`
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
				t.Fatalf("not an envelope: %q", rec.Body)
			}
			if env.Success || env.Code != tc.status || !strings.Contains(env.Message, tc.message) {
				t.Fatalf("envelope %+v, want code %d and a message containing %q", env, tc.status, tc.message)
			}
		})
	}

	t.Run("oversized body reaches the handler as MaxBytesError", func(t *testing.T) {
		var readErr error
		h := limitBody(checkInput(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, readErr = io.ReadAll(r.Body)
		})))
		req := httptest.NewRequest("POST", "/x/", strings.NewReader(`{"a":"`+strings.Repeat("a", maxBodyBytes)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(httptest.NewRecorder(), req)
		var tooBig *http.MaxBytesError
		if !errors.As(readErr, &tooBig) {
			t.Fatalf("handler read error %v, want *http.MaxBytesError (classify turns it into 413)", readErr)
		}
	})
}

func TestLimitHeaders(t *testing.T) {
	h := limitHeaders(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeOK(w) }))
	tests := []struct {
		name    string
		padding int
		status  int
	}{
		{"small headers", 100, 200},
		{"just under the limit", maxHeaderBytes - 1000, 200},
		{"over the limit", maxHeaderBytes + 1, 431},
		{"far over the limit", 1 << 20, 431},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/x/", nil)
			req.Header.Set("X-Padding", strings.Repeat("a", tc.padding))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q, want the JSON envelope", ct)
			}
			if tc.status == 431 && rec.Header().Get("Connection") != "close" {
				t.Fatalf("431 without Connection: close")
			}
		})
	}
}
