package httpapi

import (
	"context"
	"errors"
	"net/http"

	"paradise/gen/api"
	"paradise/gen/ws"
	"paradise/internal/apperr"
)

// SendDeviceMessage implements sendDeviceMessage (POST /api/device/devices/{id}/messages/).
func (a *API) SendDeviceMessage(ctx context.Context, req *api.DeviceMessage, params api.SendDeviceMessageParams) (*api.PushEnvelope, error) {
	p := principal(ctx)
	owned, err := a.devices.GetOwned(ctx, p.User.ID, params.ID)
	if err != nil {
		return nil, err
	}
	return a.push(ctx, p.User.ID, owned.Device.MACAddress, req)
}

// AdminSendDeviceMessage implements adminSendDeviceMessage (POST /api/v1/admin/devices/{id}/messages/).
func (a *API) AdminSendDeviceMessage(ctx context.Context, req *api.DeviceMessage, params api.AdminSendDeviceMessageParams) (*api.PushEnvelope, error) {
	owner, owned, err := a.devices.Owner(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	return a.push(ctx, owner, owned.Device.MACAddress, req)
}

// push validates the message as a hub frame (the schemas of asyncapi.yaml,
// through gen/ws) and sends it to the owner's group.
func (a *API) push(ctx context.Context, owner int, mac string, req *api.DeviceMessage) (*api.PushEnvelope, error) {
	raw, err := req.MarshalJSON()
	if err != nil {
		return nil, err
	}
	frame, err := ws.ParseFrame(raw)
	if err != nil {
		var pe *ws.ParseError
		if errors.As(err, &pe) {
			return nil, apperr.Field("message", "Invalid "+string(req.Type)+" payload: "+pe.Err.Error())
		}
		return nil, apperr.BadRequest("Invalid message: " + err.Error())
	}
	online, err := a.hub.Push(ctx, owner, mac, frame)
	if err != nil {
		return nil, err
	}
	return &api.PushEnvelope{Success: true, Code: http.StatusOK, Message: "Sent.", Data: api.PushResult{Online: online}}, nil
}
