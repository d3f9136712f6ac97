// Package admin serves the admin API (/api/v1/admin/): staff use cases
// that span the bounded contexts (users, devices, device types, pushes,
// device commands, the conversation audit and chat usage).
package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/fx"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/auth"
	"paradise/internal/chat"
	"paradise/internal/command"
	"paradise/internal/device"
	"paradise/internal/httpapi"
	"paradise/internal/hub"
)

// Module provides the admin handler, the audit log, the hub session
// count and the live event stream's route.
var Module = fx.Module("admin", fx.Provide(
	NewHandler,
	NewAudit,
	NewSessions,
	NewStream,
	hub.AsHooks((*Sessions).Hooks),
	httpapi.AsRoute((*Stream).Route),
))

// Handler implements the admin operations of api.Handler. Every one of
// them runs with an admin token (the AdminTokenAuth scheme), and every
// write is recorded in the audit log.
type Handler struct {
	accounts *account.Service
	devices  *device.Service
	presence *device.Presence
	pusher   *device.Pusher
	chats    *chat.Service
	commands *command.Service
	audit    *Audit
	sessions *Sessions
	creds    *device.Credentials
}

// Params are NewHandler's dependencies.
type Params struct {
	fx.In

	Accounts *account.Service
	Devices  *device.Service
	Presence *device.Presence
	Pusher   *device.Pusher
	Chats    *chat.Service
	Commands *command.Service
	Audit    *Audit
	Sessions *Sessions
	Creds    *device.Credentials
}

// NewHandler returns the admin handler.
func NewHandler(p Params) *Handler {
	return &Handler{accounts: p.Accounts, devices: p.Devices, presence: p.Presence, pusher: p.Pusher,
		chats: p.Chats, commands: p.Commands, audit: p.Audit, sessions: p.Sessions, creds: p.Creds}
}

// AdminLogin implements adminLogin (POST /api/v1/admin/login/).
func (h *Handler) AdminLogin(ctx context.Context, req *api.LoginRequest) (*api.AuthEnvelope, error) {
	return account.Login(ctx, h.accounts, auth.Admin, req)
}

// AdminLogout implements adminLogout (POST /api/v1/admin/logout/).
func (h *Handler) AdminLogout(ctx context.Context) (*api.EmptyEnvelope, error) {
	return account.Logout(ctx, h.accounts)
}

// AdminListUsers implements adminListUsers (GET /api/v1/admin/users/).
func (h *Handler) AdminListUsers(ctx context.Context, params api.AdminListUsersParams) (*api.UserPageEnvelope, error) {
	p := httpapi.Page(params.Page, params.PageSize)
	f := account.UserFilter{Search: params.Search.Or(""), Ordering: string(params.Ordering.Or(""))}
	if v, ok := params.IsActive.Get(); ok {
		f.Active = &v
	}
	if v, ok := params.IsStaff.Get(); ok {
		f.Staff = &v
	}
	if v, ok := params.JoinedFrom.Get(); ok {
		f.JoinedFrom = day(v)
	}
	if v, ok := params.JoinedTo.Get(); ok {
		f.JoinedTo = day(v).AddDate(0, 0, 1)
	}
	if !f.JoinedFrom.IsZero() && !f.JoinedTo.IsZero() && !f.JoinedFrom.Before(f.JoinedTo) {
		return nil, apperr.Field("joined_from", "Must not be after joined_to.")
	}
	users, count, err := h.accounts.List(ctx, f, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.UserPageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.UserPage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(users, account.UserToAPI)}}, nil
}

