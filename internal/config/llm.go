package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// LLM is the LLM provider layer's section (owned by internal/llm).
type LLM struct {
	// Providers are the configured OpenAI-compatible providers in failover
	// order (PARADISE_LLM_PROVIDERS, comma-separated names; default empty,
	// which means the development provider answers).
	Providers []LLMProvider
	// DevDelay is the development provider's pause before each word
	// (PARADISE_LLM_DEV_DELAY, default 40ms; 0 streams at once).
	DevDelay time.Duration
}

// LLMProvider is one OpenAI-compatible chat completions endpoint. Its
// settings are PARADISE_LLM_<NAME>_BASE_URL, _API_KEY, _MODEL,
// _FIRST_TOKEN_TIMEOUT and _TIMEOUT, NAME being its name upper-cased.
type LLMProvider struct {
	// Name is the provider's name as listed in PARADISE_LLM_PROVIDERS
	// (lower case); it is a metrics label and appears in logs.
	Name string
	// BaseURL is where {BaseURL}/chat/completions lives; the known vendors
	// (ark, dashscope, deepseek, openai, ollama) have defaults.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>". It is required for
	// the known cloud vendors and optional for local servers. It never
	// reaches logs: String omits it and JSON encoding skips it.
	APIKey string `json:"-"`
	// Model is the model (or Ark endpoint id) asked for; required.
	Model string
	// FirstTokenTimeout bounds connecting, the response headers and the
	// first token (default 10s): past it the next provider is tried.
	FirstTokenTimeout time.Duration
	// Timeout bounds the whole reply (default 120s).
	Timeout time.Duration
}

// String describes the provider without its key, so logging a provider
// (zap.Any, %v) cannot leak it.
func (p LLMProvider) String() string {
	return fmt.Sprintf("%s(%s, model %s)", p.Name, p.BaseURL, p.Model)
}

// llmDefaultBaseURLs are the documented endpoints of the vendors Paradise
// knows (docs/vendors.md §6 for Ark and DashScope).
var llmDefaultBaseURLs = map[string]string{
	"ark":       "https://ark.cn-beijing.volces.com/api/v3",
	"dashscope": "https://dashscope.aliyuncs.com/compatible-mode/v1",
	"deepseek":  "https://api.deepseek.com/v1",
	"openai":    "https://api.openai.com/v1",
	"ollama":    "http://127.0.0.1:11434/v1",
}

// llmKeyRequired are the cloud vendors that reject requests without a key;
// local servers (ollama, vllm, ...) usually need none.
var llmKeyRequired = map[string]bool{"ark": true, "dashscope": true, "deepseek": true, "openai": true}

// llmName keeps provider names usable in environment variable names and
// as bounded metrics labels.
var llmName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

func loadLLM(getenv func(string) string) (LLM, error) {
	var l LLM
	var err error
	if l.DevDelay, err = duration(getenv, "PARADISE_LLM_DEV_DELAY", 40*time.Millisecond); err != nil {
		return l, err
	}
	seen := map[string]bool{}
	for _, name := range strings.Split(getenv("PARADISE_LLM_PROVIDERS"), ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		if !llmName.MatchString(name) {
			return l, fmt.Errorf("config: PARADISE_LLM_PROVIDERS: provider name %q: want lower-case letters, digits and _", name)
		}
		if seen[name] {
			return l, fmt.Errorf("config: PARADISE_LLM_PROVIDERS: provider %q listed twice", name)
		}
		seen[name] = true
		prefix := "PARADISE_LLM_" + strings.ToUpper(name) + "_"
		p := LLMProvider{
			Name:    name,
			BaseURL: strings.TrimRight(or(getenv(prefix+"BASE_URL"), llmDefaultBaseURLs[name]), "/"),
			APIKey:  getenv(prefix + "API_KEY"),
			Model:   getenv(prefix + "MODEL"),
		}
		if p.FirstTokenTimeout, err = duration(getenv, prefix+"FIRST_TOKEN_TIMEOUT", 10*time.Second); err != nil {
			return l, err
		}
		if p.Timeout, err = duration(getenv, prefix+"TIMEOUT", 120*time.Second); err != nil {
			return l, err
		}
		l.Providers = append(l.Providers, p)
	}
	return l, nil
}

// Validate reports the first LLM setting that cannot work. Errors name the
// variables, never their values, since one of them is a key.
func (l LLM) Validate() error {
	if l.DevDelay < 0 {
		return fmt.Errorf("config: PARADISE_LLM_DEV_DELAY must not be negative")
	}
	for _, p := range l.Providers {
		prefix := "PARADISE_LLM_" + strings.ToUpper(p.Name) + "_"
		if p.BaseURL == "" {
			return fmt.Errorf("config: %sBASE_URL is required (no default for provider %q)", prefix, p.Name)
		}
		u, err := url.Parse(p.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("config: %sBASE_URL must be an http:// or https:// URL", prefix)
		}
		if p.Model == "" {
			return fmt.Errorf("config: %sMODEL is required", prefix)
		}
		if p.APIKey == "" && llmKeyRequired[p.Name] {
			return fmt.Errorf("config: %sAPI_KEY is required", prefix)
		}
		if p.FirstTokenTimeout <= 0 || p.Timeout <= 0 || p.FirstTokenTimeout > p.Timeout {
			return fmt.Errorf("config: %sFIRST_TOKEN_TIMEOUT and %sTIMEOUT must be positive, the first no longer than the second", prefix, prefix)
		}
	}
	return nil
}
