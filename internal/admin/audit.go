package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-faster/jx"

	"paradise/ent"
	"paradise/ent/auditentry"
	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/paging"
)

// Audit is the audit log: every admin write, who made it, when, and the
// object before and after. It owns the AuditEntry entity.
type Audit struct {
	db *ent.Client
}

// NewAudit returns the audit log.
func NewAudit(db *ent.Client) *Audit { return &Audit{db: db} }

// Target types (openapi.yaml's AuditTargetType).
const (
	targetUser       = "user"
	targetDevice     = "device"
	targetDeviceType = "device_type"
)

// Record writes an entry for a write the caller (a staff principal in
// ctx) made. before and after are the object's admin API form (nil where
// it did not or does not exist); they never hold credentials.
//
// The write it records has already happened; a failure to record is still
// the request's failure (a 500), so a write never goes unaudited quietly.
func (a *Audit) Record(ctx context.Context, action, targetType, targetID string, before, after json.Marshaler) error {
	actor := account.PrincipalFrom(ctx)
	b, err := snapshot(before)
	if err != nil {
		return err
	}
	af, err := snapshot(after)
	if err != nil {
		return err
	}
	err = a.db.AuditEntry.Create().SetActorID(actor.User.ID).SetActorUsername(actor.User.Username).
		SetAction(action).SetTargetType(targetType).SetTargetID(targetID).
		SetBefore(b).SetAfter(af).Exec(ctx)
	if err != nil {
		return fmt.Errorf("admin: audit %s: %w", action, err)
	}
	return nil
}

// snapshot is v as JSON, or "" for nil.
func snapshot(v json.Marshaler) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := v.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("admin: audit snapshot: %w", err)
	}
	return string(b), nil
}

// AuditFilter selects entries; zero fields do not filter.
type AuditFilter struct {
	ActorID int
	// Action matches exactly, or as a prefix when it ends with ".".
	Action     string
	TargetType string
	TargetID   string
	// From and To are UTC days, inclusive.
	From, To time.Time
}

// List returns a page of entries, newest first, and their count.
func (a *Audit) List(ctx context.Context, f AuditFilter, page paging.Page) ([]*ent.AuditEntry, int, error) {
	q := a.db.AuditEntry.Query()
	if f.ActorID != 0 {
		q = q.Where(auditentry.ActorID(f.ActorID))
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			q = q.Where(auditentry.ActionHasPrefix(f.Action))
		} else {
			q = q.Where(auditentry.Action(f.Action))
		}
	}
	if f.TargetType != "" {
		q = q.Where(auditentry.TargetType(f.TargetType))
	}
	if f.TargetID != "" {
		q = q.Where(auditentry.TargetID(f.TargetID))
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.From.After(f.To) {
		return nil, 0, apperr.Field("from", "Must not be after to.")
	}
	// The embedded SQLite database compares times as text in the
	// server's zone, so bounds are given in it.
	if !f.From.IsZero() {
		q = q.Where(auditentry.CreatedAtGTE(day(f.From).In(time.Local)))
	}
	if !f.To.IsZero() {
		q = q.Where(auditentry.CreatedAtLT(day(f.To).AddDate(0, 0, 1).In(time.Local)))
	}
	count, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("admin: count audit entries: %w", err)
	}
	if err := page.Check(count); err != nil {
		return nil, 0, err
	}
	entries, err := q.Order(ent.Desc(auditentry.FieldCreatedAt), ent.Desc(auditentry.FieldID)).
		Offset(page.Offset()).Limit(page.Size).All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("admin: list audit entries: %w", err)
	}
	return entries, count, nil
}

// day is the UTC day of t.
func day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// auditEntryToAPI converts an entry; a stored snapshot that is not a JSON
// object (never written so) reads as null.
func auditEntryToAPI(e *ent.AuditEntry) api.AuditEntry {
	out := api.AuditEntry{ID: e.ID, Actor: api.UserRef{ID: e.ActorID, Username: e.ActorUsername},
		Action: e.Action, TargetType: api.AuditTargetType(e.TargetType), TargetID: e.TargetID,
		Before: api.NilAuditEntryBefore{Null: true}, After: api.NilAuditEntryAfter{Null: true}, CreatedAt: e.CreatedAt}
	if m, ok := rawObject(e.Before); ok {
		out.Before = api.NewNilAuditEntryBefore(m)
	}
	if m, ok := rawObject(e.After); ok {
		out.After = api.NewNilAuditEntryAfter(m)
	}
	return out
}

func rawObject(s string) (map[string]jx.Raw, bool) {
	if s == "" {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return nil, false
	}
	out := make(map[string]jx.Raw, len(m))
	for k, v := range m {
		out[k] = jx.Raw(v)
	}
	return out, true
}
