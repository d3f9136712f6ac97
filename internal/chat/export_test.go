package chat

import (
	"context"
	"time"

	"go.uber.org/zap"

	"paradise/ent"
)

// MessageWriter exposes the batching message writer to the external tests.
type MessageWriter struct{ w *messageWriter }

func NewMessageWriter(db *ent.Client, log *zap.Logger) MessageWriter {
	return MessageWriter{newMessageWriter(db, log)}
}

func (m MessageWriter) Add(ctx context.Context, convID int, now time.Time, create *ent.ChatMessageCreate) (int, error) {
	return m.w.add(ctx, convID, now, create)
}

// Idle reports whether no batch is being written or waits.
func (m MessageWriter) Idle() bool {
	m.w.mu.Lock()
	defer m.w.mu.Unlock()
	return m.w.writers == 0 && len(m.w.pending) == 0
}
