package volcengine

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The binary protocol of streaming ASR (docs/vendors.md §4c): a 4-byte
// header, then an optional int32 sequence, then a uint32 payload size and
// the payload; all integers big-endian. Error frames carry a uint32 code
// instead of a sequence.

// MessageType is the high nibble of a frame's second header byte.
type MessageType byte

// The message types of the protocol.
const (
	FullClientRequest  MessageType = 0b0001
	AudioOnlyRequest   MessageType = 0b0010
	FullServerResponse MessageType = 0b1001
	AudioOnlyResponse  MessageType = 0b1011
	ErrorMessage       MessageType = 0b1111
)

// The flags of the second header byte's low nibble.
const (
	FlagNone        byte = 0b0000
	FlagSequence    byte = 0b0001 // a positive sequence follows the header
	FlagLast        byte = 0b0010 // the last packet, no sequence
	FlagLastNegSeq  byte = 0b0011 // the last packet, a negative sequence follows
	protocolVersion byte = 0b0001
	headerWords     byte = 0b0001 // header size in 4-byte units
)

// Serialization and compression of the payload (third header byte).
const (
	SerialRaw    byte = 0
	SerialJSON   byte = 1
	CompressNone byte = 0
	CompressGzip byte = 1
)

// Frame is one message of the protocol, its payload uncompressed.
type Frame struct {
	Type          MessageType
	Flags         byte
	Serialization byte
	Compression   byte
	// Sequence is present when Flags has its low bit set.
	Sequence int32
	// Code is an error frame's error code.
	Code    uint32
	Payload []byte
}

// Last reports whether the frame is the last of its side.
func (f Frame) Last() bool { return f.Flags&FlagLast != 0 }

func (f Frame) hasSequence() bool { return f.Flags&FlagSequence != 0 }

// gzipStored wraps p in a gzip member of stored (uncompressed) deflate
// blocks: valid gzip for any reader, without a flate writer's 650 KB of
// state per stream. Audio does not compress, and the JSON requests are
// small.
func gzipStored(p []byte) []byte {
	const maxBlock = 65535
	crc, size := crc32.ChecksumIEEE(p), uint32(len(p))
	out := make([]byte, 0, 18+len(p)+5*(len(p)/maxBlock+1))
	out = append(out, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff) // magic, deflate, no flags or mtime, unknown OS
	for first := true; first || len(p) > 0; first = false {
		n := min(len(p), maxBlock)
		final := byte(0)
		if n == len(p) {
			final = 1
		}
		out = append(out, final) // BFINAL, BTYPE 00 (stored)
		out = binary.LittleEndian.AppendUint16(out, uint16(n))
		out = binary.LittleEndian.AppendUint16(out, ^uint16(n))
		out = append(out, p[:n]...)
		p = p[n:]
	}
	out = binary.LittleEndian.AppendUint32(out, crc)
	return binary.LittleEndian.AppendUint32(out, size)
}

// Encode packs a frame, gzipping the payload when Compression says so.
func Encode(f Frame) ([]byte, error) {
	payload := f.Payload
	if f.Compression == CompressGzip {
		payload = gzipStored(payload)
	}
	out := make([]byte, 0, 12+len(payload))
	out = append(out, protocolVersion<<4|headerWords, byte(f.Type)<<4|f.Flags&0x0f, f.Serialization<<4|f.Compression&0x0f, 0)
	switch {
	case f.Type == ErrorMessage:
		out = binary.BigEndian.AppendUint32(out, f.Code)
	case f.hasSequence():
		out = binary.BigEndian.AppendUint32(out, uint32(f.Sequence))
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(payload)))
	return append(out, payload...), nil
}

// ErrFrame is a frame that does not follow the protocol.
var ErrFrame = errors.New("volcengine: malformed frame")

// maxPayload bounds a frame's payload once uncompressed: results are
// small JSON, audio packets a fraction of a second.
const maxPayload = 4 << 20

// Decode unpacks a frame and gunzips its payload.
func Decode(b []byte) (Frame, error) {
	if len(b) < 4 || b[0]>>4 != protocolVersion || b[0]&0x0f == 0 {
		return Frame{}, fmt.Errorf("%w: bad header", ErrFrame)
	}
	hdr := int(b[0]&0x0f) * 4
	if len(b) < hdr {
		return Frame{}, fmt.Errorf("%w: short header", ErrFrame)
	}
	f := Frame{Type: MessageType(b[1] >> 4), Flags: b[1] & 0x0f, Serialization: b[2] >> 4, Compression: b[2] & 0x0f}
	rest := b[hdr:]
	word := func() (uint32, bool) {
		if len(rest) < 4 {
			return 0, false
		}
		v := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		return v, true
	}
	switch {
	case f.Type == ErrorMessage:
		code, ok := word()
		if !ok {
			return Frame{}, fmt.Errorf("%w: no error code", ErrFrame)
		}
		f.Code = code
	case f.hasSequence():
		seq, ok := word()
		if !ok {
			return Frame{}, fmt.Errorf("%w: no sequence", ErrFrame)
		}
		f.Sequence = int32(seq)
	}
	size, ok := word()
	if !ok || int(size) != len(rest) {
		return Frame{}, fmt.Errorf("%w: payload size %d, %d bytes follow", ErrFrame, size, len(rest))
	}
	f.Payload = rest
	switch f.Compression {
	case CompressNone:
	case CompressGzip:
		zr, err := gzip.NewReader(bytes.NewReader(rest))
		if err != nil {
			return Frame{}, fmt.Errorf("%w: gzip: %v", ErrFrame, err)
		}
		p, err := io.ReadAll(io.LimitReader(zr, maxPayload+1))
		if err != nil || len(p) > maxPayload {
			return Frame{}, fmt.Errorf("%w: gzip payload unreadable or too large", ErrFrame)
		}
		f.Payload = p
	default:
		return Frame{}, fmt.Errorf("%w: compression %d", ErrFrame, f.Compression)
	}
	return f, nil
}