// AdminGetUser implements adminGetUser (GET /api/v1/admin/users/{id}/).
func (h *Handler) AdminGetUser(ctx context.Context, params api.AdminGetUserParams) (*api.UserEnvelope, error) {
	u, err := h.accounts.Get(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	return userEnvelope(u, httpapi.OKMessage), nil
}

// AdminDisableUser implements adminDisableUser (POST /api/v1/admin/users/{id}/disable/).
func (h *Handler) AdminDisableUser(ctx context.Context, params api.AdminDisableUserParams) (*api.UserEnvelope, error) {
	before, err := h.accounts.Get(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	u, err := h.accounts.SetActive(ctx, account.PrincipalFrom(ctx), params.ID, false)
	if err != nil {
		return nil, err
	}
	if err := h.audit.Record(ctx, "user.disable", targetUser, strconv.Itoa(u.ID), userJSON(before), userJSON(u)); err != nil {
		return nil, err
	}
	return userEnvelope(u, "User disabled."), nil
}

// AdminEnableUser implements adminEnableUser (POST /api/v1/admin/users/{id}/enable/).
func (h *Handler) AdminEnableUser(ctx context.Context, params api.AdminEnableUserParams) (*api.UserEnvelope, error) {
	before, err := h.accounts.Get(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	u, err := h.accounts.SetActive(ctx, account.PrincipalFrom(ctx), params.ID, true)
	if err != nil {
		return nil, err
	}
	if err := h.audit.Record(ctx, "user.enable", targetUser, strconv.Itoa(u.ID), userJSON(before), userJSON(u)); err != nil {
		return nil, err
	}
	return userEnvelope(u, "User enabled."), nil
}

// userJSON is the user's admin API form, for the audit log.
func userJSON(u account.User) json.Marshaler {
	out := account.UserToAPI(u)
	return &out
}

// typeJSON is the device type's admin API form, for the audit log.
func typeJSON(t device.Type) json.Marshaler {
	out := device.AdminTypeToAPI(t)
	return &out
}

func userEnvelope(u account.User, msg string) *api.UserEnvelope {
	return &api.UserEnvelope{Success: true, Code: http.StatusOK, Message: msg, Data: account.UserToAPI(u)}
}

// AdminListDeviceTypes implements adminListDeviceTypes (GET /api/v1/admin/device-types/).
func (h *Handler) AdminListDeviceTypes(ctx context.Context, params api.AdminListDeviceTypesParams) (*api.AdminDeviceTypePageEnvelope, error) {
	return device.AdminTypePage(ctx, h.devices, params.Page, params.PageSize)
}

// AdminGetDeviceType implements adminGetDeviceType (GET /api/v1/admin/device-types/{id}/).
func (h *Handler) AdminGetDeviceType(ctx context.Context, params api.AdminGetDeviceTypeParams) (*api.AdminDeviceTypeEnvelope, error) {
	t, err := h.devices.GetType(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	return typeEnvelope(t, http.StatusOK, httpapi.OKMessage), nil
}

// AdminCreateDeviceType implements adminCreateDeviceType (POST /api/v1/admin/device-types/).
func (h *Handler) AdminCreateDeviceType(ctx context.Context, req *api.DeviceTypeCreate) (*api.AdminDeviceTypeEnvelope, error) {
	t, err := h.devices.CreateType(ctx, device.TypeInput{
		Name:               &req.Name,
		Description:        optString(req.Description),
		PersonaName:        optString(req.PersonaName),
		PersonaDescription: optString(req.PersonaDescription),
		PromptTemplate:     optString(req.PromptTemplate),
		Voice:              optString(req.Voice),
	})
	if err != nil {
		return nil, err
	}
	if err := h.audit.Record(ctx, "device_type.create", targetDeviceType, strconv.Itoa(t.ID), nil, typeJSON(t)); err != nil {
		return nil, err
	}
	return typeEnvelope(t, http.StatusCreated, "Device type created."), nil
}

// AdminUpdateDeviceType implements adminUpdateDeviceType (PATCH /api/v1/admin/device-types/{id}/).
func (h *Handler) AdminUpdateDeviceType(ctx context.Context, req *api.DeviceTypeUpdate, params api.AdminUpdateDeviceTypeParams) (*api.AdminDeviceTypeEnvelope, error) {
	before, err := h.devices.GetType(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	t, err := h.devices.UpdateType(ctx, params.ID, device.TypeInput{
		Name:               optString(req.Name),
		Description:        optString(req.Description),
		PersonaName:        optString(req.PersonaName),
		PersonaDescription: optString(req.PersonaDescription),
		PromptTemplate:     optString(req.PromptTemplate),
		Voice:              optString(req.Voice),
	})
	if err != nil {
		return nil, err
	}
	if err := h.audit.Record(ctx, "device_type.update", targetDeviceType, strconv.Itoa(t.ID), typeJSON(before), typeJSON(t)); err != nil {
		return nil, err
	}
	return typeEnvelope(t, http.StatusOK, "Device type updated."), nil
}

// optString is an optional field's value, nil when absent.
func optString(o api.OptString) *string {
	if v, ok := o.Get(); ok {
		return &v
	}
	return nil
}

func typeEnvelope(t device.Type, status int, msg string) *api.AdminDeviceTypeEnvelope {
	return &api.AdminDeviceTypeEnvelope{Success: true, Code: status, Message: msg, Data: device.AdminTypeToAPI(t)}
}

// AdminDeleteDeviceType implements adminDeleteDeviceType (DELETE /api/v1/admin/device-types/{id}/).
func (h *Handler) AdminDeleteDeviceType(ctx context.Context, params api.AdminDeleteDeviceTypeParams) (*api.EmptyEnvelope, error) {
	before, err := h.devices.GetType(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	if err := h.devices.DeleteType(ctx, params.ID); err != nil {
		return nil, err
	}
	if err := h.audit.Record(ctx, "device_type.delete", targetDeviceType, strconv.Itoa(params.ID), typeJSON(before), nil); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Device type deleted."}, nil
}

// AdminSendDeviceMessage implements adminSendDeviceMessage (POST /api/v1/admin/devices/{id}/messages/).
func (h *Handler) AdminSendDeviceMessage(ctx context.Context, req *api.DeviceMessage, params api.AdminSendDeviceMessageParams) (*api.PushEnvelope, error) {
	owner, owned, err := h.devices.Owner(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	res, err := device.Push(ctx, h.pusher, owner, owned.Device.MACAddress, req)
	if err != nil {
		return nil, err
	}
	// The pushed frame is the "after": what was sent, not a state.
	if err := h.audit.Record(ctx, "device.message", targetDevice, strconv.Itoa(params.ID), nil, req); err != nil {
		return nil, err
	}
	return res, nil
}

// AdminListConversations implements adminListConversations (GET /api/v1/admin/conversations/).
func (h *Handler) AdminListConversations(ctx context.Context, params api.AdminListConversationsParams) (*api.AuditConversationPageEnvelope, error) {
	p := httpapi.Page(params.Page, params.PageSize)
	f := chat.AuditFilter{UserID: params.UserID.Or(0), DeviceID: params.DeviceID.Or(0),
		From: params.From.Or(time.Time{}), To: params.To.Or(time.Time{}), Text: params.Text.Or("")}
	convs, count, err := h.chats.Audit(ctx, f, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.AuditConversationPageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.AuditConversationPage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(convs, chat.AuditConversationToAPI)}}, nil
}

// AdminListConversationMessages implements adminListConversationMessages
// (GET /api/v1/admin/conversations/{id}/messages/).
func (h *Handler) AdminListConversationMessages(ctx context.Context, params api.AdminListConversationMessagesParams) (*api.ChatMessagePageEnvelope, error) {
	p := httpapi.Page(params.Page, params.PageSize)
	msgs, count, err := h.chats.AuditMessages(ctx, params.ID, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.ChatMessagePageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.ChatMessagePage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(msgs, chat.MessageToAPI)}}, nil
}

// AdminGetChatUsage implements adminGetChatUsage (GET /api/v1/admin/users/{id}/chat-usage/).
func (h *Handler) AdminGetChatUsage(ctx context.Context, params api.AdminGetChatUsageParams) (*api.ChatUsageReportEnvelope, error) {
	if _, err := h.accounts.Get(ctx, params.ID); err != nil {
		return nil, err
	}
	r, err := h.chats.Usage(ctx, params.ID, params.From.Or(time.Time{}), params.To.Or(time.Time{}))
	if err != nil {
		return nil, err
	}
	return &api.ChatUsageReportEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: chat.UsageReportToAPI(r)}, nil
}
