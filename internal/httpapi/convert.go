package httpapi

import (
	"time"

	"paradise/ent"
	"paradise/gen/api"
	"paradise/internal/device"
)

func toUser(u *ent.User) api.User {
	interests := u.Interests
	if interests == nil {
		interests = []string{}
	}
	return api.User{
		ID:           u.ID,
		Username:     u.Username,
		Nickname:     u.Nickname,
		Gender:       api.Gender(u.Gender),
		Mbti:         u.Mbti,
		Interests:    interests,
		Favorability: u.Favorability,
		IsStaff:      u.IsStaff,
		IsActive:     u.IsActive,
		DateJoined:   u.DateJoined,
		LastLogin:    nilTime(u.LastLogin),
	}
}

func toDeviceType(t *ent.DeviceType) api.DeviceType {
	return api.DeviceType{ID: t.ID, Name: t.Name, Description: t.Description, CreatedAt: t.CreatedAt}
}

func toDevice(o device.Owned) api.Device {
	d := o.Device
	out := api.Device{
		ID:              d.ID,
		MACAddress:      d.MACAddress,
		Name:            d.Name,
		DeviceType:      api.NilDeviceType{Null: true},
		Status:          api.DeviceStatus(d.Status),
		BatteryLevel:    api.NilInt{Null: true},
		FirmwareVersion: d.FirmwareVersion,
		WifiName:        d.WifiName,
		LastSeen:        nilTime(d.LastSeen),
		BoundAt:         api.NilDateTime{Null: true},
		CreatedAt:       d.CreatedAt,
	}
	if t := d.Edges.DeviceType; t != nil {
		out.DeviceType = api.NewNilDeviceType(toDeviceType(t))
	}
	if d.BatteryLevel != nil {
		out.BatteryLevel = api.NewNilInt(*d.BatteryLevel)
	}
	if !o.BoundAt.IsZero() {
		out.BoundAt = api.NewNilDateTime(o.BoundAt)
	}
	return out
}

func nilTime(t *time.Time) api.NilDateTime {
	if t == nil {
		return api.NilDateTime{Null: true}
	}
	return api.NewNilDateTime(*t)
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
