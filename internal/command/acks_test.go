package command

import (
	"fmt"
	"testing"
)

// TestRounds: within a round every command appears once; a device's
// repeated answer is dropped (its first counts); other devices' answers
// for the same command go to later rounds, in arrival order.
func TestRounds(t *testing.T) {
	a := func(id int, mac string) answer { return answer{id: id, mac: mac} }
	flush := answer{flush: make(chan struct{})}
	tests := []struct {
		name  string
		batch []answer
		want  string
	}{
		{"distinct", []answer{a(1, "A"), a(2, "A"), a(3, "B")}, "[[1A 2A 3B]]"},
		{"repeat of one device", []answer{a(1, "A"), a(1, "A"), a(2, "A")}, "[[1A 2A]]"},
		{"another device first", []answer{a(1, "B"), a(1, "A"), a(2, "A")}, "[[1B 2A] [1A]]"},
		{"three devices", []answer{a(1, "B"), a(1, "C"), a(1, "A"), a(1, "B")}, "[[1B] [1C] [1A]]"},
		{"flush markers skipped", []answer{flush, a(1, "A"), flush}, "[[1A]]"},
		{"only a flush", []answer{flush}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]string
			for _, r := range rounds(tt.batch) {
				var ids []string
				for _, ans := range r {
					ids = append(ids, fmt.Sprintf("%d%s", ans.id, ans.mac))
				}
				got = append(got, ids)
			}
			if s := fmt.Sprint(got); s != tt.want {
				t.Fatalf("rounds = %s, want %s", s, tt.want)
			}
		})
	}
}
