package device

import (
	"time"

	"paradise/ent"
)

// Device is a companion device as the service sees it. ent's entities stay
// inside this package; callers get these.
type Device struct {
	ID              int
	MACAddress      string
	Name            string
	Type            *Type // nil when the device has no type
	Connected       bool
	BatteryLevel    *int
	FirmwareVersion string
	WifiName        string
	LastSeen        *time.Time
	CreatedAt       time.Time
}

// Type is a device type (hardware model).
type Type struct {
	ID          int
	Name        string
	Description string
	CreatedAt   time.Time
}

// Owned is a device seen by its owner: the device and when the owner
// bound it.
type Owned struct {
	Device  Device
	BoundAt time.Time
}

func fromEntType(t *ent.DeviceType) Type {
	return Type{ID: t.ID, Name: t.Name, Description: t.Description, CreatedAt: t.CreatedAt}
}

// fromEnt converts a device, with its type if the edge was loaded.
func fromEnt(d *ent.Device) Device {
	out := Device{
		ID:              d.ID,
		MACAddress:      d.MACAddress,
		Name:            d.Name,
		Connected:       d.Status == "connected",
		BatteryLevel:    d.BatteryLevel,
		FirmwareVersion: d.FirmwareVersion,
		WifiName:        d.WifiName,
		LastSeen:        d.LastSeen,
		CreatedAt:       d.CreatedAt,
	}
	if t := d.Edges.DeviceType; t != nil {
		tt := fromEntType(t)
		out.Type = &tt
	}
	return out
}
