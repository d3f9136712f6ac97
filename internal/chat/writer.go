package chat

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"paradise/ent"
	"paradise/ent/conversation"
)

// maxWriteBatch bounds the messages one statement stores.
const maxWriteBatch = 128

// maxWriters is how many batches are written at once.
const maxWriters = 2

// writeTimeout bounds one batch's statements. They run on behalf of
// several chats, so no one chat's context may cut them short.
const writeTimeout = 15 * time.Second

// messageWriter stores the messages of concurrent chats together: each
// chat stores two messages, and at hundreds of chats a second a statement
// and a commit per message (and another to mark its conversation active)
// were most of Postgres' work and a large share of the server's.
//
// It keeps no goroutine of its own (group commit): a chat whose message
// arrives while fewer than maxWriters batches are being written writes
// one itself, with whatever else is waiting; otherwise its message waits.
// A writer that finishes hands the messages that arrived meanwhile, as
// the next batch, to the first of their chats, which writes them. A lone
// message is written at once, as it was before batching.
type messageWriter struct {
	db  *ent.Client
	log *zap.Logger

	mu      sync.Mutex
	pending []*messageWrite
	writers int // batches being written
}

// messageWrite is one message waiting to be stored.
type messageWrite struct {
	convID int
	now    time.Time
	create *ent.ChatMessageCreate

	id  int
	err error
	// done is closed once the message is stored (or failed to be).
	done chan struct{}
	// lead hands this chat a batch to write (with its own message in it).
	lead chan []*messageWrite
}

func newMessageWriter(db *ent.Client, log *zap.Logger) *messageWriter {
	return &messageWriter{db: db, log: log}
}

// add stores a message in the conversation convID at now and marks the
// conversation active, returning the message's id. It waits for the
// write even when ctx ends: the message is in a batch by then.
func (w *messageWriter) add(ctx context.Context, convID int, now time.Time, create *ent.ChatMessageCreate) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("chat: store message: %w", err)
	}
	m := &messageWrite{convID: convID, now: now, create: create, done: make(chan struct{}), lead: make(chan []*messageWrite, 1)}
	w.mu.Lock()
	w.pending = append(w.pending, m)
	var batch []*messageWrite
	if w.writers < maxWriters {
		w.writers++
		batch = w.take()
	}
	w.mu.Unlock()
	if batch != nil {
		w.run(batch)
	}
	for {
		select {
		case <-m.done:
			return m.id, m.err
		case batch := <-m.lead:
			w.run(batch)
		}
	}
}

// take removes up to maxWriteBatch waiting messages; w.mu is held.
func (w *messageWriter) take() []*messageWrite {
	n := min(len(w.pending), maxWriteBatch)
	batch := w.pending[:n:n]
	w.pending = w.pending[n:]
	if len(w.pending) == 0 {
		w.pending = nil // let the backing array go
	}
	return batch
}

// run writes batch, then hands what arrived meanwhile to the next writer.
func (w *messageWriter) run(batch []*messageWrite) {
	w.write(batch)
	w.mu.Lock()
	if len(w.pending) == 0 {
		w.writers--
		w.mu.Unlock()
		return
	}
	next := w.take()
	w.mu.Unlock()
	next[0].lead <- next // buffered, and each chat is handed at most one batch
}

// write stores a batch: one INSERT for all its messages and one UPDATE
// for their conversations. A batch the INSERT refuses (a conversation
// deleted under one of its chats fails the foreign key for all) is
// written one message at a time, so that only that chat fails.
func (w *messageWriter) write(batch []*messageWrite) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	defer func() {
		for _, m := range batch {
			close(m.done)
		}
	}()
	if len(batch) > 1 {
		creates := make([]*ent.ChatMessageCreate, len(batch))
		for i, m := range batch {
			creates[i] = m.create.SetConversationID(m.convID).SetCreatedAt(m.now)
		}
		if saved, err := w.db.ChatMessage.CreateBulk(creates...).Save(ctx); err == nil {
			for i, m := range batch {
				m.id = saved[i].ID
			}
			w.touch(ctx, batch)
			return
		}
	}
	for _, m := range batch {
		saved, err := m.create.SetConversationID(m.convID).SetCreatedAt(m.now).Save(ctx)
		if err != nil {
			// The foreign key no longer finds a conversation deleted under
			// this chat.
			m.err = goneAsNotFound(fmt.Errorf("chat: store message: %w", err))
			continue
		}
		m.id = saved.ID
	}
	w.touch(ctx, batch)
}

// touch marks the batch's conversations active at the latest of their
// messages' times (they are milliseconds apart). Update, not UpdateOne: a
// delete racing this write is not an error. The messages are stored
// either way, so a failure here is only logged: the worst it leaves is a
// conversation listed a little lower than its last message.
func (w *messageWriter) touch(ctx context.Context, batch []*messageWrite) {
	ids := make([]int, 0, len(batch))
	seen := make(map[int]bool, len(batch))
	var latest time.Time
	for _, m := range batch {
		if m.err != nil || seen[m.convID] {
			continue
		}
		seen[m.convID] = true
		ids = append(ids, m.convID)
		if m.now.After(latest) {
			latest = m.now
		}
	}
	if len(ids) == 0 {
		return
	}
	if err := w.db.Conversation.Update().Where(conversation.IDIn(ids...)).SetUpdatedAt(latest).Exec(ctx); err != nil {
		w.log.Warn("Could not mark conversations active", zap.Ints("conversation_ids", ids), zap.Error(err))
	}
}
