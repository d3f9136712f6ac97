package apperr_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"paradise/internal/apperr"
)

func TestFlatten(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string][]string
		want   string
	}{
		{"nil map", nil, "Invalid input."},
		{"empty map", map[string][]string{}, "Invalid input."},
		{"one field", map[string][]string{"password": {"This field is required."}},
			"password: This field is required."},
		{"fields sorted by name", map[string][]string{
			"username":    {"Taken."},
			"password":    {"Too short."},
			"device.name": {"Blank."},
		}, "device.name: Blank.; password: Too short.; username: Taken."},
		{"several messages for one field joined", map[string][]string{
			"password": {"Too short.", "Too common."},
		}, "password: Too short. Too common."},
		{"empty field name renders bare message", map[string][]string{
			"":         {"Passwords do not match."},
			"username": {"Taken."},
		}, "Passwords do not match.; username: Taken."},
		{"array element names", map[string][]string{
			"interests[3]":  {"Too long."},
			"interests[10]": {"Blank."},
		}, "interests[10]: Blank.; interests[3]: Too long."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := apperr.Flatten(tc.fields); got != tc.want {
				t.Fatalf("Flatten(%v) = %q, want %q", tc.fields, got, tc.want)
			}
		})
	}
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		name    string
		err     *apperr.Error
		status  int
		code    int
		message string
		fields  map[string][]string
	}{
		{"bad request", apperr.BadRequest("Nope."), 400, 400, "Nope.", nil},
		{"unauthorized", apperr.Unauthorized("Who?"), 401, 401, "Who?", nil},
		{"forbidden", apperr.Forbidden("No."), 403, 403, "No.", nil},
		{"not found", apperr.NotFound("Gone."), 404, 404, "Gone.", nil},
		{"conflict", apperr.Conflict("Clash."), 409, 409, "Clash.", nil},
		{"device not bound", apperr.DeviceNotBound(), http.StatusNotFound, 4010,
			"Device is not bound to any user.", nil},
		{"field", apperr.Field("mac_address", "Enter a valid MAC address."), 400, 400,
			"mac_address: Enter a valid MAC address.",
			map[string][]string{"mac_address": {"Enter a valid MAC address."}}},
		{"validation", apperr.Validation(map[string][]string{
			"username": {"Required."}, "password": {"Required.", "Short."},
		}), 400, 400, "password: Required. Short.; username: Required.",
			map[string][]string{"username": {"Required."}, "password": {"Required.", "Short."}}},
		{"validation without fields", apperr.Validation(nil), 400, 400, "Invalid input.", nil},
		{"self action", apperr.SelfAction("Not yourself."), 403, 4040, "Not yourself.", nil},
		{"import rejected", apperr.ImportRejected("csv", "No header."), 400, 4041, "csv: No header.",
			map[string][]string{"csv": {"No header."}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.err
			if e.Status != tc.status || e.Code != tc.code || e.Message != tc.message {
				t.Fatalf("got {Status: %d, Code: %d, Message: %q}, want {%d, %d, %q}",
					e.Status, e.Code, e.Message, tc.status, tc.code, tc.message)
			}
			if len(e.Fields) != 0 || len(tc.fields) != 0 {
				if !reflect.DeepEqual(e.Fields, tc.fields) {
					t.Fatalf("Fields = %v, want %v", e.Fields, tc.fields)
				}
			}
			if e.Error() != tc.message {
				t.Fatalf("Error() = %q, want the message %q", e.Error(), tc.message)
			}
			if e.Unwrap() != nil {
				t.Fatalf("Unwrap() = %v, want nil", e.Unwrap())
			}
		})
	}
	if apperr.CodeDeviceNotBound != 4010 {
		t.Fatalf("CodeDeviceNotBound = %d, want 4010", apperr.CodeDeviceNotBound)
	}
	busy := apperr.Unavailable("Busy.", 3*time.Second)
	if busy.Status != 503 || busy.Code != 5031 || busy.RetryAfter != 3*time.Second {
		t.Fatalf("Unavailable = {Status: %d, Code: %d, RetryAfter: %v}, want {503, 5031, 3s}", busy.Status, busy.Code, busy.RetryAfter)
	}
}

