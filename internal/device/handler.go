package device

import (
	"context"
	"net/http"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/httpapi"
	"paradise/internal/ratelimit"
)

// DeviceLogins issues device-session tokens for a device's owner (the
// account service).
type DeviceLogins interface {
	LoginAsDevice(ctx context.Context, userID int, mac string) (account.User, string, error)
}

// Handler implements the device operations of api.Handler: types, a user's
// devices, binding, pushes, and MAC login. Handlers translate only: spec
// types in, service calls, spec types out.
type Handler struct {
	devices *Service
	pusher  *Pusher
	logins  DeviceLogins
	creds   *Credentials
	claims  *Claims
	guard   *ratelimit.Guard
}

// NewHandler returns the device handler.
func NewHandler(devices *Service, pusher *Pusher, logins DeviceLogins, creds *Credentials, claims *Claims, guard *ratelimit.Guard) *Handler {
	return &Handler{devices: devices, pusher: pusher, logins: logins, creds: creds, claims: claims, guard: guard}
}

// MacLogin implements macLogin (POST /api/user/mac-login/): rate-limited
// per client IP and MAC, and refused where the device's MAC login policy
// says so.
func (h *Handler) MacLogin(ctx context.Context, req *api.MacRequest) (*api.MacLoginEnvelope, error) {
	mac, err := macField(string(req.MACAddress))
	if err != nil {
		return nil, err
	}
	if err := h.guard.DeviceLogin(ctx, httpapi.ClientIP(ctx), mac); err != nil {
		return nil, err
	}
	userID, owned, err := h.devices.ResolveOwner(ctx, mac)
	if err != nil {
		return nil, err
	}
	if err := h.creds.CheckMACLogin(owned.Device); err != nil {
		return nil, err
	}
	res, err := h.loginAsDevice(ctx, userID, owned)
	if err != nil {
		return nil, err
	}
	secret, err := h.creds.IssueOnLogin(ctx, owned.Device)
	if err != nil {
		return nil, err
	}
	if secret != "" {
		res.Data.DeviceSecret = api.NewOptString(secret)
	}
	return res, nil
}

// loginAsDevice issues a device token of the device's owner.
func (h *Handler) loginAsDevice(ctx context.Context, userID int, owned Owned) (*api.MacLoginEnvelope, error) {
	u, token, err := h.logins.LoginAsDevice(ctx, userID, owned.Device.MACAddress)
	if err != nil {
		return nil, err
	}
	return &api.MacLoginEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.MacLoginData{Token: token, User: account.UserToAPI(u), Device: ToAPI(owned)}}, nil
}

// ListDeviceTypes implements listDeviceTypes (GET /api/device/types/).
func (h *Handler) ListDeviceTypes(ctx context.Context, params api.ListDeviceTypesParams) (*api.DeviceTypePageEnvelope, error) {
	return TypePage(ctx, h.devices, params.Page, params.PageSize)
}

// TypePage answers a page of device types as users see them.
func TypePage(ctx context.Context, devices *Service, number, size api.OptInt) (*api.DeviceTypePageEnvelope, error) {
	p := httpapi.Page(number, size)
	types, count, err := devices.ListTypes(ctx, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.DeviceTypePageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.DeviceTypePage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(types, TypeToAPI)}}, nil
}

// AdminTypePage answers a page of device types with their whole personas.
func AdminTypePage(ctx context.Context, devices *Service, number, size api.OptInt) (*api.AdminDeviceTypePageEnvelope, error) {
	p := httpapi.Page(number, size)
	types, count, err := devices.ListTypes(ctx, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.AdminDeviceTypePageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.AdminDeviceTypePage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(types, AdminTypeToAPI)}}, nil
}

// ListDevices implements listDevices (GET /api/device/devices/). A device
// token sees only its own device.
func (h *Handler) ListDevices(ctx context.Context, params api.ListDevicesParams) (*api.DevicePageEnvelope, error) {
	p := httpapi.Page(params.Page, params.PageSize)
	caller := account.PrincipalFrom(ctx)
	owned, count, err := h.devices.ListOwned(ctx, caller.User.ID, caller.Session.MAC, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.DevicePageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.DevicePage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(owned, ToAPI)}}, nil
}

// GetDevice implements getDevice (GET /api/device/devices/{id}/). A
// device token reads only its own device.
func (h *Handler) GetDevice(ctx context.Context, params api.GetDeviceParams) (*api.DeviceEnvelope, error) {
	caller := account.PrincipalFrom(ctx)
	owned, err := h.devices.GetOwned(ctx, caller.User.ID, params.ID)
	if err != nil {
		return nil, err
	}
	if caller.Session.IsDevice() && owned.Device.MACAddress != caller.Session.MAC {
		return nil, apperr.NotFound("Device not found.")
	}
	return &api.DeviceEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: ToAPI(owned)}, nil
}

