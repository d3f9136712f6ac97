package device

import (
	"context"
	"fmt"
	"sort"

	"paradise/ent"
	"paradise/ent/device"
	"paradise/ent/userdevice"
)

// Stats are the device figures of the admin dashboard.
type Stats struct {
	Total, Connected, Bound int
	// ByType lists the devices per type, most first; a nil TypeID counts
	// devices without a type.
	ByType []TypeCount
	// ByFirmware lists the devices per firmware version, most first, at
	// most maxFirmwares versions.
	ByFirmware []FirmwareCount
}

// TypeCount is the number of devices of one type.
type TypeCount struct {
	TypeID *int
	Name   string
	Count  int
}

// FirmwareCount is the number of devices reporting one firmware version.
type FirmwareCount struct {
	Version string
	Count   int
}

const maxFirmwares = 20

// Stats counts devices: all, connected, bound, per type and per firmware.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	var err error
	wrap := func(err error) error { return fmt.Errorf("device: stats: %w", err) }
	if st.Total, err = s.db.Device.Query().Count(ctx); err != nil {
		return Stats{}, wrap(err)
	}
	if st.Connected, err = s.db.Device.Query().Where(device.StatusEQ(device.StatusConnected)).Count(ctx); err != nil {
		return Stats{}, wrap(err)
	}
	if st.Bound, err = s.db.UserDevice.Query().Where(userdevice.UnboundAtIsNil()).Count(ctx); err != nil {
		return Stats{}, wrap(err)
	}
	var byType []struct {
		TypeID *int `json:"device_type_id"`
		Count  int  `json:"count"`
	}
	if err := s.db.Device.Query().GroupBy(device.FieldDeviceTypeID).Aggregate(ent.Count()).Scan(ctx, &byType); err != nil {
		return Stats{}, wrap(err)
	}
	types, err := s.db.DeviceType.Query().All(ctx)
	if err != nil {
		return Stats{}, wrap(err)
	}
	names := make(map[int]string, len(types))
	for _, t := range types {
		names[t.ID] = t.Name
	}
	for _, r := range byType {
		tc := TypeCount{TypeID: r.TypeID, Count: r.Count}
		if r.TypeID != nil {
			tc.Name = names[*r.TypeID]
		}
		st.ByType = append(st.ByType, tc)
	}
	sort.SliceStable(st.ByType, func(i, j int) bool { return st.ByType[i].Count > st.ByType[j].Count })
	var byFirmware []struct {
		Version string `json:"firmware_version"`
		Count   int    `json:"count"`
	}
	if err := s.db.Device.Query().GroupBy(device.FieldFirmwareVersion).Aggregate(ent.Count()).Scan(ctx, &byFirmware); err != nil {
		return Stats{}, wrap(err)
	}
	sort.SliceStable(byFirmware, func(i, j int) bool {
		if byFirmware[i].Count != byFirmware[j].Count {
			return byFirmware[i].Count > byFirmware[j].Count
		}
		return byFirmware[i].Version < byFirmware[j].Version
	})
	for i, r := range byFirmware {
		if i == maxFirmwares {
			break
		}
		st.ByFirmware = append(st.ByFirmware, FirmwareCount{Version: r.Version, Count: r.Count})
	}
	return st, nil
}