func TestTooManyRequests(t *testing.T) {
	if apperr.CodeTooManyRequests != 4291 {
		t.Fatalf("CodeTooManyRequests = %d, want 4291", apperr.CodeTooManyRequests)
	}
	tests := []struct {
		name       string
		retryAfter time.Duration
		want       time.Duration
	}{
		{"kept", 90 * time.Second, 90 * time.Second},
		{"fraction kept (rounded up when written)", 1500 * time.Millisecond, 1500 * time.Millisecond},
		{"under a second is one", 10 * time.Millisecond, time.Second},
		{"zero is one", 0, time.Second},
		{"negative is one", -time.Minute, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := apperr.TooManyRequests("Daily message limit reached.", tc.retryAfter)
			if e.Status != http.StatusTooManyRequests || e.Code != 4291 || e.Message != "Daily message limit reached." || e.RetryAfter != tc.want {
				t.Fatalf("got {Status: %d, Code: %d, Message: %q, RetryAfter: %v}, want {429, 4291, ..., %v}",
					e.Status, e.Code, e.Message, e.RetryAfter, tc.want)
			}
		})
	}
}

func TestUnwrap(t *testing.T) {
	cause := fmt.Errorf("query users: %w", io.ErrUnexpectedEOF)
	e := &apperr.Error{Status: 500, Code: 500, Message: "Internal server error.", Err: cause}
	tests := []struct {
		name string
		err  error
	}{
		{"direct", e},
		{"wrapped", fmt.Errorf("handler: %w", e)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, io.ErrUnexpectedEOF) {
				t.Fatalf("errors.Is(%v, io.ErrUnexpectedEOF) = false", tc.err)
			}
			var ae *apperr.Error
			if !errors.As(tc.err, &ae) || ae != e {
				t.Fatalf("errors.As did not find the *apperr.Error in %v", tc.err)
			}
		})
	}
	if got, want := e.Error(), "Internal server error.: query users: unexpected EOF"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"short kept", "abc", 5, "abc"},
		{"exact kept", "abcde", 5, "abcde"},
		{"cut with a mark", "abcdefgh", 6, "abc…"},
		{"cut at a character boundary", "中文中文", 7, "中…"},
		{"limit below the mark", "abcdef", 2, "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := apperr.Truncate(tc.s, tc.n)
			if got != tc.want {
				t.Fatalf("Truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("Truncate(%q, %d) = %q, not valid UTF-8", tc.s, tc.n, got)
			}
		})
	}
}

func TestBounded(t *testing.T) {
	long := strings.Repeat("x", 100000)
	fields := map[string][]string{}
	for i := range apperr.MaxFields + 5 {
		fields[fmt.Sprintf("f%02d", i)] = []string{long}
	}
	e := &apperr.Error{Status: 400, Code: 400, Message: long, Fields: fields}
	b := e.Bounded()
	if len(b.Message) > apperr.MaxMessageBytes {
		t.Fatalf("message of %d bytes, want at most %d", len(b.Message), apperr.MaxMessageBytes)
	}
	if len(b.Fields) != apperr.MaxFields {
		t.Fatalf("%d fields, want %d", len(b.Fields), apperr.MaxFields)
	}
	if _, ok := b.Fields["f00"]; !ok {
		t.Fatalf("fields %v do not keep the first by name", b.Fields)
	}
	for name, msgs := range b.Fields {
		if len(msgs) != 1 || len(msgs[0]) > apperr.MaxMessageBytes {
			t.Fatalf("field %s: messages of %d bytes, want one of at most %d", name, len(msgs[0]), apperr.MaxMessageBytes)
		}
	}
	if e.Message != long || len(e.Fields) != apperr.MaxFields+5 {
		t.Fatal("Bounded modified the original error")
	}
	bad := (&apperr.Error{Message: "value \xff", Fields: map[string][]string{"a\xff": {"b\xfe"}}}).Bounded()
	if bad.Message != "value \uFFFD" || len(bad.Fields["a\uFFFD"]) != 1 || bad.Fields["a\uFFFD"][0] != "b\uFFFD" {
		t.Fatalf("invalid UTF-8 not replaced: %+v", bad)
	}
	small := apperr.Field("name", "Too long.")
	if got := small.Bounded(); got.Message != small.Message || len(got.Fields) != 1 || got.Status != 400 {
		t.Fatalf("small error changed: %+v", got)
	}
}
