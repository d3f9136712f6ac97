package paging_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"paradise/internal/apperr"
	"paradise/internal/paging"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name         string
		number, size int
		want         paging.Page
	}{
		{"absent values take defaults", 0, 0, paging.Page{Number: 1, Size: 10}},
		{"explicit values kept", 3, 25, paging.Page{Number: 3, Size: 25}},
		{"negative page is page 1", -4, 10, paging.Page{Number: 1, Size: 10}},
		{"size 1 is the smallest", 1, 1, paging.Page{Number: 1, Size: 1}},
		{"size below 1 gives the default", 2, -1, paging.Page{Number: 2, Size: 10}},
		{"max size kept", 1, 100, paging.Page{Number: 1, Size: 100}},
		{"size above max clamped to max", 1, 101, paging.Page{Number: 1, Size: 100}},
		{"huge size clamped to max", 5, 1 << 30, paging.Page{Number: 5, Size: 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := paging.New(tc.number, tc.size); got != tc.want {
				t.Fatalf("New(%d, %d) = %+v, want %+v", tc.number, tc.size, got, tc.want)
			}
		})
	}
	if paging.DefaultSize != 10 || paging.MaxSize != 100 {
		t.Fatalf("DefaultSize, MaxSize = %d, %d; want 10, 100", paging.DefaultSize, paging.MaxSize)
	}
}

func TestOffset(t *testing.T) {
	tests := []struct {
		name string
		page paging.Page
		want int
	}{
		{"first page", paging.Page{Number: 1, Size: 10}, 0},
		{"second page", paging.Page{Number: 2, Size: 10}, 10},
		{"odd size", paging.Page{Number: 4, Size: 7}, 21},
		{"via New with defaults", paging.New(3, 0), 20},
		// A negative offset is a 500 on Postgres and the first page on
		// SQLite; an overflowing page number saturates instead.
		{"overflowing page saturates", paging.New(922337203685477582, 10), math.MaxInt},
		{"largest page saturates", paging.New(math.MaxInt, 100), math.MaxInt},
		{"largest page of size 1 fits", paging.New(math.MaxInt, 1), math.MaxInt - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.page.Offset(); got != tc.want {
				t.Fatalf("%+v.Offset() = %d, want %d", tc.page, got, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		page    paging.Page
		count   int
		invalid bool
	}{
		{"page 1 of an empty list", paging.New(1, 10), 0, false},
		{"page 1 of a short list", paging.New(1, 10), 3, false},
		{"last full page", paging.New(2, 10), 20, false},
		{"last partial page", paging.New(3, 10), 21, false},
		{"page 2 of an empty list", paging.New(2, 10), 0, true},
		{"just past the end", paging.New(3, 10), 20, true},
		{"far past the end", paging.New(99, 10), 5, true},
		{"overflowing page of a short list", paging.New(922337203685477582, 10), 5, true},
		{"largest page of an empty list", paging.New(math.MaxInt, 100), 0, true},
		{"largest page of the largest list", paging.New(math.MaxInt, 100), math.MaxInt, true},
		{"last page of the largest list", paging.New(math.MaxInt/100+1, 100), math.MaxInt, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.page.Check(tc.count)
			if !tc.invalid {
				if err != nil {
					t.Fatalf("Check(%d) on %+v = %v, want nil", tc.count, tc.page, err)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) {
				t.Fatalf("Check(%d) on %+v = %v (%T), want *apperr.Error", tc.count, tc.page, err, err)
			}
			if ae.Status != http.StatusNotFound || ae.Code != http.StatusNotFound || ae.Message != "Invalid page." {
				t.Fatalf("Check error = {Status: %d, Code: %d, Message: %q}, want 404/404/%q",
					ae.Status, ae.Code, ae.Message, "Invalid page.")
			}
		})
	}
}

func TestLinks(t *testing.T) {
	base := "http://api.example.com/api/device/types/"
	tests := []struct {
		name     string
		url      string
		page     paging.Page
		count    int
		wantNext string // "" = nil
		wantPrev string
	}{
		{
			name: "only page", url: base, page: paging.New(1, 10), count: 10,
		},
		{
			name: "empty list", url: base, page: paging.New(1, 10), count: 0,
		},
		{
			name: "first of two", url: base, page: paging.New(1, 10), count: 11,
			wantNext: base + "?page=2",
		},
		{
			name: "page 2 of 3 keeps other params; previous drops page", page: paging.New(2, 5), count: 12,
			url:      base + "?page=2&page_size=5&search=caf%C3%A9+bar",
			wantNext: base + "?page=3&page_size=5&search=caf%C3%A9+bar",
			wantPrev: base + "?page_size=5&search=caf%C3%A9+bar",
		},
		{
			name: "last page has no next", page: paging.New(3, 5), count: 12,
			url:      base + "?page=3&page_size=5",
			wantPrev: base + "?page=2&page_size=5",
		},
		{
			name: "exactly full last page has no next", page: paging.New(2, 5), count: 10,
			url:      base + "?page=2&page_size=5",
			wantPrev: base + "?page_size=5",
		},
		{
			name: "overflowing page number has no next link", page: paging.New(922337203685477582, 10), count: 5,
			url:      base + "?page=922337203685477582",
			wantPrev: base + "?page=922337203685477581",
		},
		{
			name: "https and port kept", page: paging.New(2, 1), count: 3,
			url:      "https://example.com:8443/api/v1/admin/users/?page=2&page_size=1",
			wantNext: "https://example.com:8443/api/v1/admin/users/?page=3&page_size=1",
			wantPrev: "https://example.com:8443/api/v1/admin/users/?page_size=1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			before := u.String()
			next, prev := paging.Links(u, tc.page, tc.count)
			checkLink(t, "next", next, tc.wantNext)
			checkLink(t, "previous", prev, tc.wantPrev)
			if u.String() != before {
				t.Fatalf("Links modified its input URL: %s -> %s", before, u)
			}
		})
	}
	t.Run("nil URL gives nil links", func(t *testing.T) {
		next, prev := paging.Links(nil, paging.New(2, 5), 100)
		if next != nil || prev != nil {
			t.Fatalf("Links(nil) = %v, %v; want nil, nil", next, prev)
		}
	})
}

// checkLink compares links as URLs: same scheme, host, path and query
// values, whatever the parameter order.
func checkLink(t *testing.T, which string, got *string, want string) {
	t.Helper()
	if want == "" {
		if got != nil {
			t.Fatalf("%s = %q, want nil", which, *got)
		}
		return
	}
	if got == nil {
		t.Fatalf("%s = nil, want %q", which, want)
	}
	g, err := url.Parse(*got)
	if err != nil {
		t.Fatalf("%s %q: %v", which, *got, err)
	}
	w, _ := url.Parse(want)
	if !g.IsAbs() {
		t.Fatalf("%s = %q, want an absolute URL", which, *got)
	}
	if g.Scheme != w.Scheme || g.Host != w.Host || g.Path != w.Path || !reflect.DeepEqual(g.Query(), w.Query()) {
		t.Fatalf("%s = %q, want %q", which, *got, want)
	}
}

func TestURLContext(t *testing.T) {
	if got := paging.URL(context.Background()); got != nil {
		t.Fatalf("URL(empty context) = %v, want nil", got)
	}
	u := &url.URL{Scheme: "http", Host: "h", Path: "/p"}
	if got := paging.URL(paging.WithURL(context.Background(), u)); got != u {
		t.Fatalf("URL(WithURL(u)) = %v, want %v", got, u)
	}
}
