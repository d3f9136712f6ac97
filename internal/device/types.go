package device

import (
	"context"
	"fmt"

	"paradise/ent"
	"paradise/ent/device"
	"paradise/ent/devicetype"
	"paradise/internal/apperr"
	"paradise/internal/paging"
	"paradise/internal/persona"
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

// TypeInput is a device type to create or the changes to one; nil fields
// keep their value (on create: empty).
type TypeInput struct {
	Name               *string
	Description        *string
	PersonaName        *string
	PersonaDescription *string
	PromptTemplate     *string
	Voice              *string
}

// check refuses a prompt template that does not parse or does not render
// with the data every template gets (internal/persona).
func (in TypeInput) check() error {
	if in.PromptTemplate == nil {
		return nil
	}
	if err := persona.Check(*in.PromptTemplate); err != nil {
		return apperr.Field("prompt_template", "Invalid template: "+err.Error())
	}
	return nil
}

// CreateType creates a device type with a unique name (required).
func (s *Service) CreateType(ctx context.Context, in TypeInput) (Type, error) {
	if in.Name == nil {
		return Type{}, apperr.Field("name", "This field is required.")
	}
	if err := in.check(); err != nil {
		return Type{}, err
	}
	create := s.db.DeviceType.Create().SetName(*in.Name).
		SetNillableDescription(in.Description).
		SetNillablePersonaName(in.PersonaName).
		SetNillablePersonaDescription(in.PersonaDescription).
		SetNillablePromptTemplate(in.PromptTemplate).
		SetNillableVoice(in.Voice)
	t, err := create.Save(ctx)
	if ent.IsConstraintError(err) {
		return Type{}, typeNameTaken()
	}
	if err != nil {
		return Type{}, fmt.Errorf("device: create type: %w", err)
	}
	return fromEntType(t), nil
}

// UpdateType changes a device type; nil fields keep their value.
func (s *Service) UpdateType(ctx context.Context, id int, in TypeInput) (Type, error) {
	if err := in.check(); err != nil {
		return Type{}, err
	}
	t, err := s.db.DeviceType.UpdateOneID(id).
		SetNillableName(in.Name).
		SetNillableDescription(in.Description).
		SetNillablePersonaName(in.PersonaName).
		SetNillablePersonaDescription(in.PersonaDescription).
		SetNillablePromptTemplate(in.PromptTemplate).
		SetNillableVoice(in.Voice).
		Save(ctx)
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

// Get returns a device by id with its type and the type's persona (chat
// speaks as it).
func (s *Service) Get(ctx context.Context, id int) (Device, error) {
	d, err := s.db.Device.Query().Where(device.ID(id)).WithDeviceType().Only(ctx)
	if ent.IsNotFound(err) {
		return Device{}, apperr.NotFound("Device not found.")
	}
	if err != nil {
		return Device{}, fmt.Errorf("device: get %d: %w", id, err)
	}
	return fromEnt(d), nil
}
