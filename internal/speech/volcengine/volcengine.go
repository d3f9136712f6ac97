// Package volcengine is Volcengine openspeech (ByteDance): TTS over HTTP
// (V1, /api/v1/tts), one-shot "flash" ASR
// (/api/v3/auc/bigmodel/recognize/flash) and streaming ASR over the binary
// WebSocket protocol (/api/v3/sauc/bigmodel), per docs/vendors.md §4.
package volcengine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"paradise/internal/speech"
)

// Name is the provider's name.
const Name = "volcengine"

// Config is what the client needs; AccessToken never reaches logs or
// errors.
type Config struct {
	AppID       string
	AccessToken string
	// Cluster is the TTS cluster (default volcano_tts).
	Cluster string
	// BaseURL is the openspeech host (default https://openspeech.bytedance.com).
	BaseURL string
	// Voice is the default voice_type (default BV001_streaming).
	Voice string
	// ASRResourceID is the flash ASR resource (default volc.bigasr.auc_turbo).
	ASRResourceID string
	// StreamResourceID is the streaming ASR resource (default
	// volc.bigasr.sauc.duration).
	StreamResourceID string
}

// Client is the openspeech provider.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns the client.
func New(cfg Config, hc *http.Client) *Client {
	if cfg.Cluster == "" {
		cfg.Cluster = "volcano_tts"
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://openspeech.bytedance.com"
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Voice == "" {
		cfg.Voice = "BV001_streaming"
	}
	if cfg.ASRResourceID == "" {
		cfg.ASRResourceID = "volc.bigasr.auc_turbo"
	}
	if cfg.StreamResourceID == "" {
		cfg.StreamResourceID = StreamResourceID
	}
	return &Client{cfg: cfg, http: hc}
}

// Name implements speech.Recognizer.
func (c *Client) Name() string { return Name }

// Accepts implements speech.Recognizer: flash ASR takes WAV, MP3 and OGG
// Opus (and raw PCM, which the big model reads as s16le).
func (c *Client) Accepts(f speech.Format) bool { return f.Valid() }

// Produces implements speech.Synthesizer: V1 makes wav, pcm, mp3 and
// ogg_opus.
func (c *Client) Produces(f speech.Format) bool { return f.Valid() }

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

type ttsApp struct {
	AppID   string `json:"appid"`
	Token   string `json:"token"`
	Cluster string `json:"cluster"`
}

type ttsAudio struct {
	VoiceType   string  `json:"voice_type"`
	Encoding    string  `json:"encoding"`
	Rate        int     `json:"rate"`
	SpeedRatio  float64 `json:"speed_ratio"`
	VolumeRatio float64 `json:"volume_ratio"`
	PitchRatio  float64 `json:"pitch_ratio"`
}

type ttsReq struct {
	ReqID     string `json:"reqid"`
	Text      string `json:"text"`
	TextType  string `json:"text_type"`
	Operation string `json:"operation"`
}

type ttsRequest struct {
	App     ttsApp            `json:"app"`
	User    map[string]string `json:"user"`
	Audio   ttsAudio          `json:"audio"`
	Request ttsReq            `json:"request"`
}

type ttsResponse struct {
	ReqID    string `json:"reqid"`
	Code     int    `json:"code"`
	Message  string `json:"message"`
	Sequence int    `json:"sequence"`
	Data     string `json:"data"`
}

// ttsKind classifies a V1 TTS code (vendors.md §4a).
func ttsKind(code int, msg string) speech.Kind {
	switch code {
	case 3003, 3005:
		return speech.KindRateLimited
	case 3010, 3011:
		return speech.KindBadText
	case 3030, 3032:
		return speech.KindTimeout
	case 3050:
		return speech.KindBadText
	}
	if strings.Contains(msg, "authenticate") {
		return speech.KindAuth
	}
	return speech.KindUnavailable
}

func encoding(f speech.Format) string {
	if f == speech.OggOpus {
		return "ogg_opus"
	}
	return string(f)
}

// Synthesize implements speech.Synthesizer. PCM, MP3 and Ogg Opus stream
// over the binary WebSocket (operation submit): Body yields audio as the
// vendor makes it. WAV, which the vendor cannot stream, comes from V1 HTTP
// (operation query: the whole audio base64 in one JSON answer).
func (c *Client) Synthesize(ctx context.Context, r speech.SynthesisRequest) (speech.Synthesis, error) {
	voice := r.Voice
	if voice == "" {
		voice = c.cfg.Voice
	}
	rate := r.SampleRate
	if rate == 0 {
		rate = 16000
	}
	// app.token is ignored by the service but must be non-empty; the real
	// token travels in the header only.
	in := ttsRequest{App: ttsApp{AppID: c.cfg.AppID, Token: "access_token", Cluster: c.cfg.Cluster},
		User:    map[string]string{"uid": "paradise"},
		Audio:   ttsAudio{VoiceType: voice, Encoding: encoding(r.Format), Rate: rate, SpeedRatio: 1, VolumeRatio: 1, PitchRatio: 1},
		Request: ttsReq{ReqID: uuid(), Text: r.Text, TextType: "plain", Operation: "query"}}
	if streams(r.Format) {
		audio, err := c.synthesizeStream(ctx, in)
		if err != nil {
			return speech.Synthesis{}, err
		}
		return speech.Synthesis{Format: r.Format, SampleRate: rate, Provider: Name, Voice: voice, Body: audio}, nil
	}
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+"/api/v1/tts", bytes.NewReader(body))
	if err != nil {
		return speech.Synthesis{}, fmt.Errorf("volcengine: tts request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer;"+c.cfg.AccessToken)
	res, err := c.http.Do(req)
	if err != nil {
		return speech.Synthesis{}, speech.TransportError(ctx, Name, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if err != nil {
		return speech.Synthesis{}, speech.TransportError(ctx, Name, err)
	}
	var out ttsResponse
	if json.Unmarshal(raw, &out) != nil || out.Code == 0 {
		return speech.Synthesis{}, speech.HTTPError(Name, res.StatusCode)
	}
	if out.Code != 3000 {
		return speech.Synthesis{}, &speech.Error{Provider: Name, Kind: ttsKind(out.Code, out.Message), Code: strconv.Itoa(out.Code), Message: out.Message}
	}
	audio, err := base64.StdEncoding.DecodeString(out.Data)
	if err != nil || len(audio) == 0 {
		return speech.Synthesis{}, &speech.Error{Provider: Name, Kind: speech.KindUnavailable, Code: "bad_audio", Message: "tts returned no audio"}
	}
	return speech.Synthesis{Format: r.Format, SampleRate: rate, Provider: Name, Voice: voice, Body: io.NopCloser(bytes.NewReader(audio))}, nil
}

type flashRequest struct {
	User    map[string]string `json:"user"`
	Audio   flashAudio        `json:"audio"`
	Request map[string]any    `json:"request"`
}

type flashAudio struct {
	Data   string `json:"data"`
	Format string `json:"format,omitempty"`
	Rate   int    `json:"rate,omitempty"`
}

type flashResponse struct {
	AudioInfo struct {
		Duration int64 `json:"duration"`
	} `json:"audio_info"`
	Result struct {
		Text string `json:"text"`
	} `json:"result"`
}

// asrKind classifies an openspeech ASR status (vendors.md §4b).
func asrKind(code int) speech.Kind {
	switch {
	case code == 20000003 || code == 45000002:
		return speech.KindEmpty
	case code == 45000001 || code == 45000151:
		return speech.KindBadAudio
	case code == 55000031:
		return speech.KindRateLimited
	}
	return speech.KindUnavailable
}

// Recognize implements speech.Recognizer (flash ASR; the status is in
// the X-Api-Status-Code header).
func (c *Client) Recognize(ctx context.Context, a speech.Audio) (speech.Transcript, error) {
	in := flashRequest{User: map[string]string{"uid": "paradise"},
		Audio:   flashAudio{Data: base64.StdEncoding.EncodeToString(a.Data), Format: encoding(a.Format), Rate: a.SampleRate},
		Request: map[string]any{"model_name": "bigmodel", "enable_itn": true, "enable_punc": true}}
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+"/api/v3/auc/bigmodel/recognize/flash", bytes.NewReader(body))
	if err != nil {
		return speech.Transcript{}, fmt.Errorf("volcengine: asr request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-App-Key", c.cfg.AppID)
	req.Header.Set("X-Api-Access-Key", c.cfg.AccessToken)
	req.Header.Set("X-Api-Resource-Id", c.cfg.ASRResourceID)
	req.Header.Set("X-Api-Request-Id", uuid())
	req.Header.Set("X-Api-Sequence", "-1")
	res, err := c.http.Do(req)
	if err != nil {
		return speech.Transcript{}, speech.TransportError(ctx, Name, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return speech.Transcript{}, speech.TransportError(ctx, Name, err)
	}
	status, convErr := strconv.Atoi(res.Header.Get("X-Api-Status-Code"))
	if convErr != nil {
		e := speech.HTTPError(Name, res.StatusCode)
		if res.StatusCode == http.StatusOK {
			e.Kind, e.Code, e.Message = speech.KindUnavailable, "no_status", "no X-Api-Status-Code"
		}
		return speech.Transcript{}, e
	}
	if status != 20000000 {
		kind := asrKind(status)
		if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
			kind = speech.KindAuth
		}
		return speech.Transcript{}, &speech.Error{Provider: Name, Kind: kind, Code: strconv.Itoa(status), Message: res.Header.Get("X-Api-Message")}
	}
	var out flashResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return speech.Transcript{}, &speech.Error{Provider: Name, Kind: speech.KindUnavailable, Code: "bad_response", Message: "unreadable result"}
	}
	text := strings.TrimSpace(out.Result.Text)
	if text == "" {
		return speech.Transcript{}, &speech.Error{Provider: Name, Kind: speech.KindEmpty, Code: "empty_result", Message: "nothing recognized"}
	}
	return speech.Transcript{Text: text, Language: a.Language, Duration: time.Duration(out.AudioInfo.Duration) * time.Millisecond, Provider: Name}, nil
}
