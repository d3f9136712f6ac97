package httpapi

import (
	"context"
	"net/http"

	"paradise/gen/api"
	"paradise/internal/auth"
)

// AdminLogin implements adminLogin (POST /api/v1/admin/login/).
func (a *API) AdminLogin(ctx context.Context, req *api.LoginRequest) (*api.AuthEnvelope, error) {
	u, token, err := a.accounts.Login(ctx, auth.Admin, req.Username, req.Password)
	if err != nil {
		return nil, err
	}
	return &api.AuthEnvelope{Success: true, Code: http.StatusOK, Message: okMessage,
		Data: api.AuthData{Token: token, User: toUser(u)}}, nil
}

// AdminLogout implements adminLogout (POST /api/v1/admin/logout/).
func (a *API) AdminLogout(ctx context.Context) (*api.EmptyEnvelope, error) {
	return a.LogoutUser(ctx)
}

// AdminListUsers implements adminListUsers (GET /api/v1/admin/users/).
func (a *API) AdminListUsers(ctx context.Context, params api.AdminListUsersParams) (*api.UserPageEnvelope, error) {
	p := page(params.Page, params.PageSize)
	users, count, err := a.accounts.List(ctx, params.Search.Or(""), p)
	if err != nil {
		return nil, err
	}
	next, prev := links(ctx, p, count)
	return &api.UserPageEnvelope{Success: true, Code: http.StatusOK, Message: okMessage,
		Data: api.UserPage{Count: count, Next: next, Previous: prev, Results: mapSlice(users, toUser)}}, nil
}

// AdminGetUser implements adminGetUser (GET /api/v1/admin/users/{id}/).
func (a *API) AdminGetUser(ctx context.Context, params api.AdminGetUserParams) (*api.UserEnvelope, error) {
	u, err := a.accounts.Get(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	return &api.UserEnvelope{Success: true, Code: http.StatusOK, Message: okMessage, Data: toUser(u)}, nil
}

// AdminDisableUser implements adminDisableUser (POST /api/v1/admin/users/{id}/disable/).
func (a *API) AdminDisableUser(ctx context.Context, params api.AdminDisableUserParams) (*api.UserEnvelope, error) {
	u, err := a.accounts.SetActive(ctx, principal(ctx), params.ID, false)
	if err != nil {
		return nil, err
	}
	return &api.UserEnvelope{Success: true, Code: http.StatusOK, Message: "User disabled.", Data: toUser(u)}, nil
}

// AdminEnableUser implements adminEnableUser (POST /api/v1/admin/users/{id}/enable/).
func (a *API) AdminEnableUser(ctx context.Context, params api.AdminEnableUserParams) (*api.UserEnvelope, error) {
	u, err := a.accounts.SetActive(ctx, principal(ctx), params.ID, true)
	if err != nil {
		return nil, err
	}
	return &api.UserEnvelope{Success: true, Code: http.StatusOK, Message: "User enabled.", Data: toUser(u)}, nil
}

// AdminListDeviceTypes implements adminListDeviceTypes (GET /api/v1/admin/device-types/).
func (a *API) AdminListDeviceTypes(ctx context.Context, params api.AdminListDeviceTypesParams) (*api.DeviceTypePageEnvelope, error) {
	return a.deviceTypePage(ctx, params.Page, params.PageSize)
}

// AdminGetDeviceType implements adminGetDeviceType (GET /api/v1/admin/device-types/{id}/).
func (a *API) AdminGetDeviceType(ctx context.Context, params api.AdminGetDeviceTypeParams) (*api.DeviceTypeEnvelope, error) {
	t, err := a.devices.GetType(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	return &api.DeviceTypeEnvelope{Success: true, Code: http.StatusOK, Message: okMessage, Data: toDeviceType(t)}, nil
}

// AdminCreateDeviceType implements adminCreateDeviceType (POST /api/v1/admin/device-types/).
func (a *API) AdminCreateDeviceType(ctx context.Context, req *api.DeviceTypeCreate) (*api.DeviceTypeEnvelope, error) {
	t, err := a.devices.CreateType(ctx, req.Name, req.Description.Or(""))
	if err != nil {
		return nil, err
	}
	return &api.DeviceTypeEnvelope{Success: true, Code: http.StatusCreated, Message: "Device type created.", Data: toDeviceType(t)}, nil
}

// AdminUpdateDeviceType implements adminUpdateDeviceType (PATCH /api/v1/admin/device-types/{id}/).
func (a *API) AdminUpdateDeviceType(ctx context.Context, req *api.DeviceTypeUpdate, params api.AdminUpdateDeviceTypeParams) (*api.DeviceTypeEnvelope, error) {
	var name, description *string
	if v, ok := req.Name.Get(); ok {
		name = &v
	}
	if v, ok := req.Description.Get(); ok {
		description = &v
	}
	t, err := a.devices.UpdateType(ctx, params.ID, name, description)
	if err != nil {
		return nil, err
	}
	return &api.DeviceTypeEnvelope{Success: true, Code: http.StatusOK, Message: "Device type updated.", Data: toDeviceType(t)}, nil
}

// AdminDeleteDeviceType implements adminDeleteDeviceType (DELETE /api/v1/admin/device-types/{id}/).
func (a *API) AdminDeleteDeviceType(ctx context.Context, params api.AdminDeleteDeviceTypeParams) (*api.EmptyEnvelope, error) {
	if err := a.devices.DeleteType(ctx, params.ID); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Device type deleted."}, nil
}
