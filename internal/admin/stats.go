package admin

import (
	"context"
	"net/http"
	"time"

	"paradise/gen/api"
	"paradise/internal/apperr"
	"paradise/internal/httpapi"
)

// AdminGetStats implements adminGetStats (GET /api/v1/admin/stats/).
func (h *Handler) AdminGetStats(ctx context.Context, params api.AdminGetStatsParams) (*api.AdminStatsEnvelope, error) {
	days := params.Days.Or(14)
	from := day(time.Now()).AddDate(0, 0, -(days - 1))
	users, err := h.accounts.Stats(ctx, from, days)
	if err != nil {
		return nil, err
	}
	devices, err := h.devices.Stats(ctx)
	if err != nil {
		return nil, err
	}
	messages, err := h.chats.MessagesPerDay(ctx, from, days)
	if err != nil {
		return nil, err
	}
	sessions, err := h.sessions.Total(ctx)
	if err != nil {
		return nil, err
	}
	out := api.AdminStats{
		Users: api.UserStats{Total: users.Total, Active: users.Active, Staff: users.Staff,
			NewPerDay: dayCounts(from, users.NewPerDay)},
		Devices: api.DeviceStats{Total: devices.Total, Connected: devices.Connected, Bound: devices.Bound,
			ByType: []api.TypeCount{}, ByFirmware: []api.FirmwareCount{}},
		MessagesPerDay: dayCounts(from, messages),
		HubSessions:    sessions,
	}
	for _, t := range devices.ByType {
		tc := api.TypeCount{DeviceTypeID: api.NilInt{Null: true}, Name: t.Name, Count: t.Count}
		if t.TypeID != nil {
			tc.DeviceTypeID = api.NewNilInt(*t.TypeID)
		}
		out.Devices.ByType = append(out.Devices.ByType, tc)
	}
	for _, f := range devices.ByFirmware {
		out.Devices.ByFirmware = append(out.Devices.ByFirmware, api.FirmwareCount{FirmwareVersion: f.Version, Count: f.Count})
	}
	return &api.AdminStatsEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: out}, nil
}

func dayCounts(from time.Time, counts []int) []api.DayCount {
	out := make([]api.DayCount, len(counts))
	for i, n := range counts {
		out[i] = api.DayCount{Date: from.AddDate(0, 0, i), Count: n}
	}
	return out
}

// AdminListAuditLog implements adminListAuditLog (GET /api/v1/admin/audit-log/).
func (h *Handler) AdminListAuditLog(ctx context.Context, params api.AdminListAuditLogParams) (*api.AuditEntryPageEnvelope, error) {
	p := httpapi.Page(params.Page, params.PageSize)
	f := AuditFilter{ActorID: params.ActorID.Or(0), Action: params.Action.Or(""),
		TargetType: string(params.TargetType.Or("")), TargetID: params.TargetID.Or("")}
	if v, ok := params.From.Get(); ok {
		f.From = v
	}
	if v, ok := params.To.Get(); ok {
		f.To = v
	}
	if f.TargetID != "" && f.TargetType == "" {
		return nil, apperr.Field("target_id", "Give target_type with target_id.")
	}
	entries, count, err := h.audit.List(ctx, f, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.AuditEntryPageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.AuditEntryPage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(entries, auditEntryToAPI)}}, nil
}
