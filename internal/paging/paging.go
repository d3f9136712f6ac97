// Package paging implements the list pagination clients know from the
// Django system: page and page_size query parameters, and
// {count, next, previous, results} with absolute next/previous links.
package paging

import (
	"context"
	"math"
	"net/url"
	"strconv"

	"paradise/internal/apperr"
)

const (
	// DefaultSize is the page size when page_size is absent.
	DefaultSize = 10
	// MaxSize caps page_size; larger values are served as MaxSize.
	MaxSize = 100
)

// Page is one requested page.
type Page struct {
	Number int // from 1
	Size   int
}

// New builds a page request; absent values are zero.
func New(number, size int) Page {
	if number < 1 {
		number = 1
	}
	switch {
	case size < 1:
		size = DefaultSize
	case size > MaxSize:
		size = MaxSize
	}
	return Page{Number: number, Size: size}
}

// Offset is the number of items before the page. A page number so large
// that the offset overflows gives math.MaxInt instead of wrapping around to
// a negative offset (which Postgres refuses and SQLite reads as 0); Check
// refuses such a page before the query that would use it.
func (p Page) Offset() int {
	if p.Number-1 > math.MaxInt/p.Size {
		return math.MaxInt
	}
	return (p.Number - 1) * p.Size
}

// pages is the number of pages count items fill, at least 1: the first
// page always exists. It divides instead of multiplying, so no page number
// can overflow it.
func (p Page) pages(count int) int {
	n := count / p.Size
	if count%p.Size != 0 {
		n++
	}
	return max(n, 1)
}

// Check rejects a page past the last one, as the Django system did; the
// first page always exists, empty or not. Services call it after counting
// and before listing, so no list query runs with an offset past the end.
func (p Page) Check(count int) error {
	if p.Number > p.pages(count) {
		return apperr.NotFound("Invalid page.")
	}
	return nil
}

// Links returns the URLs of the next and previous pages of u, or nil where
// there is none. The previous link of page 2 drops the page parameter.
func Links(u *url.URL, p Page, count int) (next, prev *string) {
	if u == nil {
		return nil, nil
	}
	if p.Number < p.pages(count) {
		s := withPage(u, p.Number+1)
		next = &s
	}
	if p.Number > 1 {
		s := withPage(u, p.Number-1)
		prev = &s
	}
	return next, prev
}

func withPage(u *url.URL, number int) string {
	c := *u
	q := c.Query()
	if number <= 1 {
		q.Del("page")
	} else {
		q.Set("page", strconv.Itoa(number))
	}
	c.RawQuery = q.Encode()
	return c.String()
}

type urlKey struct{}

// WithURL returns a context carrying the absolute URL of the request, from
// which Links builds page links.
func WithURL(ctx context.Context, u *url.URL) context.Context {
	return context.WithValue(ctx, urlKey{}, u)
}

// URL returns the request URL carried by ctx, or nil.
func URL(ctx context.Context) *url.URL {
	u, _ := ctx.Value(urlKey{}).(*url.URL)
	return u
}
