// Package httpapi serves the REST API: it implements the ogen-generated
// api.Handler over the domain services and wraps the generated server with
// the envelope, logging and docs.
package httpapi

import (
	"context"

	"go.uber.org/zap"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/auth"
	"paradise/internal/device"
	"paradise/internal/hub"
	"paradise/internal/paging"
)

// API implements api.Handler. Handlers translate only: spec types in,
// service calls, spec types out; services own the rules.
type API struct {
	accounts *account.Service
	devices  *device.Service
	hub      *hub.Hub
	log      *zap.Logger
}

var (
	_ api.Handler         = (*API)(nil)
	_ api.SecurityHandler = (*API)(nil)
)

// NewAPI returns the handler.
func NewAPI(accounts *account.Service, devices *device.Service, h *hub.Hub, log *zap.Logger) *API {
	return &API{accounts: accounts, devices: devices, hub: h, log: log.Named("http")}
}

const okMessage = "OK"

type principalKey struct{}

// HandleTokenAuth implements the TokenAuth scheme: a user token.
func (a *API) HandleTokenAuth(ctx context.Context, _ api.OperationName, t api.TokenAuth) (context.Context, error) {
	return a.authenticate(ctx, auth.User, t.APIKey)
}

// HandleAdminTokenAuth implements the AdminTokenAuth scheme: a staff
// user's admin token.
func (a *API) HandleAdminTokenAuth(ctx context.Context, _ api.OperationName, t api.AdminTokenAuth) (context.Context, error) {
	return a.authenticate(ctx, auth.Admin, t.APIKey)
}

func (a *API) authenticate(ctx context.Context, kind auth.Kind, header string) (context.Context, error) {
	token, ok := auth.ParseHeader(header)
	if !ok {
		return ctx, apperr.Unauthorized("Invalid token header. Use: Authorization: Token <token>.")
	}
	p, err := a.accounts.Authenticate(ctx, kind, token)
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

// principal is the caller authenticated by the security handler. ogen
// calls the security handler before every secured operation, so a
// secured handler always finds one.
func principal(ctx context.Context) *account.Principal {
	p, _ := ctx.Value(principalKey{}).(*account.Principal)
	return p
}

// page reads the page and page_size parameters.
func page(number, size api.OptInt) paging.Page {
	return paging.New(number.Or(0), size.Or(0))
}

// links builds next/previous for a page of the current request.
func links(ctx context.Context, p paging.Page, count int) (next, prev api.NilString) {
	n, pr := paging.Links(paging.URL(ctx), p, count)
	return nilString(n), nilString(pr)
}

func nilString(s *string) api.NilString {
	if s == nil {
		return api.NilString{Null: true}
	}
	return api.NewNilString(*s)
}
