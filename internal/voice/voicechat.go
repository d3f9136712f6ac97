package voice

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/chat"
	"paradise/internal/httpapi"
	"paradise/internal/paging"
	"paradise/internal/redisdb"
	"paradise/internal/speech"
)

// Chats is the chat module's service: a transcript is chatted like a typed
// message (same conversation, persona, history and budgets).
type Chats interface {
	Chat(ctx context.Context, req chat.Request, ev chat.Events) (chat.Reply, error)
}

// Talk is a finished voice chat turn.
type Talk struct {
	Transcript speech.Transcript
	Reply      chat.Reply
	Audio      []byte
	Format     speech.Format
}

// synthesisFormat is what to ask vendors for: WAV is assembled here from
// PCM, since WAV pieces do not concatenate.
func synthesisFormat(f speech.Format) speech.Format {
	if f == speech.WAV {
		return speech.PCM
	}
	return f
}

// speakAll synthesizes sentences one after another into w, calling chunk
// (optional) with each piece of audio as it arrives.
func (s *Service) speakAll(ctx context.Context, c Caller, text []string, f speech.Format, rate int, chunk func([]byte) error) (int, error) {
	total := 0
	for _, sentence := range text {
		syn, err := s.Speak(ctx, c, speech.SynthesisRequest{Text: sentence, Format: synthesisFormat(f), SampleRate: rate})
		if err != nil {
			return total, err
		}
		buf := make([]byte, 16<<10)
		for {
			n, err := syn.Body.Read(buf)
			if n > 0 {
				total += n
				if err := chunk(buf[:n]); err != nil {
					syn.Body.Close()
					return total, err
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				syn.Body.Close()
				return total, speech.AsAppError(speech.TransportError(ctx, syn.Provider, err))
			}
		}
		syn.Body.Close()
	}
	return total, nil
}

// Talk recognizes a recording, chats the transcript and speaks the reply.
func (s *Service) Talk(ctx context.Context, user account.User, mac string, a speech.Audio, convID int, f speech.Format) (t Talk, err error) {
	defer func() { s.outcome("voice_chat", err) }()
	c := Caller{UserID: user.ID, MAC: mac}
	if t.Transcript, err = s.transcribe(ctx, c.UserID, a, nil); err != nil {
		return t, err
	}
	t.Reply, err = s.chats.Chat(ctx, chat.Request{Caller: chat.Caller{User: user, MAC: mac}, Text: t.Transcript.Text,
		ConversationID: convID, Channel: chat.ChannelVoice}, chat.Events{})
	if err != nil {
		return t, err
	}
	split := sentences{maxChars: s.cfg.MaxTextChars}
	parts := append(split.add(t.Reply.Text), split.flush()...)
	var audio bytes.Buffer
	rate := 16000
	if _, err := s.speakAll(ctx, c, parts, f, rate, func(b []byte) error { audio.Write(b); return nil }); err != nil {
		return t, err
	}
	t.Format, t.Audio = f, audio.Bytes()
	if f == speech.WAV {
		t.Audio = append(speech.WAVHeader(audio.Len(), rate), audio.Bytes()...)
	}
	return t, nil
}

// audioStore keeps voice chat replies' audio in Redis, for every instance,
// until their URLs expire.
type audioStore struct {
	rdb  *redis.Client
	keys redisdb.Keys
	ttl  time.Duration
}

func newAudioID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (a *audioStore) put(ctx context.Context, userID int, f speech.Format, audio []byte) (string, time.Time, error) {
	id := newAudioID()
	key := a.keys.SpeechAudio(id)
	_, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "user", userID, "format", string(f), "audio", audio)
		p.Expire(ctx, key, a.ttl)
		return nil
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("voice: store audio: %w", err)
	}
	return id, time.Now().Add(a.ttl).UTC().Truncate(time.Second), nil
}

var errAudioNotFound = apperr.NotFound("Audio not found or expired.")

