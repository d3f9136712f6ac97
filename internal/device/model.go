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
	// HasSecret tells whether the device has a login secret; MACLogin is
	// the admin's MAC login override (MACLoginDefault, ...).
	HasSecret bool
	MACLogin  string
}

// Type is a device type (hardware model) and the persona of the
// companion on its devices.
type Type struct {
	ID          int
	Name        string
	Description string
	Persona     Persona
	CreatedAt   time.Time
}

// Persona is the companion a device type speaks as; every field may be
// empty. ResolveOwner (the MAC-login hot path) leaves it empty: Get and
// GetType load it.
type Persona struct {
	Name        string
	Description string
	// Template is a text/template source (internal/persona) replacing the
	// built-in system prompt; empty: the built-in one.
	Template string
	Voice    string // a TTS voice id
}

// IsSet reports whether the type has a persona of its own: a name, a
// description or a template.
func (p Persona) IsSet() bool {
	return p.Name != "" || p.Description != "" || p.Template != ""
}

// Owned is a device seen by its owner: the device and when the owner
// bound it.
type Owned struct {
	Device  Device
	BoundAt time.Time
}

func fromEntType(t *ent.DeviceType) Type {
	return Type{ID: t.ID, Name: t.Name, Description: t.Description, CreatedAt: t.CreatedAt,
		Persona: Persona{Name: t.PersonaName, Description: t.PersonaDescription, Template: t.PromptTemplate, Voice: t.Voice}}
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
		HasSecret:       hasSecret(d),
		MACLogin:        string(d.MACLogin),
	}
	if t := d.Edges.DeviceType; t != nil {
		tt := fromEntType(t)
		out.Type = &tt
	}
	return out
}
