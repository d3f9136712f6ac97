package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// RTC is the real-time voice rooms section (owned by internal/rtc). Room
// tokens are served when AppID and AppKey are set; the voice agent runs
// when AccessKey and SecretKey are set too. Secrets (AppKey, SecretKey,
// TTSToken) never reach logs: String omits them and JSON skips them.
type RTC struct {
	// AppID is the Volcengine RTC app id, 24 characters
	// (PARADISE_RTC_APP_ID; default empty: RTC is off).
	AppID string
	// AppKey signs room tokens (PARADISE_RTC_APP_KEY, secret).
	AppKey string `json:"-"`
	// TokenTTL is the lifetime of the room tokens handed out
	// (PARADISE_RTC_TOKEN_TTL, default 24h). A cached token is handed out
	// again until TokenRefresh before it expires.
	TokenTTL time.Duration
	// TokenRefresh is how long before its expiry a cached token stops
	// being handed out (PARADISE_RTC_TOKEN_REFRESH, default 10m), so a
	// client always gets a token it can use for at least that long.
	TokenRefresh time.Duration
	// LegacyGetByMAC re-enables the Django system's unauthenticated
	// GET /api/device/rtc-token/get_by_mac/ for old firmware
	// (PARADISE_RTC_LEGACY_GET_BY_MAC, default false). Anyone who knows a
	// MAC address then gets a token for its owner's room: the service
	// warns at start, and limits such calls per IP and per MAC.
	LegacyGetByMAC bool
	// LegacyPerIP and LegacyPerMAC are the unauthenticated calls allowed
	// per minute from one IP and for one MAC, all instances together
	// (PARADISE_RTC_LEGACY_PER_IP, default 30; PARADISE_RTC_LEGACY_PER_MAC,
	// default 10).
	LegacyPerIP  int
	LegacyPerMAC int

	// OpenAPIURL is the Volcengine OpenAPI endpoint
	// (PARADISE_RTC_OPENAPI_URL, default https://rtc.volcengineapi.com).
	OpenAPIURL string
	// AccessKey and SecretKey sign OpenAPI requests
	// (PARADISE_RTC_ACCESS_KEY, PARADISE_RTC_SECRET_KEY; secret).
	AccessKey string
	SecretKey string `json:"-"`
	// Region is the signing region (PARADISE_RTC_REGION, default
	// cn-north-1).
	Region string
	// AgentLLMMode is CustomLLM (Paradise is the agent's LLM, the default)
	// or ArkV3 (PARADISE_RTC_AGENT_LLM_MODE).
	AgentLLMMode string
	// ArkEndpointID is the Ark endpoint of ArkV3 mode
	// (PARADISE_RTC_ARK_ENDPOINT_ID).
	ArkEndpointID string
	// PublicBaseURL is where the agent reaches Paradise in CustomLLM mode
	// (PARADISE_RTC_PUBLIC_BASE_URL, e.g. https://api.example.com).
	PublicBaseURL string
	// ASRAppID and ASRCluster configure the agent's speech recognition
	// (PARADISE_RTC_ASR_APP_ID; PARADISE_RTC_ASR_CLUSTER, default
	// volcengine_streaming_common).
	ASRAppID   string
	ASRCluster string
	// TTSAppID, TTSToken and TTSCluster configure its speech
	// (PARADISE_RTC_TTS_APP_ID; PARADISE_RTC_TTS_TOKEN, secret;
	// PARADISE_RTC_TTS_CLUSTER, default volcano_tts).
	TTSAppID   string
	TTSToken   string `json:"-"`
	TTSCluster string
	// TTSVoice is the voice when the device type's persona names none
	// (PARADISE_RTC_TTS_VOICE, default BV001_streaming).
	TTSVoice string
	// WelcomeMessage is what the agent says when it joins
	// (PARADISE_RTC_WELCOME_MESSAGE, default empty: nothing).
	WelcomeMessage string
	// AgentIdleTimeout stops an agent whose room had no turn for that long
	// (PARADISE_RTC_AGENT_IDLE_TIMEOUT, default 10m).
	AgentIdleTimeout time.Duration
}

// TokensEnabled reports whether room tokens can be made.
func (c RTC) TokensEnabled() bool { return c.AppID != "" && c.AppKey != "" }

// AgentEnabled reports whether the voice agent can be started.
func (c RTC) AgentEnabled() bool {
	return c.TokensEnabled() && c.AccessKey != "" && c.SecretKey != ""
}

// String describes the section without its secrets.
func (c RTC) String() string {
	return fmt.Sprintf("rtc(app %s, legacy %t, agent %t, mode %s, region %s)",
		c.AppID, c.LegacyGetByMAC, c.AgentEnabled(), c.AgentLLMMode, c.Region)
}

// The agent's LLM modes.
const (
	RTCModeCustomLLM = "CustomLLM"
	RTCModeArkV3     = "ArkV3"
)

