package config

import (
	"fmt"
	"strings"
	"time"
)

// Speech is the speech section (owned by internal/voice): which vendors
// recognize and synthesize, in failover order, their credentials, and the
// limits of one request.
type Speech struct {
	// Providers are the vendors in failover order: PARADISE_SPEECH_PROVIDER
	// (or the Django system's AUDIO_SERVICE_PROVIDER) first, then
	// PARADISE_SPEECH_FAILOVER (comma-separated). Names: aliyun,
	// volcengine, tencent. Empty means the development provider (local
	// engines), which is never used when a vendor is set.
	Providers []string
	Aliyun    SpeechAliyun
	Volc      SpeechVolcengine
	Tencent   SpeechTencent
	// Timeout bounds one vendor call (PARADISE_SPEECH_TIMEOUT, default 15s);
	// past it the next provider is tried.
	Timeout time.Duration
	// MaxAudioBytes bounds an uploaded recording
	// (PARADISE_SPEECH_MAX_AUDIO_BYTES, default 1MiB, the REST body limit:
	// 32 s of 16 kHz PCM).
	MaxAudioBytes int
	// MaxAudioSeconds bounds a recording's length
	// (PARADISE_SPEECH_MAX_AUDIO_SECONDS, default 30; the vendors' one-shot
	// recognizers stop at 60).
	MaxAudioSeconds int
	// MaxTextChars bounds text to synthesize
	// (PARADISE_SPEECH_MAX_TEXT_CHARS, default 300, Aliyun's limit).
	MaxTextChars int
	// SecondsPerDay is how many seconds of audio (heard and spoken) one
	// user may use per UTC day, all instances together; 0 means no limit
	// (PARADISE_SPEECH_SECONDS_PER_DAY, default 1800).
	SecondsPerDay int
	// AudioURLTTL is how long a voice chat's reply audio stays
	// downloadable (PARADISE_SPEECH_AUDIO_URL_TTL, default 5m).
	AudioURLTTL time.Duration
}

// SpeechAliyun is Aliyun NLS: PARADISE_SPEECH_ALIYUN_ACCESS_KEY_ID,
// _ACCESS_KEY_SECRET, _APPKEY (required), _REGION (default cn-shanghai),
// _TOKEN_URL, _GATEWAY_URL (defaults from the region), _VOICE (default
// xiaoyun).
type SpeechAliyun struct {
	AccessKeyID     string
	AccessKeySecret string `json:"-"`
	AppKey          string
	Region          string
	TokenURL        string
	GatewayURL      string
	Voice           string
}

// SpeechVolcengine is Volcengine openspeech: PARADISE_SPEECH_VOLCENGINE_APPID,
// _ACCESS_TOKEN (required), _CLUSTER (default volcano_tts), _BASE_URL
// (default https://openspeech.bytedance.com), _VOICE (default
// BV001_streaming).
type SpeechVolcengine struct {
	AppID       string
	AccessToken string `json:"-"`
	Cluster     string
	BaseURL     string
	Voice       string
}

// SpeechTencent is Tencent Cloud: PARADISE_SPEECH_TENCENT_SECRET_ID,
// _SECRET_KEY (required), _REGION (optional), _ASR_URL, _TTS_URL
// (defaults https://asr.tencentcloudapi.com/, https://tts.tencentcloudapi.com/),
// _VOICE (a numeric VoiceType, default 101001).
type SpeechTencent struct {
	SecretID  string
	SecretKey string `json:"-"`
	Region    string
	ASRURL    string
	TTSURL    string
	Voice     string
}

// speechAliases maps accepted provider names to canonical ones (the
// Django settings used "volcano" and "bytedance" for Volcengine).
var speechAliases = map[string]string{
	"aliyun": "aliyun", "alibaba": "aliyun",
	"volcengine": "volcengine", "volcano": "volcengine", "volc": "volcengine", "bytedance": "volcengine", "doubao": "volcengine",
	"tencent": "tencent", "tencentcloud": "tencent",
}

