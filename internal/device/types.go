package device

import (
	"context"
	"fmt"

	"paradise/ent"
	"paradise/ent/device"
	"paradise/ent/devicetype"
	"paradise/internal/apperr"
	"paradise/internal/paging"
)

// ListTypes returns a page of device types ordered by id, and their count.
func (s *Service) ListTypes(ctx context.Context, page paging.Page) ([]Type, int, error) {
	count, err := s.db.DeviceType.Query().Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("device: count types: %w", err)
	}
	if err := page.Check(count); err != nil {
		return nil, 0, err
	}
	types, err := s.db.DeviceType.Query().Order(ent.Asc(devicetype.FieldID)).
		Offset(page.Offset()).Limit(page.Size).All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("device: list types: %w", err)
	}
	out := make([]Type, len(types))
	for i, t := range types {
		out[i] = fromEntType(t)
	}
	return out, count, nil
}

// GetType returns a device type by id.
func (s *Service) GetType(ctx context.Context, id int) (Type, error) {
	t, err := s.db.DeviceType.Get(ctx, id)
	if ent.IsNotFound(err) {
		return Type{}, apperr.NotFound("Device type not found.")
	}
	if err != nil {
		return Type{}, fmt.Errorf("device: get type %d: %w", id, err)
	}
	return fromEntType(t), nil
}

// CreateType creates a device type with a unique name.
func (s *Service) CreateType(ctx context.Context, name, description string) (Type, error) {
	t, err := s.db.DeviceType.Create().SetName(name).SetDescription(description).Save(ctx)
	if ent.IsConstraintError(err) {
		return Type{}, typeNameTaken()
	}
	if err != nil {
		return Type{}, fmt.Errorf("device: create type: %w", err)
	}
	return fromEntType(t), nil
}

// UpdateType changes a device type; nil fields keep their value.
func (s *Service) UpdateType(ctx context.Context, id int, name, description *string) (Type, error) {
	upd := s.db.DeviceType.UpdateOneID(id)
	if name != nil {
		upd.SetName(*name)
	}
	if description != nil {
		upd.SetDescription(*description)
	}
	t, err := upd.Save(ctx)
	switch {
	case ent.IsNotFound(err):
		return Type{}, apperr.NotFound("Device type not found.")
	case ent.IsConstraintError(err):
		return Type{}, typeNameTaken()
	case err != nil:
		return Type{}, fmt.Errorf("device: update type %d: %w", id, err)
	}
	return fromEntType(t), nil
}

// DeleteType deletes a device type that no device uses.
func (s *Service) DeleteType(ctx context.Context, id int) error {
	used, err := s.db.Device.Query().Where(device.DeviceTypeID(id)).Count(ctx)
	if err != nil {
		return fmt.Errorf("device: delete type %d: %w", id, err)
	}
	if used > 0 {
		return apperr.Conflict(fmt.Sprintf("Device type is used by %d devices.", used))
	}
	err = s.db.DeviceType.DeleteOneID(id).Exec(ctx)
	if ent.IsNotFound(err) {
		return apperr.NotFound("Device type not found.")
	}
	if err != nil {
		return fmt.Errorf("device: delete type %d: %w", id, err)
	}
	return nil
}

func typeNameTaken() error {
	return apperr.Field("name", "A device type with this name already exists.")
}