// BindDevice implements bindDevice (POST /api/device/bind/): rate-limited
// per user, and refused for devices bound by claim code only.
func (h *Handler) BindDevice(ctx context.Context, req *api.BindRequest) (*api.DeviceEnvelope, error) {
	userID := account.PrincipalFrom(ctx).User.ID
	mac, err := macField(string(req.MACAddress))
	if err != nil {
		return nil, err
	}
	if err := h.guard.Bind(ctx, userID); err != nil {
		return nil, err
	}
	if err := h.creds.CheckBindByMAC(ctx, mac); err != nil {
		return nil, err
	}
	return h.bind(ctx, userID, mac, req.Name, req.DeviceTypeID)
}

// bind binds mac to the user (by MAC or by claim code), with the optional
// name and device type of the request.
func (h *Handler) bind(ctx context.Context, userID int, mac string, name api.OptString, typeID api.OptInt) (*api.DeviceEnvelope, error) {
	in := BindInput{MAC: mac}
	if v, ok := name.Get(); ok {
		in.Name = &v
	}
	if v, ok := typeID.Get(); ok {
		in.TypeID = &v
	}
	owned, err := h.devices.Bind(ctx, userID, in)
	if err != nil {
		return nil, err
	}
	return &api.DeviceEnvelope{Success: true, Code: http.StatusOK, Message: "Device bound.", Data: ToAPI(owned)}, nil
}

// UnbindDevice implements unbindDevice (POST /api/device/unbind/).
func (h *Handler) UnbindDevice(ctx context.Context, req *api.MacRequest) (*api.EmptyEnvelope, error) {
	if _, err := h.devices.Unbind(ctx, account.PrincipalFrom(ctx).User.ID, string(req.MACAddress)); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Device unbound."}, nil
}

// SendDeviceMessage implements sendDeviceMessage (POST /api/device/devices/{id}/messages/).
func (h *Handler) SendDeviceMessage(ctx context.Context, req *api.DeviceMessage, params api.SendDeviceMessageParams) (*api.PushEnvelope, error) {
	userID := account.PrincipalFrom(ctx).User.ID
	owned, err := h.devices.GetOwned(ctx, userID, params.ID)
	if err != nil {
		return nil, err
	}
	return Push(ctx, h.pusher, userID, owned.Device.MACAddress, req)
}

// Push answers a push request (user and admin pushes).
func Push(ctx context.Context, p *Pusher, owner int, mac string, req *api.DeviceMessage) (*api.PushEnvelope, error) {
	raw, err := req.MarshalJSON()
	if err != nil {
		return nil, err
	}
	online, err := p.Push(ctx, owner, mac, raw)
	if err != nil {
		return nil, err
	}
	return &api.PushEnvelope{Success: true, Code: http.StatusOK, Message: "Sent.", Data: api.PushResult{Online: online}}, nil
}

// TypeToAPI converts a device type to the form users see: the persona
// without its prompt template.
func TypeToAPI(t Type) api.DeviceType {
	return api.DeviceType{ID: t.ID, Name: t.Name, Description: t.Description,
		PersonaName: t.Persona.Name, PersonaDescription: t.Persona.Description, Voice: t.Persona.Voice,
		CreatedAt: t.CreatedAt}
}

// AdminTypeToAPI converts a device type to the admin's form: the whole
// persona.
func AdminTypeToAPI(t Type) api.AdminDeviceType {
	return api.AdminDeviceType{ID: t.ID, Name: t.Name, Description: t.Description,
		PersonaName: t.Persona.Name, PersonaDescription: t.Persona.Description,
		PromptTemplate: t.Persona.Template, Voice: t.Persona.Voice, CreatedAt: t.CreatedAt}
}

// ToAPI converts an owned device to its API form.
func ToAPI(o Owned) api.Device {
	d := o.Device
	status := api.DeviceStatusDisconnected
	if d.Connected {
		status = api.DeviceStatusConnected
	}
	out := api.Device{
		ID:              d.ID,
		MACAddress:      d.MACAddress,
		Name:            d.Name,
		DeviceType:      api.NilNullableDeviceType{Null: true},
		Status:          status,
		BatteryLevel:    api.NilInt{Null: true},
		FirmwareVersion: d.FirmwareVersion,
		WifiName:        d.WifiName,
		LastSeen:        httpapi.NilTime(d.LastSeen),
		BoundAt:         api.NilDateTime{Null: true},
		CreatedAt:       d.CreatedAt,
	}
	if d.Type != nil {
		// NullableDeviceType repeats DeviceType's fields (see openapi.yaml),
		// so the generated structs convert into each other.
		out.DeviceType = api.NewNilNullableDeviceType(api.NullableDeviceType(TypeToAPI(*d.Type)))
	}
	if d.BatteryLevel != nil {
		out.BatteryLevel = api.NewNilInt(*d.BatteryLevel)
	}
	if !o.BoundAt.IsZero() {
		out.BoundAt = api.NewNilDateTime(o.BoundAt)
	}
	return out
}
