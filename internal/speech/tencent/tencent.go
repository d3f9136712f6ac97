// Package tencent is Tencent Cloud speech over API 3.0: SentenceRecognition
// (asr) and TextToVoice (tts), signed with TC3-HMAC-SHA256
// (docs/vendors.md §5).
package tencent

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
	"net/url"
	"strconv"
	"strings"
	"time"

	"paradise/internal/speech"
)

// Name is the provider's name.
const Name = "tencent"

// Config is what the client needs; SecretKey never reaches logs or errors.
type Config struct {
	SecretID  string
	SecretKey string
	// Region is sent as X-TC-Region when set (optional for asr and tts).
	Region string
	// ASRURL and TTSURL are the endpoints (defaults
	// https://asr.tencentcloudapi.com/ and https://tts.tencentcloudapi.com/).
	ASRURL string
	TTSURL string
	// Voice is the default VoiceType (default 101001).
	Voice string
}

// Client is the Tencent Cloud provider.
type Client struct {
	cfg  Config
	http *http.Client
	now  func() time.Time
}

// New returns the client.
func New(cfg Config, hc *http.Client) *Client {
	if cfg.ASRURL == "" {
		cfg.ASRURL = "https://asr.tencentcloudapi.com/"
	}
	if cfg.TTSURL == "" {
		cfg.TTSURL = "https://tts.tencentcloudapi.com/"
	}
	if cfg.Voice == "" {
		cfg.Voice = "101001"
	}
	return &Client{cfg: cfg, http: hc, now: time.Now}
}

// Name implements speech.Recognizer.
func (c *Client) Name() string { return Name }

// Accepts implements speech.Recognizer.
func (c *Client) Accepts(f speech.Format) bool { return f.Valid() }

// Produces implements speech.Synthesizer: TextToVoice makes wav, mp3, pcm.
func (c *Client) Produces(f speech.Format) bool {
	return f == speech.PCM || f == speech.WAV || f == speech.MP3
}

// apiError is the error object of every API 3.0 response.
type apiError struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

