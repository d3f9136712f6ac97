package voice_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	ht "github.com/ogen-go/ogen/http"

	"paradise/gen/api"
	"paradise/internal/config"
	"paradise/internal/speech"
	"paradise/internal/speech/aliyun/aliyuntest"
	"paradise/internal/speech/tencent/tencenttest"
	"paradise/internal/testenv"
	"paradise/internal/voice"
)

// vendors are fake Aliyun (first) and Tencent (failover) services.
type vendors struct {
	aliyun  *aliyuntest.Server
	tencent *tencenttest.Server
}

// start runs Paradise with speech on the fakes: aliyun, then tencent.
func start(t *testing.T, b testenv.Backend, tune func(*config.Speech)) (*testenv.Service, vendors) {
	v := vendors{aliyun: aliyuntest.New(t), tencent: tencenttest.New(t)}
	cfg := testenv.Config(t, b)
	a, tc := v.aliyun.Config(""), v.tencent.Config()
	cfg.Speech.Providers = []string{"aliyun", "tencent"}
	cfg.Speech.Aliyun = config.SpeechAliyun{AccessKeyID: a.AccessKeyID, AccessKeySecret: a.AccessKeySecret, AppKey: a.AppKey,
		Region: "cn-shanghai", TokenURL: a.TokenURL, GatewayURL: a.GatewayURL}
	cfg.Speech.Tencent = config.SpeechTencent{SecretID: tc.SecretID, SecretKey: tc.SecretKey, ASRURL: tc.ASRURL, TTSURL: tc.TTSURL, Voice: "101001"}
	if tune != nil {
		tune(&cfg.Speech)
	}
	return testenv.StartWith(t, cfg), v
}

// speechPCM is n seconds of 16 kHz PCM that is not silence.
func speechPCM(seconds float64) []byte {
	b := make([]byte, int(32000*seconds)&^1)
	for i := 1; i < len(b); i += 2 {
		b[i] = byte(i % 40)
	}
	return b
}

func raw(b []byte) *api.SpeechToTextReqApplicationOctetStream {
	return &api.SpeechToTextReqApplicationOctetStream{Data: bytes.NewReader(b)}
}

