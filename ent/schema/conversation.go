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

// Conversation is a thread of chat messages between a user (through the
// app or one of their devices) and the AI companion.
type Conversation struct {
	ent.Schema
}

// Annotations keeps the table name short and stable.
func (Conversation) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("conversations")}
}

// Fields of the Conversation.
func (Conversation) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable(),
		// DeviceID is the device that started the conversation (a device
		// token), nil for the app.
		field.Int("device_id").Optional().Nillable(),
		field.String("title").Validate(maxChars(100)).SchemaType(varchar(100)).Default(""),
		field.Time("created_at").Default(time.Now).Immutable(),
		// UpdatedAt moves with every message and rename: "my conversations"
		// are listed by it, newest first.
		field.Time("updated_at").Default(time.Now),
	}
}

// Edges of the Conversation.
func (Conversation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("conversations").Field("user_id").Unique().Required().Immutable(),
		edge.From("device", Device.Type).Ref("conversations").Field("device_id").Unique(),
		edge.To("messages", ChatMessage.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the Conversation.
func (Conversation) Indexes() []ent.Index {
	return []ent.Index{
		// My conversations, most recently active first.
		index.Fields("user_id", "updated_at"),
		index.Fields("device_id"),
	}
}