// call signs and sends one action; out receives Response's fields. The
// API answers 200 even for errors, which are in Response.Error.
func (c *Client) call(ctx context.Context, endpoint, service, action, version string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("tencent: encode %s: %w", action, err)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("tencent: endpoint: %w", err)
	}
	now := c.now()
	headers := map[string]string{"content-type": "application/json; charset=utf-8", "host": u.Host, "x-tc-action": strings.ToLower(action)}
	signed := Sign(c.cfg.SecretID, c.cfg.SecretKey, service, headers, body, now)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("tencent: %s request: %w", action, err)
	}
	req.Header.Set("Content-Type", headers["content-type"])
	req.Header.Set("X-TC-Action", action)
	req.Header.Set("X-TC-Version", version)
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(now.Unix(), 10))
	if c.cfg.Region != "" {
		req.Header.Set("X-TC-Region", c.cfg.Region)
	}
	req.Header.Set("Authorization", signed.Authorization)
	res, err := c.http.Do(req)
	if err != nil {
		return speech.TransportError(ctx, Name, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return speech.TransportError(ctx, Name, err)
	}
	var env struct {
		Response json.RawMessage `json:"Response"`
	}
	var head struct {
		Error *apiError `json:"Error"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Response == nil || json.Unmarshal(env.Response, &head) != nil {
		return speech.HTTPError(Name, res.StatusCode)
	}
	if head.Error != nil {
		return classify(head.Error)
	}
	if res.StatusCode != http.StatusOK {
		return speech.HTTPError(Name, res.StatusCode)
	}
	if err := json.Unmarshal(env.Response, out); err != nil {
		return &speech.Error{Provider: Name, Kind: speech.KindUnavailable, Code: "bad_response", Message: "unreadable " + action + " response"}
	}
	return nil
}

// classify maps an API 3.0 error code to a failure kind.
func classify(e *apiError) *speech.Error {
	kind := speech.KindUnavailable
	switch {
	case strings.HasPrefix(e.Code, "AuthFailure"), e.Code == "UnauthorizedOperation", strings.HasSuffix(e.Code, "AppIdNotRegistered"):
		kind = speech.KindAuth
	case strings.HasPrefix(e.Code, "RequestLimitExceeded"), strings.HasPrefix(e.Code, "LimitExceeded"), e.Code == "InternalError.ExceedMaxLimit":
		kind = speech.KindRateLimited
	case e.Code == "InvalidParameterValue.InvalidText", e.Code == "InvalidParameterValue.TextTooLong":
		kind = speech.KindBadText
	case strings.HasPrefix(e.Code, "FailedOperation.ErrorDownFile"), strings.HasPrefix(e.Code, "FailedOperation.ErrorRecognize"),
		strings.HasPrefix(e.Code, "InvalidParameterValue.ErrorInvalidVoiceFormat"), strings.HasPrefix(e.Code, "InvalidParameterValue.ErrorVoicedataTooLong"),
		strings.HasPrefix(e.Code, "InvalidParameter"):
		kind = speech.KindBadAudio
	}
	return &speech.Error{Provider: Name, Kind: kind, Code: e.Code, Message: e.Message}
}

// engine picks EngSerViceType from the language and sample rate.
func engine(lang string, rate int) string {
	prefix := "16k_"
	if rate == 8000 {
		prefix = "8k_"
	}
	l := strings.ToLower(lang)
	switch {
	case strings.HasPrefix(l, "en"):
		return prefix + "en"
	case rate != 8000 && strings.HasPrefix(l, "yue"), rate != 8000 && l == "zh-hk":
		return "16k_yue"
	case rate != 8000 && strings.HasPrefix(l, "ja"):
		return "16k_ja"
	case rate != 8000 && strings.HasPrefix(l, "ko"):
		return "16k_ko"
	}
	return prefix + "zh"
}

func voiceFormat(f speech.Format) string {
	if f == speech.OggOpus {
		return "ogg-opus"
	}
	return string(f)
}

type sentenceRequest struct {
	EngSerViceType  string `json:"EngSerViceType"`
	SourceType      int    `json:"SourceType"`
	VoiceFormat     string `json:"VoiceFormat"`
	Data            string `json:"Data"`
	DataLen         int    `json:"DataLen"`
	InputSampleRate int    `json:"InputSampleRate,omitempty"`
}

type sentenceResponse struct {
	Result        string `json:"Result"`
	AudioDuration int64  `json:"AudioDuration"`
	RequestID     string `json:"RequestId"`
}

// Recognize implements speech.Recognizer (SentenceRecognition, audio in
// the body as base64).
func (c *Client) Recognize(ctx context.Context, a speech.Audio) (speech.Transcript, error) {
	in := sentenceRequest{EngSerViceType: engine(a.Language, a.SampleRate), SourceType: 1, VoiceFormat: voiceFormat(a.Format),
		Data: base64.StdEncoding.EncodeToString(a.Data), DataLen: len(a.Data)}
	var out sentenceResponse
	if err := c.call(ctx, c.cfg.ASRURL, "asr", "SentenceRecognition", "2019-06-14", in, &out); err != nil {
		return speech.Transcript{}, err
	}
	text := strings.TrimSpace(out.Result)
	if text == "" {
		return speech.Transcript{}, &speech.Error{Provider: Name, Kind: speech.KindEmpty, Code: "empty_result", Message: "nothing recognized"}
	}
	return speech.Transcript{Text: text, Language: a.Language, Duration: time.Duration(out.AudioDuration) * time.Millisecond, Provider: Name}, nil
}

type ttsRequest struct {
	Text       string `json:"Text"`
	SessionID  string `json:"SessionId"`
	VoiceType  int64  `json:"VoiceType"`
	Codec      string `json:"Codec"`
	SampleRate int    `json:"SampleRate"`
}

type ttsResponse struct {
	Audio     string `json:"Audio"`
	SessionID string `json:"SessionId"`
}

func sessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Synthesize implements speech.Synthesizer (TextToVoice: the whole audio
// comes back base64 in one response).
func (c *Client) Synthesize(ctx context.Context, r speech.SynthesisRequest) (speech.Synthesis, error) {
	voice := r.Voice
	if voice == "" {
		voice = c.cfg.Voice
	}
	vt, err := strconv.ParseInt(voice, 10, 64)
	if err != nil {
		return speech.Synthesis{}, &speech.Error{Provider: Name, Kind: speech.KindBadText, Code: "voice", Message: "Tencent voices are numeric VoiceType ids"}
	}
	rate := r.SampleRate
	if rate == 0 {
		rate = 16000
	}
	var out ttsResponse
	in := ttsRequest{Text: r.Text, SessionID: sessionID(), VoiceType: vt, Codec: string(r.Format), SampleRate: rate}
	if err := c.call(ctx, c.cfg.TTSURL, "tts", "TextToVoice", "2019-08-23", in, &out); err != nil {
		return speech.Synthesis{}, err
	}
	audio, err := base64.StdEncoding.DecodeString(out.Audio)
	if err != nil || len(audio) == 0 {
		return speech.Synthesis{}, &speech.Error{Provider: Name, Kind: speech.KindUnavailable, Code: "bad_audio", Message: "TextToVoice returned no audio"}
	}
	return speech.Synthesis{Format: r.Format, SampleRate: rate, Provider: Name, Voice: voice, Body: io.NopCloser(bytes.NewReader(audio))}, nil
}
