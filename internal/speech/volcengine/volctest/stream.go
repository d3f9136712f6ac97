package volctest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"paradise/internal/speech/volcengine"
)

// streamResources are the X-Api-Resource-Id values streaming ASR takes.
var streamResources = map[string]bool{
	"volc.bigasr.sauc.duration": true, "volc.bigasr.sauc.concurrent": true,
	"volc.seedasr.sauc.duration": true, "volc.seedasr.sauc.concurrent": true,
}

// FailStream makes the next stream answer its first audio packet with an
// error frame carrying code (45000001, 55000031, ...).
func (s *Server) FailStream(code int) {
	s.mu.Lock()
	s.streamFail = append(s.streamFail, code)
	s.mu.Unlock()
}

// PartialEvery is how much audio the fake hears per character of
// Transcript: its partial results grow by one character per 200 ms.
const PartialEvery = 6400

// stream is the fake streaming ASR: it checks the handshake headers, the
// framing of every packet (header bytes, sequence numbers, gzip, the
// payload size), answers audio with growing partial results and the last
// packet with the final one (after Delay), as §4c describes.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Api-App-Key") != AppID || r.Header.Get("X-Api-Access-Key") != AccessToken {
		s.Rejected.Add(1)
		asrStatus(w, http.StatusUnauthorized, 45000010, "invalid credentials")
		return
	}
	if !streamResources[r.Header.Get("X-Api-Resource-Id")] || r.Header.Get("X-Api-Connect-Id") == "" {
		asrStatus(w, http.StatusBadRequest, 45000001, "missing or wrong X-Api headers")
		return
	}
	w.Header().Set("X-Tt-Logid", "fake-logid")
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	s.Streams.Add(1)
	s.mu.Lock()
	fail := pop(&s.streamFail)
	s.mu.Unlock()
	ctx := r.Context()
	refuse := func(code uint32, msg string) {
		b, _ := volcengine.Encode(volcengine.Frame{Type: volcengine.ErrorMessage, Serialization: volcengine.SerialJSON, Code: code, Payload: []byte(msg)})
		_ = conn.Write(ctx, websocket.MessageBinary, b)
		s.Refused.Add(1)
		_ = conn.Close(websocket.StatusNormalClosure, "")
	}
	// answer sends a full server response; a sequence always follows its
	// header, negative on the last.
	answer := func(seq int32, last bool, text string, audio int, gz byte) error {
		flags := volcengine.FlagSequence
		if last {
			flags, seq = volcengine.FlagLastNegSeq, -seq
		}
		body, _ := json.Marshal(map[string]any{"audio_info": map[string]any{"duration": audio / 32},
			"result": map[string]any{"text": text, "utterances": []any{}}})
		b, _ := volcengine.Encode(volcengine.Frame{Type: volcengine.FullServerResponse, Flags: flags, Serialization: volcengine.SerialJSON, Compression: gz, Sequence: seq, Payload: body})
		return conn.Write(ctx, websocket.MessageBinary, b)
	}

	var gz byte
	var seq int32 // the client's last sequence, when it numbers packets
	audio, packets := 0, int32(0)
	for first := true; ; first = false {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		f, err := volcengine.Decode(data)
		if err != nil || typ != websocket.MessageBinary || data[3] != 0 {
			refuse(45000001, "malformed frame")
			return
		}
		if f.Flags&volcengine.FlagSequence != 0 {
			want := seq + 1
			if f.Flags == volcengine.FlagLastNegSeq {
				want = -want
			}
			if f.Sequence != want {
				refuse(45000001, "sequence "+strconv.Itoa(int(f.Sequence))+", want "+strconv.Itoa(int(want)))
				return
			}
			seq = max(f.Sequence, -f.Sequence)
		}
		if first {
			if f.Type != volcengine.FullClientRequest || f.Serialization != volcengine.SerialJSON || f.Last() {
				refuse(45000001, "the first packet must be a full client request in JSON")
				return
			}
			var req struct {
				Audio struct {
					Format string `json:"format"`
					Rate   int    `json:"rate"`
					Bits   int    `json:"bits"`
				} `json:"audio"`
				Request struct {
					ModelName string `json:"model_name"`
				} `json:"request"`
			}
			if json.Unmarshal(f.Payload, &req) != nil || req.Request.ModelName != "bigmodel" ||
				req.Audio.Format != "pcm" || req.Audio.Rate != 16000 || req.Audio.Bits != 16 {
				refuse(45000001, "invalid parameters")
				return
			}
			gz = f.Compression
			continue
		}
		if f.Type != volcengine.AudioOnlyRequest || f.Serialization != volcengine.SerialRaw {
			refuse(45000001, "expected an audio-only request")
			return
		}
		if fail != 0 {
			refuse(uint32(fail), "failed on purpose")
			return
		}
		audio += len(f.Payload)
		packets++
		if !f.Last() {
			heard := min((audio+PartialEvery-1)/PartialEvery, utf8.RuneCountInString(s.Transcript))
			if err := answer(packets, false, string([]rune(s.Transcript)[:heard]), audio, gz); err != nil {
				return
			}
			continue
		}
		if audio == 0 {
			refuse(45000002, "empty audio")
			return
		}
		select {
		case <-time.After(s.Delay):
		case <-ctx.Done():
			return
		}
		_ = answer(packets, true, s.Transcript, audio, gz)
		s.Calls.Add(1)
		_ = conn.Close(websocket.StatusNormalClosure, "")
		return
	}
}

