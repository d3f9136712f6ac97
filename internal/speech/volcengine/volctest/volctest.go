// Package volctest is a fake Volcengine openspeech for tests: V1 TTS
// (over HTTP and streamed over the binary WebSocket), flash ASR and streaming ASR over the binary WebSocket protocol, checking the credentials the way the service does
// (docs/vendors.md §4).
package volctest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paradise/internal/config"
	"paradise/internal/speech/volcengine"
)

// Credentials the fake accepts.
const (
	AppID       = "fake-appid"
	AccessToken = "fake-volc-access-token"
)

// Server is the fake openspeech host.
type Server struct {
	*httptest.Server
	Transcript string
	Delay      time.Duration
	Calls      atomic.Int64
	Rejected   atomic.Int64
	// Streams counts streaming ASR connections; Refused their error frames.
	Streams atomic.Int64
	Refused atomic.Int64

	mu         sync.Mutex
	ttsFail    []int
	asrFail    []int
	streamFail []int
	reqIDs     map[string]bool
	lastVoice  string
}

// New starts the fake; it stops with the test.
func New(t testing.TB) *Server {
	s := Start()
	t.Cleanup(s.Close)
	return s
}

// Start starts the fake outside a test (load tools); Close stops it.
func Start() *Server {
	s := &Server{Transcript: "明天会下雨吗", reqIDs: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/tts", s.tts)
	mux.HandleFunc("POST /api/v3/auc/bigmodel/recognize/flash", s.flash)
	mux.HandleFunc("GET "+volcengine.StreamPath, s.stream)
	mux.HandleFunc("GET "+volcengine.TTSStreamPath, s.ttsStream)
	s.Server = httptest.NewServer(mux)
	return s
}

// Config is a client configuration pointing at the fake.
func (s *Server) Config() volcengine.Config {
	return volcengine.Config{AppID: AppID, AccessToken: AccessToken, BaseURL: s.URL}
}

// FailTTS makes the next TTS call answer code (3001, 3003, 3050, ...).
func (s *Server) FailTTS(code int) { s.mu.Lock(); s.ttsFail = append(s.ttsFail, code); s.mu.Unlock() }

// FailASR makes the next flash ASR call answer status (45000001, 55000031, ...).
func (s *Server) FailASR(status int) {
	s.mu.Lock()
	s.asrFail = append(s.asrFail, status)
	s.mu.Unlock()
}

// LastVoice is the voice_type of the last TTS request.
func (s *Server) LastVoice() string { s.mu.Lock(); defer s.mu.Unlock(); return s.lastVoice }

func pop(q *[]int) int {
	if len(*q) == 0 {
		return 0
	}
	v := (*q)[0]
	*q = (*q)[1:]
	return v
}

func ttsAnswer(w http.ResponseWriter, reqid string, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Tt-Logid", "fake-logid")
	_ = json.NewEncoder(w).Encode(map[string]any{"reqid": reqid, "code": code, "operation": "query", "message": msg, "sequence": -1})
}

// ttsRequest is the V1 TTS request, over HTTP and the WebSocket alike.
type ttsRequest struct {
	App struct {
		AppID   string `json:"appid"`
		Token   string `json:"token"`
		Cluster string `json:"cluster"`
	} `json:"app"`
	Audio struct {
		VoiceType string `json:"voice_type"`
		Encoding  string `json:"encoding"`
		Rate      int    `json:"rate"`
	} `json:"audio"`
	Request struct {
		ReqID     string `json:"reqid"`
		Text      string `json:"text"`
		Operation string `json:"operation"`
	} `json:"request"`
}

// ttsCheck answers a TTS request the way the service does: its code
// (3000 when it is to be synthesized) and message.
func (s *Server) ttsCheck(raw []byte, operation string) (ttsRequest, int, string) {
	var req ttsRequest
	if json.Unmarshal(raw, &req) != nil || req.App.AppID != AppID || req.App.Token == "" || req.App.Cluster == "" || req.Request.Operation != operation {
		return req, 3001, "invalid request"
	}
	s.Calls.Add(1)
	s.mu.Lock()
	code := pop(&s.ttsFail)
	reused := s.reqIDs[req.Request.ReqID]
	s.reqIDs[req.Request.ReqID] = true
	s.lastVoice = req.Audio.VoiceType
	s.mu.Unlock()
	switch {
	case code != 0:
		return req, code, "failed on purpose"
	case reused || req.Request.ReqID == "":
		return req, 3006, "reqid reused"
	case req.Request.Text == "":
		return req, 3011, "empty text"
	case len(req.Request.Text) > 1024:
		return req, 3010, "text too long"
	}
	switch req.Audio.Encoding {
	case "wav", "pcm", "ogg_opus", "mp3":
	default:
		return req, 3001, "invalid encoding"
	}
	if operation == "submit" && req.Audio.Encoding == "wav" {
		return req, 3001, "wav cannot stream"
	}
	return req, 3000, "Success"
}

func (s *Server) tts(w http.ResponseWriter, r *http.Request) {
	time.Sleep(s.Delay)
	// The token travels as "Bearer;<token>", semicolon and no space.
	if r.Header.Get("Authorization") != "Bearer;"+AccessToken {
		s.Rejected.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		ttsAnswer(w, "", 3001, "authenticate request: load grant: requested grant not found")
		return
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	req, code, msg := s.ttsCheck(raw, "query")
	if code != 3000 {
		ttsAnswer(w, req.Request.ReqID, code, msg)
		return
	}
	audio := Audio(req.Request.Text)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"reqid": req.Request.ReqID, "code": 3000, "operation": "query", "message": "Success",
		"sequence": -1, "data": base64.StdEncoding.EncodeToString(audio), "addition": map[string]string{"duration": strconv.Itoa(len(audio) / 32)}})
}