func loadSpeech(getenv func(string) string) (Speech, error) {
	var s Speech
	primary := getenv("PARADISE_SPEECH_PROVIDER")
	if primary == "" {
		primary = getenv("AUDIO_SERVICE_PROVIDER")
	}
	seen := map[string]bool{}
	for i, list := range []string{primary, getenv("PARADISE_SPEECH_FAILOVER")} {
		for _, name := range strings.Split(list, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			canon, ok := speechAliases[name]
			if !ok {
				v := "PARADISE_SPEECH_FAILOVER"
				if i == 0 {
					v = "PARADISE_SPEECH_PROVIDER"
				}
				return s, fmt.Errorf("config: %s: unknown speech provider %q (want aliyun, volcengine or tencent)", v, name)
			}
			if !seen[canon] {
				seen[canon] = true
				s.Providers = append(s.Providers, canon)
			}
		}
	}
	s.Aliyun = SpeechAliyun{
		AccessKeyID: getenv("PARADISE_SPEECH_ALIYUN_ACCESS_KEY_ID"), AccessKeySecret: getenv("PARADISE_SPEECH_ALIYUN_ACCESS_KEY_SECRET"),
		AppKey: getenv("PARADISE_SPEECH_ALIYUN_APPKEY"), Region: or(getenv("PARADISE_SPEECH_ALIYUN_REGION"), "cn-shanghai"),
		TokenURL: getenv("PARADISE_SPEECH_ALIYUN_TOKEN_URL"), GatewayURL: getenv("PARADISE_SPEECH_ALIYUN_GATEWAY_URL"),
		Voice: or(getenv("PARADISE_SPEECH_ALIYUN_VOICE"), "xiaoyun"),
	}
	s.Volc = SpeechVolcengine{
		AppID: getenv("PARADISE_SPEECH_VOLCENGINE_APPID"), AccessToken: getenv("PARADISE_SPEECH_VOLCENGINE_ACCESS_TOKEN"),
		Cluster: or(getenv("PARADISE_SPEECH_VOLCENGINE_CLUSTER"), "volcano_tts"),
		BaseURL: or(getenv("PARADISE_SPEECH_VOLCENGINE_BASE_URL"), "https://openspeech.bytedance.com"),
		Voice:   or(getenv("PARADISE_SPEECH_VOLCENGINE_VOICE"), "BV001_streaming"),
	}
	s.Tencent = SpeechTencent{
		SecretID: getenv("PARADISE_SPEECH_TENCENT_SECRET_ID"), SecretKey: getenv("PARADISE_SPEECH_TENCENT_SECRET_KEY"),
		Region: getenv("PARADISE_SPEECH_TENCENT_REGION"), ASRURL: getenv("PARADISE_SPEECH_TENCENT_ASR_URL"),
		TTSURL: getenv("PARADISE_SPEECH_TENCENT_TTS_URL"), Voice: or(getenv("PARADISE_SPEECH_TENCENT_VOICE"), "101001"),
	}
	var err error
	if s.Timeout, err = duration(getenv, "PARADISE_SPEECH_TIMEOUT", 15*time.Second); err != nil {
		return s, err
	}
	maxBytes, err := byteSize(getenv, "PARADISE_SPEECH_MAX_AUDIO_BYTES", 1<<20)
	if err != nil {
		return s, err
	}
	s.MaxAudioBytes = int(maxBytes)
	if s.MaxAudioSeconds, err = integer(getenv, "PARADISE_SPEECH_MAX_AUDIO_SECONDS", 30); err != nil {
		return s, err
	}
	if s.MaxTextChars, err = integer(getenv, "PARADISE_SPEECH_MAX_TEXT_CHARS", 300); err != nil {
		return s, err
	}
	if s.SecondsPerDay, err = limit(getenv, "PARADISE_SPEECH_SECONDS_PER_DAY", 1800); err != nil {
		return s, err
	}
	if s.AudioURLTTL, err = duration(getenv, "PARADISE_SPEECH_AUDIO_URL_TTL", 5*time.Minute); err != nil {
		return s, err
	}
	return s, nil
}

// Validate reports the first speech setting that cannot work; errors name
// variables, never their values.
func (s Speech) Validate() error {
	for _, p := range s.Providers {
		var missing []string
		switch p {
		case "aliyun":
			missing = absent(map[string]string{"ACCESS_KEY_ID": s.Aliyun.AccessKeyID, "ACCESS_KEY_SECRET": s.Aliyun.AccessKeySecret, "APPKEY": s.Aliyun.AppKey})
		case "volcengine":
			missing = absent(map[string]string{"APPID": s.Volc.AppID, "ACCESS_TOKEN": s.Volc.AccessToken})
		case "tencent":
			missing = absent(map[string]string{"SECRET_ID": s.Tencent.SecretID, "SECRET_KEY": s.Tencent.SecretKey})
		}
		if len(missing) > 0 {
			return fmt.Errorf("config: speech provider %s needs PARADISE_SPEECH_%s_%s", p, strings.ToUpper(p), strings.Join(missing, ", _"))
		}
	}
	if s.Timeout <= 0 || s.AudioURLTTL <= 0 {
		return fmt.Errorf("config: PARADISE_SPEECH_TIMEOUT and PARADISE_SPEECH_AUDIO_URL_TTL must be positive")
	}
	if s.MaxAudioBytes <= 0 || s.MaxAudioBytes > 1<<20 {
		return fmt.Errorf("config: PARADISE_SPEECH_MAX_AUDIO_BYTES must be between 1 and 1MiB (the REST body limit)")
	}
	return nil
}

// absent lists the names whose values are empty, sorted.
func absent(vals map[string]string) []string {
	var out []string
	for _, k := range []string{"ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "APPKEY", "APPID", "ACCESS_TOKEN", "SECRET_ID", "SECRET_KEY"} {
		if v, ok := vals[k]; ok && v == "" {
			out = append(out, k)
		}
	}
	return out
}
