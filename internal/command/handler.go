package command

import (
	"context"
	"net/http"
	"time"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/httpapi"
)

// Handler implements the command operations of api.Handler.
type Handler struct {
	commands *Service
}

// NewHandler returns the command handler.
func NewHandler(commands *Service) *Handler { return &Handler{commands: commands} }

// CreateDeviceCommand implements createDeviceCommand
// (POST /api/device/devices/{id}/commands/).
func (h *Handler) CreateDeviceCommand(ctx context.Context, req *api.DeviceCommandRequest, params api.CreateDeviceCommandParams) (api.CreateDeviceCommandRes, error) {
	in := CreateInput{Name: req.Name, IdempotencyKey: req.IdempotencyKey.Or("")}
	if v, ok := req.Params.Get(); ok {
		in.Params = decodeMap(v)
	}
	if v, ok := req.TTLSeconds.Get(); ok {
		if v > int(MaxTTL/time.Second) {
			return nil, apperr.Field("ttl_seconds", "Must be between 1 and 2592000.")
		}
		in.TTL = time.Duration(v) * time.Second
	}
	c, created, err := h.commands.Create(ctx, account.PrincipalFrom(ctx).User.ID, params.ID, in)
	if err != nil {
		return nil, err
	}
	if !created {
		return &api.CreateDeviceCommandOK{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: ToAPI(c)}, nil
	}
	return &api.CreateDeviceCommandCreated{Success: true, Code: http.StatusCreated, Message: "Queued.", Data: ToAPI(c)}, nil
}

// ListDeviceCommands implements listDeviceCommands
// (GET /api/device/devices/{id}/commands/).
func (h *Handler) ListDeviceCommands(ctx context.Context, params api.ListDeviceCommandsParams) (*api.DeviceCommandPageEnvelope, error) {
	p := httpapi.Page(params.Page, params.PageSize)
	var status Status
	if v, ok := params.Status.Get(); ok {
		status = Status(v)
	}
	cmds, count, err := h.commands.List(ctx, account.PrincipalFrom(ctx).User.ID, params.ID, status, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.DeviceCommandPageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.DeviceCommandPage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(cmds, ToAPI)}}, nil
}

// GetDeviceCommand implements getDeviceCommand
// (GET /api/device/devices/{id}/commands/{command_id}/).
func (h *Handler) GetDeviceCommand(ctx context.Context, params api.GetDeviceCommandParams) (*api.DeviceCommandEnvelope, error) {
	c, err := h.commands.Get(ctx, account.PrincipalFrom(ctx).User.ID, params.ID, params.CommandID)
	if err != nil {
		return nil, err
	}
	return &api.DeviceCommandEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: ToAPI(c)}, nil
}

// ToAPI converts a command to its API form.
func ToAPI(c Command) api.DeviceCommand {
	out := api.DeviceCommand{ID: c.ID, DeviceID: c.DeviceID, IssuerID: c.IssuerID, Name: c.Name,
		Params: api.DeviceCommandParams(rawMap(c.Params)), Status: api.DeviceCommandStatus(c.Status), Attempts: c.Attempts,
		IdempotencyKey: httpapi.NilString(c.IdempotencyKey), Result: api.NilDeviceCommandResult{Null: true},
		CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, SentAt: httpapi.NilTime(c.SentAt), CompletedAt: httpapi.NilTime(c.CompletedAt)}
	if c.Result != nil {
		out.Result = api.NilDeviceCommandResult{Value: api.DeviceCommandResult(rawMap(c.Result))}
	}
	return out
}
