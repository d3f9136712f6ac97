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

// ChatMessage is one message of a conversation: the user's, the
// companion's reply (with the model that wrote it and its usage), or a
// system note.
type ChatMessage struct {
	ent.Schema
}

// Annotations keeps the table name short and stable.
func (ChatMessage) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("chat_messages")}
}

// Fields of the ChatMessage.
func (ChatMessage) Fields() []ent.Field {
	return []ent.Field{
		field.Int("conversation_id").Immutable(),
		field.Enum("role").Values("user", "assistant", "system").Immutable(),
		field.Text("content"),
		field.String("model").Validate(maxChars(100)).SchemaType(varchar(100)).Default(""),
		field.String("provider").Validate(maxChars(64)).SchemaType(varchar(64)).Default(""),
		field.Int("prompt_tokens").Default(0).NonNegative(),
		field.Int("completion_tokens").Default(0).NonNegative(),
		field.Int("latency_ms").Default(0).NonNegative(),
		field.String("finish_reason").Validate(maxChars(32)).SchemaType(varchar(32)).Default(""),
		// Truncated marks a reply cut short (client gone, model failed
		// after some text).
		field.Bool("truncated").Default(false),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges of the ChatMessage.
func (ChatMessage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("conversation", Conversation.Type).Ref("messages").Field("conversation_id").Unique().Required().Immutable(),
	}
}

// Indexes of the ChatMessage.
func (ChatMessage) Indexes() []ent.Index {
	return []ent.Index{
		// The messages of a conversation in order (ids grow with time).
		index.Fields("conversation_id", "id"),
	}
}
