package admin

import (
	"context"
	"net/http"
	"strconv"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/command"
	"paradise/internal/httpapi"
)

// AdminListDeviceCommands implements adminListDeviceCommands
// (GET /api/v1/admin/devices/{id}/commands/).
func (h *Handler) AdminListDeviceCommands(ctx context.Context, params api.AdminListDeviceCommandsParams) (*api.DeviceCommandPageEnvelope, error) {
	p := httpapi.Page(params.Page, params.PageSize)
	var status command.Status
	if v, ok := params.Status.Get(); ok {
		status = command.Status(v)
	}
	cmds, count, err := h.commands.AdminList(ctx, params.ID, status, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.DeviceCommandPageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.DeviceCommandPage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(cmds, command.ToAPI)}}, nil
}

// AdminCreateDeviceCommand implements adminCreateDeviceCommand
// (POST /api/v1/admin/devices/{id}/commands/).
func (h *Handler) AdminCreateDeviceCommand(ctx context.Context, req *api.DeviceCommandRequest, params api.AdminCreateDeviceCommandParams) (api.AdminCreateDeviceCommandRes, error) {
	in, err := command.InputFromAPI(req)
	if err != nil {
		return nil, err
	}
	c, created, err := h.commands.AdminCreate(ctx, account.PrincipalFrom(ctx).User.ID, params.ID, in)
	if err != nil {
		return nil, err
	}
	out := command.ToAPI(c)
	if !created {
		// The key's first request was recorded; a repeat writes nothing.
		return &api.AdminCreateDeviceCommandOK{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: out}, nil
	}
	if err := h.audit.Record(ctx, "device.command.create", targetDevice, strconv.Itoa(params.ID), nil, &out); err != nil {
		return nil, err
	}
	return &api.AdminCreateDeviceCommandCreated{Success: true, Code: http.StatusCreated, Message: "Queued.", Data: out}, nil
}

// AdminGetDeviceCommand implements adminGetDeviceCommand
// (GET /api/v1/admin/devices/{id}/commands/{command_id}/).
func (h *Handler) AdminGetDeviceCommand(ctx context.Context, params api.AdminGetDeviceCommandParams) (*api.DeviceCommandEnvelope, error) {
	c, err := h.commands.AdminGet(ctx, params.ID, params.CommandID)
	if err != nil {
		return nil, err
	}
	return &api.DeviceCommandEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: command.ToAPI(c)}, nil
}

// AdminCancelDeviceCommand implements adminCancelDeviceCommand
// (POST /api/v1/admin/devices/{id}/commands/{command_id}/cancel/).
func (h *Handler) AdminCancelDeviceCommand(ctx context.Context, params api.AdminCancelDeviceCommandParams) (api.AdminCancelDeviceCommandRes, error) {
	before, after, err := h.commands.Cancel(ctx, params.ID, params.CommandID)
	if err != nil {
		return nil, err
	}
	b, a := command.ToAPI(before), command.ToAPI(after)
	if err := h.audit.Record(ctx, "device.command.cancel", targetDevice, strconv.Itoa(params.ID), &b, &a); err != nil {
		return nil, err
	}
	return &api.DeviceCommandEnvelope{Success: true, Code: http.StatusOK, Message: "Command cancelled.", Data: a}, nil
}