func loadRTC(getenv func(string) string) (RTC, error) {
	c := RTC{
		AppID:          getenv("PARADISE_RTC_APP_ID"),
		AppKey:         getenv("PARADISE_RTC_APP_KEY"),
		OpenAPIURL:     or(getenv("PARADISE_RTC_OPENAPI_URL"), "https://rtc.volcengineapi.com"),
		AccessKey:      getenv("PARADISE_RTC_ACCESS_KEY"),
		SecretKey:      getenv("PARADISE_RTC_SECRET_KEY"),
		Region:         or(getenv("PARADISE_RTC_REGION"), "cn-north-1"),
		AgentLLMMode:   or(getenv("PARADISE_RTC_AGENT_LLM_MODE"), RTCModeCustomLLM),
		ArkEndpointID:  getenv("PARADISE_RTC_ARK_ENDPOINT_ID"),
		PublicBaseURL:  strings.TrimSuffix(getenv("PARADISE_RTC_PUBLIC_BASE_URL"), "/"),
		ASRAppID:       getenv("PARADISE_RTC_ASR_APP_ID"),
		ASRCluster:     or(getenv("PARADISE_RTC_ASR_CLUSTER"), "volcengine_streaming_common"),
		TTSAppID:       getenv("PARADISE_RTC_TTS_APP_ID"),
		TTSToken:       getenv("PARADISE_RTC_TTS_TOKEN"),
		TTSCluster:     or(getenv("PARADISE_RTC_TTS_CLUSTER"), "volcano_tts"),
		TTSVoice:       or(getenv("PARADISE_RTC_TTS_VOICE"), "BV001_streaming"),
		WelcomeMessage: getenv("PARADISE_RTC_WELCOME_MESSAGE"),
	}
	var err error
	if v := getenv("PARADISE_RTC_LEGACY_GET_BY_MAC"); v != "" {
		if c.LegacyGetByMAC, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("config: PARADISE_RTC_LEGACY_GET_BY_MAC: want true or false, got %q", v)
		}
	}
	if c.TokenTTL, err = duration(getenv, "PARADISE_RTC_TOKEN_TTL", 24*time.Hour); err != nil {
		return c, err
	}
	if c.TokenRefresh, err = duration(getenv, "PARADISE_RTC_TOKEN_REFRESH", 10*time.Minute); err != nil {
		return c, err
	}
	if c.LegacyPerIP, err = integer(getenv, "PARADISE_RTC_LEGACY_PER_IP", 30); err != nil {
		return c, err
	}
	if c.LegacyPerMAC, err = integer(getenv, "PARADISE_RTC_LEGACY_PER_MAC", 10); err != nil {
		return c, err
	}
	if c.AgentIdleTimeout, err = duration(getenv, "PARADISE_RTC_AGENT_IDLE_TIMEOUT", 10*time.Minute); err != nil {
		return c, err
	}
	return c, nil
}

// Validate reports the first RTC setting that cannot work.
func (c RTC) Validate() error {
	if c.AppID != "" && len(c.AppID) != 24 {
		return fmt.Errorf("config: PARADISE_RTC_APP_ID must be the 24-character app id")
	}
	if (c.AppID == "") != (c.AppKey == "") {
		return fmt.Errorf("config: PARADISE_RTC_APP_ID and PARADISE_RTC_APP_KEY are set together")
	}
	if c.TokenTTL <= 0 || c.TokenRefresh < 0 || c.TokenRefresh >= c.TokenTTL {
		return fmt.Errorf("config: PARADISE_RTC_TOKEN_TTL must be positive and above PARADISE_RTC_TOKEN_REFRESH")
	}
	if c.AgentIdleTimeout <= 0 {
		return fmt.Errorf("config: PARADISE_RTC_AGENT_IDLE_TIMEOUT must be positive")
	}
	if u, err := url.Parse(c.OpenAPIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("config: PARADISE_RTC_OPENAPI_URL must be an http(s) URL")
	}
	switch c.AgentLLMMode {
	case RTCModeCustomLLM:
		if c.AgentEnabled() && c.PublicBaseURL == "" {
			return fmt.Errorf("config: PARADISE_RTC_PUBLIC_BASE_URL is required for the agent in CustomLLM mode")
		}
	case RTCModeArkV3:
		if c.AgentEnabled() && c.ArkEndpointID == "" {
			return fmt.Errorf("config: PARADISE_RTC_ARK_ENDPOINT_ID is required in ArkV3 mode")
		}
	default:
		return fmt.Errorf("config: PARADISE_RTC_AGENT_LLM_MODE %q: want CustomLLM or ArkV3", c.AgentLLMMode)
	}
	if c.PublicBaseURL != "" {
		if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("config: PARADISE_RTC_PUBLIC_BASE_URL must be an http(s) URL")
		}
	}
	return nil
}
