package voice

import (
	"bytes"
	"testing"
)

func TestRecording(t *testing.T) {
	want := make([]byte, 3*recordingBlock+123)
	for i := range want {
		want[i] = byte(i * 7)
	}
	for _, piece := range []int{1, 1000, recordingBlock, recordingBlock + 1, len(want)} {
		var r recording
		for off := 0; off < len(want); off += piece {
			r.Write(want[off:min(off+piece, len(want))])
		}
		if r.Len() != len(want) || !bytes.Equal(r.Bytes(), want) {
			t.Fatalf("pieces of %d: %d bytes, equal %t", piece, r.Len(), bytes.Equal(r.Bytes(), want))
		}
		for _, off := range []int{0, 5, recordingBlock, 2*recordingBlock + 9, len(want)} {
			if got := r.AppendFrom([]byte{1}, off); !bytes.Equal(got[1:], want[off:]) || got[0] != 1 {
				t.Fatalf("pieces of %d: from %d wrong", piece, off)
			}
		}
		if len(r.blocks) != 4 || cap(r.blocks[0]) != recordingBlock {
			t.Fatalf("pieces of %d: %d blocks", piece, len(r.blocks))
		}
		r.Reset()
		if r.Len() != 0 || len(r.Bytes()) != 0 {
			t.Fatal("reset kept audio")
		}
	}
}