func TestSpeechToText(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		svc, v := start(t, b, nil)
		user := svc.Register(t, "stt")
		c := svc.API(t, user.Token)
		ctx := t.Context()

		res, err := c.SpeechToText(ctx, raw(speechPCM(1.5)), api.SpeechToTextParams{SampleRate: api.NewOptSpeechSampleRate(api.SpeechSampleRate16000)})
		testenv.OK(t, res, err, http.StatusOK)
		if res.Data.Text != v.aliyun.Transcript || res.Data.Provider != "aliyun" || res.Data.DurationMs != 1500 || res.Data.Language != "zh-CN" {
			t.Fatalf("transcript %+v", res.Data)
		}

		// A multipart upload of a WAV file, its format from the part's type.
		wav := append(speech.WAVHeader(32000, 16000), speechPCM(1)...)
		up := &api.SpeechUploadMultipart{Audio: ht.MultipartFile{Name: "hello.wav", File: bytes.NewReader(wav),
			Header: textproto.MIMEHeader{"Content-Type": {"audio/wav"}}}, Language: api.NewOptString("zh-CN")}
		res, err = c.SpeechToText(ctx, up, api.SpeechToTextParams{})
		testenv.OK(t, res, err, http.StatusOK)
		if res.Data.DurationMs != 1000 || res.Data.Provider != "aliyun" {
			t.Fatalf("wav transcript %+v", res.Data)
		}

		// Aliyun failing hands the request to Tencent.
		v.aliyun.FailNext("/stream/v1/asr", 500, 50000000, "server error")
		res, err = c.SpeechToText(ctx, raw(speechPCM(1)), api.SpeechToTextParams{})
		testenv.OK(t, res, err, http.StatusOK)
		if res.Data.Provider != "tencent" || res.Data.Text != v.tencent.Transcript {
			t.Fatalf("after failover %+v", res.Data)
		}
		if v.aliyun.TokenCalls.Load() != 1 || v.aliyun.Rejected.Load() != 0 || v.tencent.Rejected.Load() != 0 {
			t.Fatalf("token calls %d, rejected %d/%d", v.aliyun.TokenCalls.Load(), v.aliyun.Rejected.Load(), v.tencent.Rejected.Load())
		}

		// Both failing: 502, code 5041.
		v.aliyun.FailNext("/stream/v1/asr", 500, 50000000, "server error")
		v.tencent.FailNext("SentenceRecognition", "InternalError")
		_, err = c.SpeechToText(ctx, raw(speechPCM(1)), api.SpeechToTextParams{})
		testenv.ExpectAPIError(t, err, http.StatusBadGateway, speech.CodeVendorError)

		// Rate limited everywhere: 503, code 5043.
		v.aliyun.FailNext("/stream/v1/asr", 429, 40000005, "Gateway:TOO_MANY_REQUESTS")
		v.tencent.FailNext("SentenceRecognition", "RequestLimitExceeded")
		_, err = c.SpeechToText(ctx, raw(speechPCM(1)), api.SpeechToTextParams{})
		testenv.ExpectAPIError(t, err, http.StatusServiceUnavailable, speech.CodeVendorBusy)

		// The vendor refusing the audio is not failed over.
		v.aliyun.FailNext("/stream/v1/asr", 400, 40000009, "invalid wav header")
		_, err = c.SpeechToText(ctx, raw(speechPCM(1)), api.SpeechToTextParams{})
		testenv.ExpectAPIError(t, err, http.StatusBadRequest, speech.CodeBadAudio)

		// Bad input, refused before any vendor call.
		before := v.tencent.Calls.Load()
		for _, tc := range []struct {
			name   string
			body   []byte
			params api.SpeechToTextParams
			status int
			code   int
		}{
			{"empty", nil, api.SpeechToTextParams{}, 400, speech.CodeEmptyAudio},
			{"silence", make([]byte, 32000), api.SpeechToTextParams{}, 400, speech.CodeEmptyAudio},
			{"too long", speechPCM(31), api.SpeechToTextParams{}, 413, speech.CodeAudioTooLong},
			{"not a wav", []byte("RIFX not really"), api.SpeechToTextParams{Format: api.NewOptAudioFormat(api.AudioFormatWav)}, 400, speech.CodeBadAudio},
		} {
			_, err := c.SpeechToText(ctx, raw(tc.body), tc.params)
			testenv.ExpectAPIError(t, err, tc.status, tc.code)
		}
		if v.tencent.Calls.Load() != before {
			t.Fatal("bad input reached a vendor")
		}
		// Over the body limit: 413.
		_, err = c.SpeechToText(ctx, raw(make([]byte, 2<<20)), api.SpeechToTextParams{})
		if e := testenv.APIError(t, err); e.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("2 MiB: %d %+v", e.StatusCode, e.Response)
		}

		// No token: 401 in the envelope.
		req, _ := http.NewRequest(http.MethodPost, svc.URL+"/api/ai/speech-to-text/", bytes.NewReader(speechPCM(1)))
		req.Header.Set("Content-Type", "application/octet-stream")
		if r := svc.Send(t, req); r.Status != http.StatusUnauthorized || r.Envelope.Code != http.StatusUnauthorized {
			t.Fatalf("no token: %d %+v", r.Status, r.Envelope)
		}
	})
}

