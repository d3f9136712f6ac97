package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AuditEntry records one admin write: who did what to which object, when,
// and the object before and after. Entries are never updated or deleted
// by the service. The actor is kept by id and username, not as an edge, so
// deleting a staff user keeps their trail.
type AuditEntry struct {
	ent.Schema
}

// Annotations keeps the table name short and stable.
func (AuditEntry) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("audit_entries")}
}

// Fields of the AuditEntry.
func (AuditEntry) Fields() []ent.Field {
	return []ent.Field{
		field.Int("actor_id").Immutable(),
		field.String("actor_username").Validate(maxChars(150)).SchemaType(varchar(150)).Immutable(),
		// Action is "<object>.<verb>", e.g. user.update, device.unbind.
		field.String("action").Validate(maxChars(64)).SchemaType(varchar(64)).NotEmpty().Immutable(),
		field.String("target_type").Validate(maxChars(32)).SchemaType(varchar(32)).Immutable(),
		field.String("target_id").Validate(maxChars(64)).SchemaType(varchar(64)).Default("").Immutable(),
		// Before and After are JSON snapshots of the object (null when it
		// did not exist before or does not after); never credentials.
		field.Text("before").Default("").Immutable(),
		field.Text("after").Default("").Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Indexes of the AuditEntry.
func (AuditEntry) Indexes() []ent.Index {
	return []ent.Index{
		// The log is read newest first, filtered by actor, action or target.
		index.Fields("created_at"),
		index.Fields("actor_id", "created_at"),
		index.Fields("target_type", "target_id"),
	}
}