func (a *audioStore) get(ctx context.Context, userID int, id string) (speech.Format, []byte, error) {
	m, err := a.rdb.HGetAll(ctx, a.keys.SpeechAudio(id)).Result()
	if err != nil {
		return "", nil, fmt.Errorf("voice: read audio: %w", err)
	}
	if m["user"] != strconv.Itoa(userID) {
		return "", nil, errAudioNotFound
	}
	return speech.Format(m["format"]), []byte(m["audio"]), nil
}

// audioURL is the absolute URL of a stored audio, on the host the client
// called.
func audioURL(ctx context.Context, id string) string {
	path := "/api/ai/voice-chat/audio/" + id + "/"
	u := paging.URL(ctx)
	if u == nil {
		return path
	}
	out := url.URL{Scheme: u.Scheme, Host: u.Host, Path: path}
	return out.String()
}

// voiceAudio reads a voice chat upload like a speech-to-text one.
func (h *Handler) voiceAudio(req api.VoiceChatReq, p api.VoiceChatParams) (speech.Audio, error) {
	switch req := req.(type) {
	case *api.VoiceChatReqApplicationOctetStream:
		return h.audioOf(&api.SpeechToTextReqApplicationOctetStream{Data: req.Data}, p.Format, p.SampleRate, p.Language)
	case *api.SpeechUploadMultipart:
		return h.audioOf(req, p.Format, p.SampleRate, p.Language)
	}
	return speech.Audio{}, apperr.BadRequest("Unsupported request body.")
}

// VoiceChat implements voiceChat (POST /api/ai/voice-chat/) in its JSON
// form; the streamed form is served by Stream.
func (h *Handler) VoiceChat(ctx context.Context, req api.VoiceChatReq, params api.VoiceChatParams) (*api.VoiceChatEnvelope, error) {
	a, err := h.voiceAudio(req, params)
	if err != nil {
		return nil, err
	}
	f := speech.MP3
	if rf, ok := params.ReplyFormat.Get(); ok {
		f = speech.Format(rf)
	}
	p := account.PrincipalFrom(ctx)
	t, err := h.voice.Talk(ctx, p.User, p.Session.MAC, a, params.ConversationID.Or(0), f)
	if err != nil {
		return nil, err
	}
	id, expires, err := h.voice.audio.put(ctx, p.User.ID, t.Format, t.Audio)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(audioURL(ctx, id))
	if err != nil {
		return nil, fmt.Errorf("voice: audio url: %w", err)
	}
	return &api.VoiceChatEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: api.VoiceChatReply{
		Transcript: t.Transcript.Text, Reply: t.Reply.Text, ConversationID: t.Reply.ConversationID,
		UserMessageID: t.Reply.UserMessageID, AssistantMessageID: t.Reply.AssistantMessageID,
		FinishReason: t.Reply.FinishReason, Truncated: t.Reply.Truncated, SpeechProvider: t.Transcript.Provider,
		AudioURL: *u, AudioFormat: api.AudioFormat(t.Format), AudioExpiresAt: expires,
	}}, nil
}

// GetVoiceChatAudio implements getVoiceChatAudio (GET
// /api/ai/voice-chat/audio/{id}/): only the owner, until it expires.
func (h *Handler) GetVoiceChatAudio(ctx context.Context, params api.GetVoiceChatAudioParams) (api.GetVoiceChatAudioRes, error) {
	f, audio, err := h.voice.audio.get(ctx, account.PrincipalFrom(ctx).User.ID, params.ID)
	if err != nil {
		return nil, err
	}
	r := bytes.NewReader(audio)
	switch f {
	case speech.WAV:
		return &api.GetVoiceChatAudioOKAudioWav{Data: r}, nil
	case speech.PCM:
		return &api.GetVoiceChatAudioOKAudioPcm{Data: r}, nil
	case speech.OggOpus:
		return &api.GetVoiceChatAudioOKAudioOgg{Data: r}, nil
	}
	return &api.GetVoiceChatAudioOKAudioMpeg{Data: r}, nil
}