func TestTextToSpeech(t *testing.T) {
	svc, v := start(t, testenv.Postgres, nil)
	user := svc.Register(t, "tts")
	c := svc.API(t, user.Token)
	ctx := t.Context()

	res, err := c.TextToSpeech(ctx, &api.TextToSpeechRequest{Text: "早上好"})
	if err != nil {
		t.Fatal(err)
	}
	mp3, ok := res.(*api.TextToSpeechOKAudioMpegHeaders)
	if !ok {
		t.Fatalf("got %T, want audio/mpeg", res)
	}
	got, _ := io.ReadAll(mp3.Response.Data)
	if !bytes.Equal(got, aliyuntest.Audio([]rune("早上好"))) || mp3.XSpeechProvider.Or("") != "aliyun" || mp3.XSpeechVoice.Or("") != "xiaoyun" {
		t.Fatalf("%d bytes from %v voice %v", len(got), mp3.XSpeechProvider, mp3.XSpeechVoice)
	}

	// The raw response: the content type and the bytes as streamed.
	req, _ := http.NewRequest(http.MethodPost, svc.URL+"/api/ai/text-to-speech/", strings.NewReader(`{"text":"你好","format":"pcm","voice":"aixia"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Token "+user.Token)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "audio/pcm" || r.Header.Get("X-Speech-Voice") != "aixia" ||
		!bytes.Equal(body, aliyuntest.Audio([]rune("你好"))) {
		t.Fatalf("pcm: %d %s %d bytes", r.StatusCode, r.Header.Get("Content-Type"), len(body))
	}

	// Aliyun down: Tencent speaks (with its own default voice).
	v.aliyun.FailNext("/stream/v1/tts", 500, 50000000, "server error")
	res, err = c.TextToSpeech(ctx, &api.TextToSpeechRequest{Text: "你好", Format: api.NewOptAudioFormat(api.AudioFormatWav)})
	if err != nil {
		t.Fatal(err)
	}
	wav, ok := res.(*api.TextToSpeechOKAudioWavHeaders)
	if !ok || wav.XSpeechProvider.Or("") != "tencent" {
		t.Fatalf("after failover %T %+v", res, res)
	}
	got, _ = io.ReadAll(wav.Response.Data)
	if !bytes.Equal(got, tencenttest.Audio("你好")) {
		t.Fatalf("tencent audio %d bytes", len(got))
	}

	// ogg_opus: neither vendor here makes it.
	_, err = c.TextToSpeech(ctx, &api.TextToSpeechRequest{Text: "hi", Format: api.NewOptAudioFormat(api.AudioFormatOggOpus)})
	testenv.ExpectAPIError(t, err, http.StatusBadRequest, speech.CodeUnsupportedFormat)
	_, err = c.TextToSpeech(ctx, &api.TextToSpeechRequest{Text: strings.Repeat("长", 301)})
	testenv.ExpectAPIError(t, err, http.StatusBadRequest, speech.CodeTextTooLong)
	_, err = c.TextToSpeech(ctx, &api.TextToSpeechRequest{Text: "   "})
	testenv.ExpectAPIError(t, err, http.StatusBadRequest, http.StatusBadRequest)
}

// TestSpeechSecondsBudget: recognized and spoken seconds count against
// the user's day.
func TestSpeechSecondsBudget(t *testing.T) {
	svc, _ := start(t, testenv.Postgres, func(s *config.Speech) { s.SecondsPerDay = 2 })
	user := svc.Register(t, "budget")
	c := svc.API(t, user.Token)
	res, err := c.SpeechToText(t.Context(), raw(speechPCM(2.5)), api.SpeechToTextParams{})
	testenv.OK(t, res, err, http.StatusOK)
	_, err = c.SpeechToText(t.Context(), raw(speechPCM(1)), api.SpeechToTextParams{})
	testenv.ExpectAPIError(t, err, http.StatusTooManyRequests, voice.CodeSpeechSeconds)
	_, err = c.TextToSpeech(t.Context(), &api.TextToSpeechRequest{Text: "hi"})
	testenv.ExpectAPIError(t, err, http.StatusTooManyRequests, voice.CodeSpeechSeconds)
	// Another user has their own budget.
	other := svc.Register(t, "budget2")
	res, err = svc.API(t, other.Token).SpeechToText(t.Context(), raw(speechPCM(1)), api.SpeechToTextParams{})
	testenv.OK(t, res, err, http.StatusOK)
}

// TestDevelopmentProvider: with no vendor, the local engines answer (a
// real round trip when espeak-ng and pocketsphinx are installed), or a
// 503 names what to install.
func TestDevelopmentProvider(t *testing.T) {
	svc := testenv.Start(t, testenv.Postgres)
	user := svc.Register(t, "dev")
	c := svc.API(t, user.Token)
	res, err := c.TextToSpeech(t.Context(), &api.TextToSpeechRequest{Text: "hello world", Format: api.NewOptAudioFormat(api.AudioFormatWav)})
	if err != nil {
		e := testenv.ExpectAPIError(t, err, http.StatusServiceUnavailable, speech.CodeEngineMissing)
		if !strings.Contains(e.Message, "espeak-ng") {
			t.Fatalf("message %q does not name the engine", e.Message)
		}
		t.Skip("espeak-ng is not installed: " + e.Message)
	}
	wav, _ := io.ReadAll(res.(*api.TextToSpeechOKAudioWavHeaders).Response.Data)
	heard, err := c.SpeechToText(t.Context(), raw(wav), api.SpeechToTextParams{Format: api.NewOptAudioFormat(api.AudioFormatWav)})
	if err != nil {
		e := testenv.ExpectAPIError(t, err, http.StatusServiceUnavailable, speech.CodeEngineMissing)
		t.Skip("pocketsphinx is not installed: " + e.Message)
	}
	if heard.Data.Provider != "local" || !strings.Contains(heard.Data.Text, "hello") || !strings.Contains(heard.Data.Text, "world") {
		t.Fatalf("heard %+v", heard.Data)
	}
	// mp3 is not something the local engines make or read.
	_, err = c.SpeechToText(t.Context(), raw([]byte{0xff, 0xfb, 0x90, 0}), api.SpeechToTextParams{Format: api.NewOptAudioFormat(api.AudioFormatMp3)})
	testenv.ExpectAPIError(t, err, http.StatusBadRequest, speech.CodeUnsupportedFormat)
}

func TestVoiceChat(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		svc, v := start(t, b, nil)
		user := svc.Register(t, "talk")
		c := svc.API(t, user.Token)
		ctx := t.Context()

		res, err := c.VoiceChat(ctx, &api.VoiceChatReqApplicationOctetStream{Data: bytes.NewReader(speechPCM(1))}, api.VoiceChatParams{})
		testenv.OK(t, res, err, http.StatusOK)
		d := res.Data
		if d.Transcript != v.aliyun.Transcript || !strings.Contains(d.Reply, v.aliyun.Transcript) || d.SpeechProvider != "aliyun" ||
			d.AudioFormat != api.AudioFormatMp3 || d.ConversationID == 0 || d.AssistantMessageID == 0 {
			t.Fatalf("voice chat %+v", d)
		}
		// The transcript and reply are the conversation's messages.
		msgs, err := c.ListConversationMessages(ctx, api.ListConversationMessagesParams{ID: d.ConversationID})
		testenv.OK(t, msgs, err, http.StatusOK)
		if msgs.Data.Count != 2 || msgs.Data.Results[0].Content != d.Transcript || msgs.Data.Results[1].Content != d.Reply {
			t.Fatalf("messages %+v", msgs.Data.Results)
		}

		// The audio URL: the reply's sentences spoken one after another,
		// for the owner only.
		id := strings.TrimSuffix(d.AudioURL.Path[strings.LastIndex(strings.TrimSuffix(d.AudioURL.Path, "/"), "/")+1:], "/")
		if d.AudioURL.Host != strings.TrimPrefix(svc.URL, "http://") {
			t.Fatalf("audio url %s", d.AudioURL.String())
		}
		audio, err := c.GetVoiceChatAudio(ctx, api.GetVoiceChatAudioParams{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		mp3, ok := audio.(*api.GetVoiceChatAudioOKAudioMpeg)
		if !ok {
			t.Fatalf("audio %T", audio)
		}
		got, _ := io.ReadAll(mp3.Data)
		if len(got) == 0 || len(got)%aliyuntest.BytesPerChar != 0 {
			t.Fatalf("%d bytes of audio", len(got))
		}
		stranger := svc.Register(t, "stranger")
		_, err = svc.API(t, stranger.Token).GetVoiceChatAudio(ctx, api.GetVoiceChatAudioParams{ID: id})
		testenv.ExpectAPIError(t, err, http.StatusNotFound, http.StatusNotFound)
		if err := svc.Redis.Del(ctx, svc.Key("speech:audio:"+id)).Err(); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetVoiceChatAudio(ctx, api.GetVoiceChatAudioParams{ID: id})
		testenv.ExpectAPIError(t, err, http.StatusNotFound, http.StatusNotFound)

		// Continuing the conversation, reply as WAV (assembled from PCM).
		res, err = c.VoiceChat(ctx, &api.VoiceChatReqApplicationOctetStream{Data: bytes.NewReader(speechPCM(1))},
			api.VoiceChatParams{ConversationID: api.NewOptInt(d.ConversationID), ReplyFormat: api.NewOptAudioFormat(api.AudioFormatWav)})
		testenv.OK(t, res, err, http.StatusOK)
		if res.Data.ConversationID != d.ConversationID || res.Data.AudioFormat != api.AudioFormatWav {
			t.Fatalf("second turn %+v", res.Data)
		}
		path := res.Data.AudioURL.Path
		audio, err = c.GetVoiceChatAudio(ctx, api.GetVoiceChatAudioParams{ID: strings.Split(strings.TrimSuffix(path, "/"), "/")[5]})
		if err != nil {
			t.Fatal(err)
		}
		wavBody, _ := io.ReadAll(audio.(*api.GetVoiceChatAudioOKAudioWav).Data)
		if _, err := speech.ParseWAV(wavBody); err != nil {
			t.Fatalf("reply WAV: %v", err)
		}

		// Silence is refused before anything is stored.
		_, err = c.VoiceChat(ctx, &api.VoiceChatReqApplicationOctetStream{Data: bytes.NewReader(make([]byte, 3200))}, api.VoiceChatParams{})
		testenv.ExpectAPIError(t, err, http.StatusBadRequest, speech.CodeEmptyAudio)
		// Another user's conversation: 404.
		_, err = svc.API(t, stranger.Token).VoiceChat(ctx, &api.VoiceChatReqApplicationOctetStream{Data: bytes.NewReader(speechPCM(1))},
			api.VoiceChatParams{ConversationID: api.NewOptInt(d.ConversationID)})
		testenv.ExpectAPIError(t, err, http.StatusNotFound, http.StatusNotFound)
	})
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	Name string
	Data map[string]any
}

func readEvents(t *testing.T, r io.Reader) []sseEvent {
	t.Helper()
	body, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var out []sseEvent
	for _, block := range strings.Split(strings.TrimSpace(string(body)), "\n\n") {
		var e sseEvent
		for _, line := range strings.Split(block, "\n") {
			if name, ok := strings.CutPrefix(line, "event: "); ok {
				e.Name = name
			} else if data, ok := strings.CutPrefix(line, "data: "); ok {
				if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
					t.Fatalf("event data %q: %v", data, err)
				}
			}
		}
		out = append(out, e)
	}
	return out
}

func TestVoiceChatStream(t *testing.T) {
	svc, v := start(t, testenv.Postgres, nil)
	user := svc.Register(t, "stream")
	post := func(query string, body []byte, accept string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, svc.URL+"/api/ai/voice-chat/"+query, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Authorization", "Token "+user.Token)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	res := post("?reply_format=pcm", speechPCM(1), "text/event-stream")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := readEvents(t, res.Body)
	if events[0].Name != "transcript" || events[0].Data["text"] != v.aliyun.Transcript || events[1].Name != "start" {
		t.Fatalf("first events %+v", events[:2])
	}
	var text strings.Builder
	var audio []byte
	seq := 0.0
	for _, e := range events[2 : len(events)-1] {
		switch e.Name {
		case "delta":
			text.WriteString(e.Data["text"].(string))
		case "audio":
			if e.Data["seq"].(float64) != seq || e.Data["format"] != "pcm" {
				t.Fatalf("audio event %+v, want seq %v", e.Data, seq)
			}
			seq++
			b, _ := base64.StdEncoding.DecodeString(e.Data["data"].(string))
			audio = append(audio, b...)
		default:
			t.Fatalf("unexpected %s event", e.Name)
		}
	}
	done := events[len(events)-1]
	if done.Name != "done" || done.Data["reply"] != text.String() || done.Data["assistant_message_id"].(float64) == 0 {
		t.Fatalf("done %+v, text %q", done, text.String())
	}
	// All of the reply was spoken (the fake makes BytesPerChar a rune of
	// the sentences, which drop only spaces).
	spoken := len([]rune(strings.ReplaceAll(strings.ReplaceAll(text.String(), " ", ""), "\n", "")))
	if len(audio) < aliyuntest.BytesPerChar*spoken*9/10 || seq == 0 {
		t.Fatalf("%d bytes of audio in %v events for %d characters", len(audio), seq, spoken)
	}

	// Errors before the transcript are envelopes.
	res = post("?stream=true", nil, "")
	var env testenv.Envelope
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil || res.StatusCode != http.StatusBadRequest || env.Code != speech.CodeEmptyAudio {
		t.Fatalf("empty audio: %d %+v %v", res.StatusCode, env, err)
	}
	res = post("?stream=true&reply_format=flac", speechPCM(1), "")
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad reply_format: %d", res.StatusCode)
	}
	// Speech failing mid-reply ends the stream with an error event.
	v.aliyun.FailNext("/stream/v1/tts", 500, 50000000, "server error")
	v.tencent.FailNext("TextToVoice", "InternalError")
	events = readEvents(t, post("?stream=true", speechPCM(1), "").Body)
	if last := events[len(events)-1]; last.Name != "error" || last.Data["code"].(float64) != speech.CodeVendorError {
		t.Fatalf("last event %+v", last)
	}
}