// TTSChunks is how many audio-only responses the fake's streaming TTS
// splits a sentence's audio into.
const TTSChunks = 3

// ttsStream is the fake streaming TTS: the V1 request (operation submit)
// in a full client request, answered after Delay with the audio in
// TTSChunks audio-only responses, the last with a negative sequence; a
// refusal is an error frame with the V1 code.
func (s *Server) ttsStream(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer;"+AccessToken {
		s.Rejected.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		ttsAnswer(w, "", 3001, "authenticate request: load grant: requested grant not found")
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx := r.Context()
	typ, data, err := conn.Read(ctx)
	if err != nil {
		return
	}
	refuse := func(code int, msg string) {
		body, _ := json.Marshal(map[string]any{"code": code, "message": msg})
		b, _ := volcengine.Encode(volcengine.Frame{Type: volcengine.ErrorMessage, Serialization: volcengine.SerialJSON, Code: uint32(code), Payload: body})
		_ = conn.Write(ctx, websocket.MessageBinary, b)
		_ = conn.Close(websocket.StatusNormalClosure, "")
	}
	f, err := volcengine.Decode(data)
	if err != nil || typ != websocket.MessageBinary || f.Type != volcengine.FullClientRequest || f.Serialization != volcengine.SerialJSON {
		refuse(3001, "the first packet must be a full client request in JSON")
		return
	}
	req, code, msg := s.ttsCheck(f.Payload, "submit")
	if code != 3000 {
		refuse(code, msg)
		return
	}
	select {
	case <-time.After(s.Delay):
	case <-ctx.Done():
		return
	}
	audio := Audio(req.Request.Text)
	size := (len(audio) + TTSChunks - 1) / TTSChunks
	for i := int32(1); len(audio) > 0; i++ {
		n := min(size, len(audio))
		flags, seq := volcengine.FlagSequence, i
		if n == len(audio) {
			flags, seq = volcengine.FlagLastNegSeq, -i
		}
		b, _ := volcengine.Encode(volcengine.Frame{Type: volcengine.AudioOnlyResponse, Flags: flags, Sequence: seq, Payload: audio[:n]})
		if conn.Write(ctx, websocket.MessageBinary, b) != nil {
			return
		}
		audio = audio[n:]
	}
	_ = conn.Close(websocket.StatusNormalClosure, "")
}
