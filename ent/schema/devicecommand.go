package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// DeviceCommand is a command for a device that must arrive: it is stored,
// delivered when the device is (or comes) online, re-sent on every
// reconnect until the device answers with command_result, and expires
// after its time to live. The command id is the device's de-duplication
// key (delivery is at least once).
type DeviceCommand struct {
	ent.Schema
}

// Annotations keeps the table name short and stable.
func (DeviceCommand) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("device_commands")}
}

// Fields of the DeviceCommand.
func (DeviceCommand) Fields() []ent.Field {
	return []ent.Field{
		field.Int("device_id").Immutable(),
		// IssuerID is the user (owner or staff) who queued the command.
		field.Int("issuer_id").Immutable(),
		field.String("name").Validate(maxChars(64)).SchemaType(varchar(64)).NotEmpty().Immutable(),
		field.JSON("params", map[string]any{}).Immutable(),
		// Status moves queued -> sent -> acknowledged | failed, or to
		// expired from queued or sent once expires_at passes.
		field.Enum("status").Values("queued", "sent", "acknowledged", "failed", "expired").Default("queued"),
		// Attempts counts deliveries (sends to a live session).
		field.Int("attempts").Default(0),
		field.String("idempotency_key").Validate(maxChars(64)).SchemaType(varchar(64)).Optional().Nillable().Immutable(),
		// Result is what the device answered (command_result's result).
		field.JSON("result", map[string]any{}).Optional(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at").Immutable(),
		field.Time("sent_at").Optional().Nillable(),
		field.Time("completed_at").Optional().Nillable(),
	}
}

// Edges of the DeviceCommand.
func (DeviceCommand) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("device", Device.Type).Ref("commands").Field("device_id").Unique().Required().Immutable(),
	}
}

// Indexes of the DeviceCommand.
func (DeviceCommand) Indexes() []ent.Index {
	return []ent.Index{
		// Delivery on connect reads a device's pending commands in order;
		// listings filter a device's commands by status.
		index.Fields("device_id", "status", "id"),
		// One command per idempotency key and device: a retried create
		// returns the first.
		index.Fields("device_id", "idempotency_key").Unique(),
		// The expiry sweeper reads pending commands past their expiry.
		index.Fields("status", "expires_at"),
	}
}
