package voice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/gen/ws"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/chat"
	"paradise/internal/hub"
	"paradise/internal/speech"
)

// GroupSender sends frames to every session of a user's group, on every
// instance (the hub's Bus).
type GroupSender interface {
	SendToGroup(ctx context.Context, userID int, f ws.Frame) error
}

// Profiles reads a user's profile (the account service).
type Profiles interface {
	Get(ctx context.Context, id int) (account.User, error)
}

// audioChunk bounds a binary frame of reply audio: well under clients'
// read limits, and few enough frames for the session's send queue.
const audioChunk = 32 << 10

// Turns runs voice turns over the hub: voice_start opens a recording that
// binary frames fill, voice_end (or the end of speech the server hears,
// when the device asks for it) recognizes it and answers with stt, the
// chat reply (chat_delta, chat_done) to the group, and the reply's audio
// (tts_start, binary frames, tts_end) to the speaking session. With a
// streaming recognizer the audio goes to the vendor as it arrives and
// partial transcripts reach the group while the device speaks. A new
// voice_start or an abort interrupts the reply in progress.
type Turns struct {
	voice    *Service
	profiles Profiles
	bus      GroupSender

	mu sync.Mutex
	// sessions holds each session's current turn, by session id.
	sessions map[string]*turn
	running  sync.WaitGroup
}

// turn is one voice turn of a session.
type turn struct {
	id      ws.TurnID
	start   ws.VoiceStartPayload
	rate    int
	started time.Time
	// ctx lasts the turn (recording and reply); cancel interrupts it.
	ctx    context.Context
	cancel context.CancelFunc
	// answering is set once the recording ended, endedByServer when
	// end of speech ended it (both guarded by Turns.mu).
	answering, endedByServer bool
	// vad ends the recording on silence after speech (end_silence_ms);
	// used on the reader goroutine only.
	vad *speech.EndOfSpeech

	// mu guards the recording, which the reader goroutine fills while the
	// streamer sends it on.
	mu       sync.Mutex
	audio    recording
	recorded bool // the recording ended
	// wake tells the streamer there is more audio (or the end).
	wake chan struct{}
	// heard is the streamed recognition, nil when the turn is
	// recognized whole at its end.
	heard *streamed
}

// append adds audio to the recording and wakes the streamer.
func (c *turn) append(data []byte) {
	c.mu.Lock()
	c.audio.Write(data)
	c.mu.Unlock()
	c.poke()
}

