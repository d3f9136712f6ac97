package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"paradise/gen/api"
	"paradise/internal/command"
	"paradise/internal/device"
	"paradise/internal/httpapi"
)

// deviceHistory bounds the bindings a device's detail lists.
const deviceHistory = 50

// AdminListDevices implements adminListDevices (GET /api/v1/admin/devices/).
func (h *Handler) AdminListDevices(ctx context.Context, params api.AdminListDevicesParams) (*api.AdminDevicePageEnvelope, error) {
	p := httpapi.Page(params.Page, params.PageSize)
	f := device.Filter{Search: params.Search.Or(""), Status: string(params.Status.Or("")),
		TypeID: params.DeviceTypeID.Or(0), OwnerID: params.OwnerID.Or(0), Ordering: string(params.Ordering.Or(""))}
	if v, ok := params.Bound.Get(); ok {
		f.Bound = &v
	}
	if v, ok := params.FirmwareVersion.Get(); ok {
		f.FirmwareVersion = &v
	}
	if v, ok := params.SeenFrom.Get(); ok {
		f.SeenFrom = v
	}
	if v, ok := params.SeenTo.Get(); ok {
		f.SeenTo = v
	}
	ds, count, err := h.devices.List(ctx, f, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.AdminDevicePageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.AdminDevicePage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(ds, managedToAPI)}}, nil
}

// pendingShown bounds the pending commands a device's detail lists.
const pendingShown = 20

// AdminGetDevice implements adminGetDevice (GET /api/v1/admin/devices/{id}/).
func (h *Handler) AdminGetDevice(ctx context.Context, params api.AdminGetDeviceParams) (*api.AdminDeviceDetailEnvelope, error) {
	m, err := h.devices.Manage(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	online, err := h.presence.Online(ctx, m.Device.MACAddress)
	if err != nil {
		return nil, err
	}
	history, _, err := h.devices.Bindings(ctx, device.BindingFilter{DeviceID: params.ID}, httpapi.Page(api.NewOptInt(1), api.NewOptInt(deviceHistory)))
	if err != nil {
		return nil, err
	}
	pending, pendingCount, err := h.commands.Pending(ctx, params.ID, pendingShown)
	if err != nil {
		return nil, err
	}
	return &api.AdminDeviceDetailEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.AdminDeviceDetail{Device: managedToAPI(m), Online: online, Bindings: httpapi.MapSlice(history, bindingToAPI),
			PendingCommands: httpapi.MapSlice(pending, command.ToAPI), PendingCommandCount: pendingCount}}, nil
}

// AdminUpdateDevice implements adminUpdateDevice (PATCH /api/v1/admin/devices/{id}/).
func (h *Handler) AdminUpdateDevice(ctx context.Context, req *api.AdminDeviceUpdate, params api.AdminUpdateDeviceParams) (*api.AdminDeviceEnvelope, error) {
	var in device.ManageUpdate
	if v, ok := req.Name.Get(); ok {
		in.Name = &v
	}
	if req.DeviceTypeID.Set {
		if req.DeviceTypeID.Null {
			in.ClearType = true
		} else {
			v := req.DeviceTypeID.Value
			in.TypeID = &v
		}
	}
	before, after, err := h.devices.Update(ctx, params.ID, in)
	if err != nil {
		return nil, err
	}
	return h.deviceWrite(ctx, "device.update", before, &after, "Device updated.")
}

