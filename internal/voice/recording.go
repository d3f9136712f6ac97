package voice

// recordingBlock is the allocation unit of a recording: a turn's audio
// grows by blocks instead of doubling a buffer, so 5 s of 16 kHz PCM
// (160 KB) costs 160 KB and not the 256 KB a doubled buffer reaches.
const recordingBlock = 32 << 10

// recording is a turn's audio as it arrives.
type recording struct {
	blocks [][]byte
	n      int
}

// Len is the recording's size in bytes.
func (r *recording) Len() int { return r.n }

// Write appends data.
func (r *recording) Write(data []byte) {
	for len(data) > 0 {
		if len(r.blocks) == 0 || len(r.blocks[len(r.blocks)-1]) == recordingBlock {
			r.blocks = append(r.blocks, make([]byte, 0, recordingBlock))
		}
		last := &r.blocks[len(r.blocks)-1]
		n := min(len(data), recordingBlock-len(*last))
		*last = append(*last, data[:n]...)
		data = data[n:]
		r.n += n
	}
}

// AppendFrom appends the recording from byte off on to dst.
func (r *recording) AppendFrom(dst []byte, off int) []byte {
	for _, b := range r.blocks {
		if off >= len(b) {
			off -= len(b)
			continue
		}
		dst = append(dst, b[off:]...)
		off = 0
	}
	return dst
}

// Bytes is the whole recording in one slice (a copy).
func (r *recording) Bytes() []byte { return r.AppendFrom(make([]byte, 0, r.n), 0) }

// Reset frees the recording.
func (r *recording) Reset() { r.blocks, r.n = nil, 0 }
