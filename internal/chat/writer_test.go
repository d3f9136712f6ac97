package chat_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap/zaptest"

	"paradise/ent/chatmessage"
	"paradise/internal/apperr"
	"paradise/internal/chat"
	"paradise/internal/database"
	"paradise/internal/testenv"
)

// TestMessageWriter stores messages from many concurrent chats through
// the batching writer: every message lands in its own conversation under
// the id its chat was given, a conversation deleted meanwhile fails only
// its own chats (a 404) and not the others batched with them, and the
// conversations are marked active.
func TestMessageWriter(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		var db *database.DB
		s := testenv.Start(t, b, fx.Populate(&db))
		u := s.Register(t, "writer")
		ctx := context.Background()
		long := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		newConv := func() int {
			return db.Client.Conversation.Create().SetUserID(u.User.ID).SetTitle("t").
				SetCreatedAt(long).SetUpdatedAt(long).SaveX(ctx).ID
		}
		convs := make([]int, 8)
		for i := range convs {
			convs[i] = newConv()
		}
		gone := newConv()
		db.Client.Conversation.DeleteOneID(gone).ExecX(ctx)

		w := chat.NewMessageWriter(db.Client, zaptest.NewLogger(t))
		const n = 400
		convOf := func(i int) int {
			if i%50 == 7 {
				return gone
			}
			return convs[i%len(convs)]
		}
		ids := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ids[i], errs[i] = w.Add(ctx, convOf(i), time.Now(),
					db.Client.ChatMessage.Create().SetRole(chatmessage.RoleUser).SetContent(fmt.Sprint("m", i)))
			})
		}
		wg.Wait()

		seen := map[int]bool{}
		stored := 0
		for i := range n {
			if convOf(i) == gone {
				var ae *apperr.Error
				if !errors.As(errs[i], &ae) || ae.Status != 404 {
					t.Errorf("message %d to a deleted conversation: err = %v, want a 404", i, errs[i])
				}
				continue
			}
			if errs[i] != nil {
				t.Fatalf("message %d: %v", i, errs[i])
			}
			if seen[ids[i]] {
				t.Fatalf("message %d: id %d given twice", i, ids[i])
			}
			seen[ids[i]] = true
			m := db.Client.ChatMessage.GetX(ctx, ids[i])
			if m.Content != fmt.Sprint("m", i) || m.ConversationID != convOf(i) {
				t.Fatalf("message %d: id %d holds %q in conversation %d, want %q in %d", i, ids[i], m.Content, m.ConversationID, fmt.Sprint("m", i), convOf(i))
			}
			stored++
		}
		if total := db.Client.ChatMessage.Query().CountX(ctx); total != stored {
			t.Errorf("%d messages in the database, want %d", total, stored)
		}
		for _, id := range convs {
			if c := db.Client.Conversation.GetX(ctx, id); !c.UpdatedAt.After(long) {
				t.Errorf("conversation %d not marked active: updated_at %v", id, c.UpdatedAt)
			}
		}
		if !w.Idle() {
			t.Error("the writer still has batches after every chat returned")
		}
	})
}
