package main

import (
	"context"
	"testing"
	"time"

	"paradise/internal/config"
	"paradise/internal/llm"
)

func TestStreamTag(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{chatMessage(0), 0, true},
		{chatMessage(12345), 12345, true},
		{"chatload #7: hi", 7, true},
		{"chatload #7 hi", 0, false},
		{"chatload #x: hi", 0, false},
		{"chatload #-1: hi", 0, false},
		{"hello", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := streamTag(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("streamTag(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestFakeWithLLMClient checks the fake against Paradise's own provider
// client: the reply, the usage and the two instants it records.
func TestFakeWithLLMClient(t *testing.T) {
	reg := &registry{recs: map[int64]*streamRec{}}
	tokens := replyTokens(5)
	f, err := startFake(tokens, 2*time.Millisecond, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	rec := &streamRec{seq: 42}
	reg.add(rec)

	client := llm.NewOpenAI(config.LLMProvider{Name: "fake", BaseURL: f.url, APIKey: fakeKey, Model: fakeModel,
		FirstTokenTimeout: 5 * time.Second, Timeout: 10 * time.Second})
	before := clock()
	reply, err := llm.Complete(context.Background(), client, llm.Request{Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: "You are a companion."},
		{Role: llm.RoleUser, Content: chatMessage(42)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := " w0 w1 w2 w3 w4"; reply.Text != want {
		t.Errorf("reply %q, want %q", reply.Text, want)
	}
	if reply.Final.FinishReason != "stop" || reply.Final.Usage.CompletionTokens != 5 || reply.Final.Usage.Estimated {
		t.Errorf("final = %+v", reply.Final)
	}
	recv, first := rec.upstreamRecv.Load(), rec.upstreamFirst.Load()
	if rec.upstreamCount.Load() != 1 || recv < before || first-recv < int64(2*time.Millisecond) {
		t.Errorf("recorded count %d, received %d (sent after %d), first token %d", rec.upstreamCount.Load(), recv, before, first)
	}

	// A message naming no stream is still answered, and counted.
	if _, err := llm.Complete(context.Background(), client, llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}); err != nil {
		t.Fatal(err)
	}
	if f.unmatched.Load() != 1 {
		t.Errorf("unmatched = %d, want 1", f.unmatched.Load())
	}
}
