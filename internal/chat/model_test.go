package chat

import (
	"context"
	"strings"
	"testing"
)

func TestEstimateTokens(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abcd", 1},
		{"abcde", 2},
		{"你好", 2},
		{"hi 你好", 3},
	} {
		if got := EstimateTokens(tc.in); got != tc.want {
			t.Errorf("EstimateTokens(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestDevModelIsDeterministic(t *testing.T) {
	req := ModelRequest{Messages: []Message{{Role: RoleSystem, Content: "persona"}, {Role: RoleUser, Content: "Hello  there"}}}
	var runs [2]string
	for i := range runs {
		var b strings.Builder
		done, err := DevModel{}.Complete(context.Background(), req, func(s string) error { b.WriteString(s); return nil })
		if err != nil || done.Provider != DevProvider || done.FinishReason != FinishStop || done.CompletionTokens == 0 {
			t.Fatalf("done %+v, err %v", done, err)
		}
		runs[i] = b.String()
	}
	if runs[0] != runs[1] || runs[0] != DevReply(req) || !strings.Contains(runs[0], `"Hello there"`) {
		t.Fatalf("replies %q", runs)
	}
}

func TestDevModelStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (DevModel{Pacing: 1}).Complete(ctx, ModelRequest{Messages: []Message{{Role: RoleUser, Content: "a b c"}}},
		func(string) error { return nil }); err == nil {
		t.Fatal("a cancelled context did not stop the development model")
	}
}
