package httpapi

import (
	"context"
	"net/http"

	"paradise/gen/api"
	"paradise/internal/device"
)

// ListDeviceTypes implements listDeviceTypes (GET /api/device/types/).
func (a *API) ListDeviceTypes(ctx context.Context, params api.ListDeviceTypesParams) (*api.DeviceTypePageEnvelope, error) {
	return a.deviceTypePage(ctx, params.Page, params.PageSize)
}

func (a *API) deviceTypePage(ctx context.Context, number, size api.OptInt) (*api.DeviceTypePageEnvelope, error) {
	p := page(number, size)
	types, count, err := a.devices.ListTypes(ctx, p)
	if err != nil {
		return nil, err
	}
	next, prev := links(ctx, p, count)
	return &api.DeviceTypePageEnvelope{Success: true, Code: http.StatusOK, Message: okMessage,
		Data: api.DeviceTypePage{Count: count, Next: next, Previous: prev, Results: mapSlice(types, toDeviceType)}}, nil
}

// ListDevices implements listDevices (GET /api/device/devices/).
func (a *API) ListDevices(ctx context.Context, params api.ListDevicesParams) (*api.DevicePageEnvelope, error) {
	p := page(params.Page, params.PageSize)
	owned, count, err := a.devices.ListOwned(ctx, principal(ctx).User.ID, p)
	if err != nil {
		return nil, err
	}
	next, prev := links(ctx, p, count)
	return &api.DevicePageEnvelope{Success: true, Code: http.StatusOK, Message: okMessage,
		Data: api.DevicePage{Count: count, Next: next, Previous: prev, Results: mapSlice(owned, toDevice)}}, nil
}

// GetDevice implements getDevice (GET /api/device/devices/{id}/).
func (a *API) GetDevice(ctx context.Context, params api.GetDeviceParams) (*api.DeviceEnvelope, error) {
	owned, err := a.devices.GetOwned(ctx, principal(ctx).User.ID, params.ID)
	if err != nil {
		return nil, err
	}
	return &api.DeviceEnvelope{Success: true, Code: http.StatusOK, Message: okMessage, Data: toDevice(owned)}, nil
}

// BindDevice implements bindDevice (POST /api/device/bind/).
func (a *API) BindDevice(ctx context.Context, req *api.BindRequest) (*api.DeviceEnvelope, error) {
	in := device.BindInput{MAC: string(req.MACAddress)}
	if v, ok := req.Name.Get(); ok {
		in.Name = &v
	}
	if v, ok := req.DeviceTypeID.Get(); ok {
		in.TypeID = &v
	}
	userID := principal(ctx).User.ID
	owned, err := a.devices.Bind(ctx, userID, in)
	if err != nil {
		return nil, err
	}
	// Last bind wins on the hub too: the device's sessions in a previous
	// owner's group end.
	a.hub.DeviceRebound(owned.Device.MACAddress, userID)
	return &api.DeviceEnvelope{Success: true, Code: http.StatusOK, Message: "Device bound.", Data: toDevice(owned)}, nil
}

// UnbindDevice implements unbindDevice (POST /api/device/unbind/).
func (a *API) UnbindDevice(ctx context.Context, req *api.MacRequest) (*api.EmptyEnvelope, error) {
	mac, err := a.devices.Unbind(ctx, principal(ctx).User.ID, string(req.MACAddress))
	if err != nil {
		return nil, err
	}
	a.hub.DeviceRebound(mac, 0)
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Device unbound."}, nil
}
