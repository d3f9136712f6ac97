package command

import (
	"context"
	"errors"
	"fmt"
	"time"

	"paradise/ent"
	"paradise/ent/device"
	"paradise/ent/devicecommand"
	"paradise/gen/api"
	"paradise/internal/apperr"
	"paradise/internal/paging"
)

// CancelledResult is the result a cancelled command records: cancelling
// is a failure the device never reported, told apart by "cancelled".
var CancelledResult = map[string]any{"error": "Cancelled by an administrator.", "cancelled": true}

// Cancelled counts cancellations in the commands metric.
const Cancelled = "cancelled"

// AdminCreate queues a command for any bound device on an administrator's
// behalf. The admin is the issuer; the command goes to the device through
// its owner's group and the owner's sessions get its status frames, as if
// the owner had queued it. A device bound to nobody is a 409: it cannot
// be online, and its next owner did not ask for the command.
func (s *Service) AdminCreate(ctx context.Context, admin, deviceID int, in CreateInput) (Command, bool, error) {
	d, err := s.db.Device.Get(ctx, deviceID)
	if ent.IsNotFound(err) {
		return Command{}, false, apperr.NotFound("Device not found.")
	}
	if err != nil {
		return Command{}, false, fmt.Errorf("command: get device %d: %w", deviceID, err)
	}
	owner, _, err := s.devices.ResolveOwner(ctx, d.MACAddress)
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Code == apperr.CodeDeviceNotBound {
		return Command{}, false, apperr.Conflict("Device is not bound to any user.")
	}
	if err != nil {
		return Command{}, false, err
	}
	return s.queue(ctx, admin, owner, deviceOf(d), in)
}

// AdminList returns a page of any device's commands, newest first, of one
// status unless status is empty.
func (s *Service) AdminList(ctx context.Context, deviceID int, status Status, page paging.Page) ([]Command, int, error) {
	if err := s.deviceExists(ctx, deviceID); err != nil {
		return nil, 0, err
	}
	return s.list(ctx, deviceID, status, page)
}

// AdminGet returns one command of any device.
func (s *Service) AdminGet(ctx context.Context, deviceID, commandID int) (Command, error) {
	if err := s.deviceExists(ctx, deviceID); err != nil {
		return Command{}, err
	}
	return s.get(ctx, deviceID, commandID)
}

// Cancel ends a pending command of a device: it becomes failed with
// CancelledResult, so it is no longer re-sent and a later command_result
// for it changes nothing (that update is conditional on the command being
// pending, as this one is). A sent command may already have run on the
// device; cancelling stops its re-delivery only. It returns the command
// before and after; a command no longer pending is a 409.
func (s *Service) Cancel(ctx context.Context, deviceID, commandID int) (before, after Command, err error) {
	before, err = s.AdminGet(ctx, deviceID, commandID)
	if err != nil {
		return Command{}, Command{}, err
	}
	now := s.now()
	n, err := s.db.DeviceCommand.Update().
		Where(devicecommand.ID(commandID), devicecommand.DeviceID(deviceID),
			devicecommand.StatusIn(devicecommand.StatusQueued, devicecommand.StatusSent)).
		SetStatus(devicecommand.StatusFailed).SetResult(CancelledResult).SetCompletedAt(now).
		Save(ctx)
	if err != nil {
		return Command{}, Command{}, fmt.Errorf("command: cancel %d: %w", commandID, err)
	}
	row, err := s.db.DeviceCommand.Query().Where(devicecommand.ID(commandID)).WithDevice().Only(ctx)
	if err != nil {
		return Command{}, Command{}, fmt.Errorf("command: read cancelled %d: %w", commandID, err)
	}
	after = fromEnt(row)
	if n == 0 {
		// Answered, expired or cancelled since it was read, or before.
		return Command{}, Command{}, apperr.Conflict(fmt.Sprintf("Command is no longer pending (%s).", after.Status))
	}
	s.m.Commands.WithLabelValues(Cancelled).Inc()
	if owner, _, err := s.devices.ResolveOwner(ctx, row.Edges.Device.MACAddress); err == nil {
		s.status(ctx, deviceOf(row.Edges.Device), owner, after)
	}
	return before, after, nil
}

func (s *Service) deviceExists(ctx context.Context, deviceID int) error {
	ok, err := s.db.Device.Query().Where(device.ID(deviceID)).Exist(ctx)
	if err != nil {
		return fmt.Errorf("command: find device %d: %w", deviceID, err)
	}
	if !ok {
		return apperr.NotFound("Device not found.")
	}
	return nil
}

// InputFromAPI is a command request as CreateInput.
func InputFromAPI(req *api.DeviceCommandRequest) (CreateInput, error) {
	in := CreateInput{Name: req.Name, IdempotencyKey: req.IdempotencyKey.Or("")}
	if v, ok := req.Params.Get(); ok {
		in.Params = decodeMap(v)
	}
	if v, ok := req.TTLSeconds.Get(); ok {
		if v > int(MaxTTL/time.Second) {
			return CreateInput{}, apperr.Field("ttl_seconds", "Must be between 1 and 2592000.")
		}
		in.TTL = time.Duration(v) * time.Second
	}
	return in, nil
}

// Pending returns a device's commands still to be answered (queued or
// sent), newest first, at most limit of them, and how many there are.
func (s *Service) Pending(ctx context.Context, deviceID, limit int) ([]Command, int, error) {
	q := s.db.DeviceCommand.Query().Where(devicecommand.DeviceID(deviceID),
		devicecommand.StatusIn(devicecommand.StatusQueued, devicecommand.StatusSent))
	count, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("command: count pending for device %d: %w", deviceID, err)
	}
	rows, err := q.Order(ent.Desc(devicecommand.FieldID)).Limit(limit).All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("command: pending for device %d: %w", deviceID, err)
	}
	out := make([]Command, len(rows))
	for i, r := range rows {
		out[i] = fromEnt(r)
	}
	return out, count, nil
}