func (c *turn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// endRecording marks the recording complete; the streamer sends what is
// left with the last packet.
func (c *turn) endRecording() {
	c.mu.Lock()
	c.recorded = true
	c.mu.Unlock()
	c.poke()
}

// NewTurns returns the hub voice handlers and ties the replies in
// progress to the app's lifecycle (sessions end as the hub stops, which
// cancels their replies).
func NewTurns(lc fx.Lifecycle, v *Service, profiles Profiles, bus GroupSender) *Turns {
	t := &Turns{voice: v, profiles: profiles, bus: bus, sessions: map[string]*turn{}}
	lc.Append(fx.Hook{OnStop: func(ctx context.Context) error {
		done := make(chan struct{})
		go func() { t.running.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	return t
}

// Handlers are the hub frame handlers of voice_start, voice_end and abort.
func (t *Turns) Handlers() []hub.FrameHandler {
	return []hub.FrameHandler{
		{Type: ws.VoiceStartFrame, Consume: true, Handle: t.voiceStart},
		{Type: ws.VoiceEndFrame, Consume: true, Handle: t.voiceEnd},
		{Type: ws.AbortFrame, Consume: true, Handle: t.abort},
	}
}

// Hooks drop a session's turn when it ends.
func (t *Turns) Hooks() hub.Hooks {
	return hub.Hooks{Name: "voice", Disconnect: func(_ context.Context, s *hub.Session) { t.drop(s) }}
}

// drop interrupts and forgets the session's turn.
func (t *Turns) drop(s *hub.Session) {
	t.mu.Lock()
	cur := t.sessions[s.ID()]
	delete(t.sessions, s.ID())
	t.mu.Unlock()
	s.SetBinaryHandler(nil)
	if cur != nil {
		cur.cancel()
	}
}

func turnError(code ws.ErrorCode, detail string) *hub.FrameError {
	return &hub.FrameError{Code: code, Detail: detail}
}

// streamChunk is the least audio sent to a streaming recognizer at once:
// 100 ms of 16 kHz PCM, the vendor's recommended packet (100-200 ms).
const streamChunk = 3200

// voiceStart interrupts the previous turn and opens a recording.
func (t *Turns) voiceStart(ctx context.Context, s *hub.Session, f *ws.Frame) error {
	t.drop(s)
	p := f.VoiceStart.Message
	cur := &turn{id: p.TurnID, start: p, rate: int(p.SampleRate.Or(16000)), started: time.Now(), wake: make(chan struct{}, 1)}
	cur.ctx, cur.cancel = context.WithCancel(ctx)
	if ms, ok := p.EndSilenceMs.Get(); ok && p.Format == ws.VoiceAudioFormatPcm {
		cur.vad = speech.NewEndOfSpeech(cur.rate, time.Duration(ms)*time.Millisecond)
	}
	if st := t.voice.engines.Streamer; st != nil && st.AcceptsStream(speech.Format(p.Format), cur.rate) {
		cur.heard = t.stream(s, cur, st)
	}
	t.mu.Lock()
	t.sessions[s.ID()] = cur
	t.mu.Unlock()
	maxBytes, maxSecs := t.voice.cfg.MaxAudioBytes, t.voice.cfg.MaxAudioSeconds
	size := 0 // the reader goroutine's count of the recording's bytes
	s.SetBinaryHandler(func(ctx context.Context, data []byte) error {
		over := size+len(data) > maxBytes
		if p.Format == ws.VoiceAudioFormatPcm {
			over = over || speech.PCMDuration(size+len(data), cur.rate) > time.Duration(maxSecs)*time.Second
		}
		if over {
			t.drop(s)
			return turnError(ws.ErrorCodeInvalidPayload, fmt.Sprintf(
				"Voice turn %s is over its limit (%d bytes, %d seconds); it was dropped.", cur.id, maxBytes, maxSecs))
		}
		size += len(data)
		cur.append(data)
		if cur.vad != nil && cur.vad.Feed(data) {
			// The speaker stopped: the turn ends as if voice_end came,
			// and the device is told so.
			_ = s.Send(ws.NewVoiceEndFrame(ws.VoiceEnd{Message: ws.VoiceTurnPayload{TurnID: cur.id}}))
			t.finish(s, cur, true)
		}
		return nil
	})
	return nil
}

// stream runs the turn's streaming recognition: it sends the recording
// on as it grows and hands partial transcripts to the group. The result
// is the final transcript once the recording has ended; a failure to
// open or to send leaves an error that makes the answer recognize the
// whole recording through the chain instead.
func (t *Turns) stream(s *hub.Session, cur *turn, sr speech.StreamRecognizer) *streamed {
	done := make(chan struct{})
	var tr speech.Transcript
	var err error
	userID := s.UserID()
	t.running.Add(1)
	go func() {
		defer t.running.Done()
		defer close(done)
		tr, err = t.streamAudio(cur, userID, sr)
	}()
	return &streamed{provider: sr.Name(), result: func(ctx context.Context) (speech.Transcript, error) {
		select {
		case <-done:
			return tr, err
		case <-ctx.Done():
			return speech.Transcript{}, ctx.Err()
		}
	}}
}

func (t *Turns) streamAudio(cur *turn, userID int, sr speech.StreamRecognizer) (speech.Transcript, error) {
	ctx := cur.ctx
	// A user over budget is refused at the end; no vendor stream for it.
	if err := t.voice.checkBudget(ctx, userID); err != nil {
		return speech.Transcript{}, err
	}
	began := time.Now()
	var sent atomic.Int64
	// Vendors answer every packet, mostly with the text they had: only a
	// change reaches the group. Partial runs on the stream's reader
	// goroutine, one call at a time.
	last := ""
	st, err := sr.OpenStream(ctx, speech.StreamParams{SampleRate: cur.rate, Language: cur.start.Language.Or(""), Partial: func(text string) {
		if text == last {
			return
		}
		last = text
		_ = t.bus.SendToGroup(ctx, userID, ws.NewSttFrame(ws.Stt{Message: ws.SttPayload{TurnID: cur.id, Text: text,
			Language: cur.start.Language.Or("zh-CN"), DurationMs: int(speech.PCMDuration(int(sent.Load()), cur.rate).Milliseconds()),
			Provider: sr.Name(), Partial: ws.NewOptBool(true)}}))

	}})
	if err != nil {
		t.voice.engines.Observer.Call(sr.Name(), "recognize_stream", time.Since(began), err)
		return speech.Transcript{}, err
	}
	defer st.Close()
	var buf, pending []byte
	for {
		select {
		case <-cur.wake:
		case <-ctx.Done():
			return speech.Transcript{}, ctx.Err()
		}
		cur.mu.Lock()
		more := cur.audio.Len() - int(sent.Load())
		ended := cur.recorded
		if more >= streamChunk || (ended && more > 0) {
			buf = cur.audio.AppendFrom(buf[:0], int(sent.Load()))
			pending = buf
		}
		cur.mu.Unlock()
		// Packets of at most 200 ms, as the vendor recommends, however
		// the device sized its frames.
		for len(pending) > 0 {
			n := min(len(pending), 2*streamChunk)
			if err := st.Write(ctx, pending[:n]); err != nil {
				t.voice.engines.Observer.Call(sr.Name(), "recognize_stream", time.Since(began), err)
				return speech.Transcript{}, err
			}
			sent.Add(int64(n))
			pending = pending[n:]
		}
		if ended {
			break
		}
	}
	// The vendor's final answer comes within the usual vendor bound.
	fctx, cancel := context.WithTimeout(ctx, t.voice.cfg.Timeout)
	defer cancel()
	finished := time.Now()
	tr, err := st.Finish(fctx)
	t.voice.engines.Observer.Call(sr.Name(), "recognize_stream", time.Since(finished), err)
	return tr, err
}

// voiceEnd closes the recording and answers it off the reader goroutine.
func (t *Turns) voiceEnd(_ context.Context, s *hub.Session, f *ws.Frame) error {
	id := f.VoiceEnd.Message.TurnID
	t.mu.Lock()
	cur := t.sessions[s.ID()]
	if cur == nil || cur.id != id || cur.answering {
		t.mu.Unlock()
		if cur != nil && cur.id == id && cur.endedByServer {
			// The server ended this turn already; the device's own
			// voice_end crossed its notice.
			return nil
		}
		// Like every refusal of a turn, it carries the turn id.
		return s.Send(ws.NewErrorFrame(ws.Error{Message: ws.ErrorPayload{Code: ws.ErrorCodeInvalidPayload,
			Detail:    fmt.Sprintf("No voice turn %s is recording; send voice_start first.", apperr.Truncate(string(id), 64)),
			RequestID: ws.NewOptRequestID(ws.RequestID(id))}}))
	}
	t.mu.Unlock()
	t.finish(s, cur, false)
	return nil
}

// finish ends the turn's recording and starts its answer. When the
// server ended it (end of speech), late binary frames of the turn are
// dropped instead of refused: the device has not seen voice_end yet.
func (t *Turns) finish(s *hub.Session, cur *turn, byServer bool) {
	t.mu.Lock()
	if cur.answering || t.sessions[s.ID()] != cur {
		t.mu.Unlock()
		return
	}
	cur.answering, cur.endedByServer = true, byServer
	t.mu.Unlock()
	if byServer {
		s.SetBinaryHandler(func(context.Context, []byte) error { return nil })
	} else {
		s.SetBinaryHandler(nil)
	}
	cur.endRecording()
	t.running.Add(1)
	go func() {
		defer t.running.Done()
		defer t.release(s, cur)
		t.answer(cur.ctx, s, cur)
	}()
}

// abort drops the session's turn: its recording or its reply.
func (t *Turns) abort(_ context.Context, s *hub.Session, f *ws.Frame) error {
	t.mu.Lock()
	cur := t.sessions[s.ID()]
	t.mu.Unlock()
	if cur != nil && cur.id == f.Abort.Message.TurnID {
		t.drop(s)
	}
	return nil
}

// answer recognizes a turn's recording, chats it and speaks the reply.
func (t *Turns) answer(ctx context.Context, s *hub.Session, cur *turn) {
	userID := s.UserID()
	cur.mu.Lock()
	a := speech.Audio{Format: speech.Format(cur.start.Format), SampleRate: cur.rate, Language: cur.start.Language.Or(""), Data: cur.audio.Bytes()}
	cur.mu.Unlock()
	tr, err := t.voice.transcribe(ctx, userID, a, cur.heard)
	// The recording is not needed past its transcript.
	a.Data = nil
	cur.mu.Lock()
	cur.audio.Reset()
	cur.mu.Unlock()
	if err != nil {
		t.refuse(ctx, s, cur.id, err)
		return
	}
	_ = t.bus.SendToGroup(ctx, userID, ws.NewSttFrame(ws.Stt{Message: ws.SttPayload{TurnID: cur.id, Text: tr.Text,
		Language: tr.Language, DurationMs: int(tr.Duration.Milliseconds()), Provider: tr.Provider}}))
	user, err := t.profiles.Get(ctx, userID)
	if err != nil {
		t.refuse(ctx, s, cur.id, err)
		return
	}
	replyFormat := speech.Format(cur.start.ReplyFormat.Or(ws.VoiceAudioFormatMp3))

	// The speaker streams sentences' audio to the session while the model
	// writes the rest.
	queue := make(chan string, 64)
	spoke := make(chan error, 1)
	sent := 0
	go func() {
		var err error
		started := false
		for sentence := range queue {
			if err != nil || ctx.Err() != nil {
				continue
			}
			if !started {
				started = true
				err = s.Send(ws.NewTtsStartFrame(ws.TtsStart{Message: ws.TtsStartPayload{TurnID: cur.id,
					Format: ws.VoiceAudioFormat(replyFormat), SampleRate: 16000}}))
			}
			if err == nil {
				_, err = t.voice.speakAll(ctx, Caller{UserID: userID, MAC: s.MAC()}, []string{sentence}, replyFormat, 16000, func(b []byte) error {
					for len(b) > 0 {
						n := min(len(b), audioChunk)
						s.SendBinary(b[:n])
						sent += n
						b = b[n:]
					}
					return ctx.Err()
				})
			}
		}
		if started {
			_ = s.Send(ws.NewTtsEndFrame(ws.TtsEnd{Message: ws.TtsEndPayload{TurnID: cur.id, Bytes: sent, Interrupted: err != nil || ctx.Err() != nil}}))
		}
		spoke <- err
	}()

	split := sentences{maxChars: t.voice.cfg.MaxTextChars}
	var convID int
	reply, chatErr := t.voice.chats.Chat(ctx, chat.Request{Caller: chat.Caller{User: user, MAC: s.MAC()}, Text: tr.Text,
		ConversationID: int(cur.start.ConversationID.Or(0)), Channel: chat.ChannelVoice}, chat.Events{
		Start: func(st chat.Started) error { convID = st.ConversationID; return nil },
		Delta: func(text string) error {
			for _, sentence := range split.add(text) {
				queue <- sentence
			}
			return t.bus.SendToGroup(ctx, userID, ws.NewChatDeltaFrame(ws.ChatDelta{Message: ws.ChatDeltaPayload{
				RequestID: ws.RequestID(cur.id), ConversationID: int64(convID), Text: text}}))
		},
	})
	if chatErr == nil {
		for _, sentence := range split.flush() {
			queue <- sentence
		}
	}
	close(queue)
	if reply.AssistantMessageID != 0 {
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = t.bus.SendToGroup(sendCtx, userID, ws.NewChatDoneFrame(ws.ChatDone{Message: ws.ChatDonePayload{
			RequestID: ws.RequestID(cur.id), ConversationID: int64(reply.ConversationID),
			UserMessageID: int64(reply.UserMessageID), AssistantMessageID: int64(reply.AssistantMessageID),
			FinishReason: ws.ChatFinishReason(reply.FinishReason), Truncated: reply.Truncated,
			Provider: reply.Provider, Model: reply.Model,
			Usage: ws.ChatUsage{PromptTokens: reply.PromptTokens, CompletionTokens: reply.CompletionTokens, TotalTokens: reply.TotalTokens()},
		}}))
	}
	speakErr := <-spoke
	switch {
	case ctx.Err() != nil:
		// Interrupted (a new turn, abort, the session ended): said by tts_end.
	case chatErr != nil:
		t.refuse(ctx, s, cur.id, chatErr)
	case speakErr != nil:
		t.refuse(ctx, s, cur.id, speakErr)
	}
}

// release ends an answered turn: binary frames are refused again until
// the next voice_start.
func (t *Turns) release(s *hub.Session, cur *turn) {
	cur.cancel()
	t.mu.Lock()
	if t.sessions[s.ID()] == cur {
		delete(t.sessions, s.ID())
		s.SetBinaryHandler(nil)
	}
	t.mu.Unlock()
}

// refuse answers the session with an error frame carrying the turn id.
func (t *Turns) refuse(ctx context.Context, s *hub.Session, id ws.TurnID, err error) {
	if ctx.Err() != nil {
		return
	}
	t.voice.outcome("voice_turn", err)
	payload := ws.ErrorPayload{Code: ws.ErrorCodeInternalError, Detail: "Could not answer the voice turn.", RequestID: ws.NewOptRequestID(ws.RequestID(id))}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		b := ae.Bounded()
		payload.Detail = apperr.Truncate(b.Message, 900)
		switch {
		case ae.Status == http.StatusNotFound:
			payload.Code = ws.ErrorCodeNotFound
		case ae.Status == http.StatusTooManyRequests:
			payload.Code = ws.ErrorCodeQuotaExceeded
		case ae.Status >= 500:
			payload.Code = ws.ErrorCodeUnavailable
		default:
			payload.Code = ws.ErrorCodeInvalidPayload
		}
		if ae.RetryAfter > 0 {
			payload.RetryAfter = ws.NewOptInt(int((ae.RetryAfter + time.Second - 1) / time.Second))
		}
	} else {
		s.Logger().Error("Voice turn failed", zap.Error(err))
	}
	_ = s.Send(ws.NewErrorFrame(ws.Error{Message: payload}))
}