// AdminUnbindDevice implements adminUnbindDevice (POST /api/v1/admin/devices/{id}/unbind/).
func (h *Handler) AdminUnbindDevice(ctx context.Context, params api.AdminUnbindDeviceParams) (*api.AdminDeviceEnvelope, error) {
	before, after, err := h.devices.ForceUnbind(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	return h.deviceWrite(ctx, "device.unbind", before, &after, "Device unbound.")
}

// deviceWrite records a write to a device and answers with the device.
func (h *Handler) deviceWrite(ctx context.Context, action string, before device.Managed, after *device.Managed, msg string) (*api.AdminDeviceEnvelope, error) {
	if err := h.audit.Record(ctx, action, targetDevice, strconv.Itoa(before.Device.ID), deviceJSON(before), deviceJSON(*after)); err != nil {
		return nil, err
	}
	return &api.AdminDeviceEnvelope{Success: true, Code: http.StatusOK, Message: msg, Data: managedToAPI(*after)}, nil
}

// AdminDisconnectDevice implements adminDisconnectDevice (POST /api/v1/admin/devices/{id}/disconnect/).
func (h *Handler) AdminDisconnectDevice(ctx context.Context, params api.AdminDisconnectDeviceParams) (*api.EmptyEnvelope, error) {
	m, err := h.devices.Disconnect(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	if err := h.audit.Record(ctx, "device.disconnect", targetDevice, strconv.Itoa(m.Device.ID), deviceJSON(m), deviceJSON(m)); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Device disconnected."}, nil
}

// AdminDeleteDevice implements adminDeleteDevice (DELETE /api/v1/admin/devices/{id}/).
func (h *Handler) AdminDeleteDevice(ctx context.Context, params api.AdminDeleteDeviceParams) (*api.EmptyEnvelope, error) {
	m, err := h.devices.Delete(ctx, params.ID)
	if err != nil {
		return nil, err
	}
	if err := h.audit.Record(ctx, "device.delete", targetDevice, strconv.Itoa(m.Device.ID), deviceJSON(m), nil); err != nil {
		return nil, err
	}
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: "Device deleted."}, nil
}

// AdminImportDevices implements adminImportDevices (POST /api/v1/admin/devices/import/).
func (h *Handler) AdminImportDevices(ctx context.Context, req *api.DeviceImportRequest) (*api.DeviceImportReportEnvelope, error) {
	rep, err := h.devices.ImportWith(ctx, req.Csv, device.ImportOptions{Secrets: req.Secrets.Or(false), Creds: h.creds})
	if err != nil {
		return nil, err
	}
	out := importReportToAPI(rep)
	// One entry for the batch, with its counts (the rows are in the
	// answer; a factory batch would flood the log row by row).
	counts := &api.DeviceImportReport{Created: rep.Created, Updated: rep.Updated, Failed: rep.Failed, Rows: []api.DeviceImportRow{}}
	if err := h.audit.Record(ctx, "device.import", targetDevice, "", nil, counts); err != nil {
		return nil, err
	}
	return &api.DeviceImportReportEnvelope{Success: true, Code: http.StatusOK,
		Message: fmt.Sprintf("Imported %d of %d rows.", len(rep.Rows)-rep.Failed, len(rep.Rows)),
		Data:    out}, nil
}

// AdminListBindings implements adminListBindings (GET /api/v1/admin/bindings/).
func (h *Handler) AdminListBindings(ctx context.Context, params api.AdminListBindingsParams) (*api.BindingPageEnvelope, error) {
	p := httpapi.Page(params.Page, params.PageSize)
	f := device.BindingFilter{DeviceID: params.DeviceID.Or(0), UserID: params.UserID.Or(0)}
	if v, ok := params.Active.Get(); ok {
		f.Active = &v
	}
	bs, count, err := h.devices.Bindings(ctx, f, p)
	if err != nil {
		return nil, err
	}
	next, prev := httpapi.Links(ctx, p, count)
	return &api.BindingPageEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.BindingPage{Count: count, Next: next, Previous: prev, Results: httpapi.MapSlice(bs, bindingToAPI)}}, nil
}

// deviceJSON is the device's admin API form, for the audit log.
func deviceJSON(m device.Managed) json.Marshaler {
	out := managedToAPI(m)
	return &out
}

func managedToAPI(m device.Managed) api.AdminDevice {
	d := m.Device
	status := api.DeviceStatusDisconnected
	if d.Connected {
		status = api.DeviceStatusConnected
	}
	out := api.AdminDevice{ID: d.ID, MACAddress: d.MACAddress, Name: d.Name,
		DeviceType: api.NilDeviceTypeRef{Null: true}, Status: status, BatteryLevel: api.NilInt{Null: true},
		FirmwareVersion: d.FirmwareVersion, WifiName: d.WifiName, LastSeen: httpapi.NilTime(d.LastSeen),
		CreatedAt: d.CreatedAt, Owner: api.NilAdminDeviceOwner{Null: true}, BoundAt: httpapi.NilTime(m.BoundAt)}
	if d.Type != nil {
		out.DeviceType = api.NewNilDeviceTypeRef(api.DeviceTypeRef{ID: d.Type.ID, Name: d.Type.Name})
	}
	if d.BatteryLevel != nil {
		out.BatteryLevel = api.NewNilInt(*d.BatteryLevel)
	}
	if m.Owner != nil {
		out.Owner = api.NewNilAdminDeviceOwner(api.AdminDeviceOwner{ID: m.Owner.ID, Username: m.Owner.Username})
	}
	return out
}

func bindingToAPI(b device.Binding) api.Binding {
	return api.Binding{ID: b.ID, User: api.UserRef{ID: b.User.ID, Username: b.User.Username},
		Device: api.DeviceRef{ID: b.DeviceID, MACAddress: b.MAC}, BoundAt: b.BoundAt, UnboundAt: httpapi.NilTime(b.UnboundAt)}
}

func importReportToAPI(r device.ImportReport) api.DeviceImportReport {
	rows := make([]api.DeviceImportRow, len(r.Rows))
	for i, row := range r.Rows {
		rows[i] = api.DeviceImportRow{Line: row.Line, MACAddress: row.MAC, Status: api.DeviceImportStatus(row.Status),
			DeviceID: api.NilInt{Null: true}, Message: row.Message}
		if row.DeviceID != 0 {
			rows[i].DeviceID = api.NewNilInt(row.DeviceID)
		}
		if row.Secret != "" {
			rows[i].Secret = api.NewOptString(row.Secret)
		}
	}
	return api.DeviceImportReport{Created: r.Created, Updated: r.Updated, Failed: r.Failed, Rows: rows}
}