func asrStatus(w http.ResponseWriter, httpStatus, status int, msg string) {
	w.Header().Set("X-Api-Status-Code", strconv.Itoa(status))
	w.Header().Set("X-Api-Message", msg)
	w.Header().Set("X-Tt-Logid", "fake-logid")
	w.WriteHeader(httpStatus)
	_, _ = w.Write([]byte("{}"))
}

func (s *Server) flash(w http.ResponseWriter, r *http.Request) {
	time.Sleep(s.Delay)
	if r.Header.Get("X-Api-App-Key") != AppID || r.Header.Get("X-Api-Access-Key") != AccessToken {
		s.Rejected.Add(1)
		asrStatus(w, http.StatusUnauthorized, 45000010, "invalid credentials")
		return
	}
	if r.Header.Get("X-Api-Resource-Id") != "volc.bigasr.auc_turbo" || r.Header.Get("X-Api-Request-Id") == "" || r.Header.Get("X-Api-Sequence") != "-1" {
		asrStatus(w, http.StatusBadRequest, 45000001, "missing or wrong X-Api headers")
		return
	}
	var req struct {
		Audio struct {
			Data string `json:"data"`
			URL  string `json:"url"`
		} `json:"audio"`
		Request struct {
			ModelName string `json:"model_name"`
		} `json:"request"`
	}
	if json.NewDecoder(r.Body).Decode(&req) != nil || req.Request.ModelName != "bigmodel" {
		asrStatus(w, http.StatusBadRequest, 45000001, "invalid parameters")
		return
	}
	s.Calls.Add(1)
	s.mu.Lock()
	status := pop(&s.asrFail)
	s.mu.Unlock()
	if status != 0 {
		asrStatus(w, http.StatusOK, status, "failed on purpose")
		return
	}
	audio, err := base64.StdEncoding.DecodeString(req.Audio.Data)
	if err != nil || len(audio) == 0 {
		asrStatus(w, http.StatusBadRequest, 45000002, "empty audio")
		return
	}
	w.Header().Set("X-Api-Status-Code", "20000000")
	w.Header().Set("X-Api-Message", "OK")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"audio_info": map[string]any{"duration": len(audio) / 32},
		"result": map[string]any{"text": s.Transcript, "utterances": []any{}}})
}

// Audio is the fake's deterministic "speech" for text (256 bytes a rune).
func Audio(text string) []byte {
	rs := []rune(text)
	out := make([]byte, 256*len(rs))
	for i := range out {
		out[i] = byte(int(rs[i/256]) + 3*i)
	}
	return out
}

// Speech returns cfg with this fake as the only speech provider (hub
// voice turns stream to it).
func (s *Server) Speech(cfg config.Speech) config.Speech {
	cfg.Providers = []string{volcengine.Name}
	cfg.Volc = config.SpeechVolcengine{AppID: AppID, AccessToken: AccessToken, BaseURL: s.URL}
	return cfg
}
