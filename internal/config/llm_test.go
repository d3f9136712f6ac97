package config_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"paradise/internal/config"
)

func TestLoadLLM(t *testing.T) {
	tests := []struct {
		name  string
		vars  map[string]string
		check func(t *testing.T, l config.LLM)
	}{
		{
			name: "no providers means the development provider, 40ms a word",
			vars: nil,
			check: func(t *testing.T, l config.LLM) {
				if len(l.Providers) != 0 || l.DevDelay != 40*time.Millisecond {
					t.Fatalf("Providers = %v, DevDelay = %v; want none, 40ms", l.Providers, l.DevDelay)
				}
			},
		},
		{
			name: "known vendors get their base URLs, in the listed order",
			vars: map[string]string{
				"PARADISE_LLM_PROVIDERS":         " Ark, dashscope ,ollama",
				"PARADISE_LLM_ARK_API_KEY":       "ark-key",
				"PARADISE_LLM_ARK_MODEL":         "ep-123",
				"PARADISE_LLM_DASHSCOPE_API_KEY": "sk-ds",
				"PARADISE_LLM_DASHSCOPE_MODEL":   "qwen-plus",
				"PARADISE_LLM_OLLAMA_MODEL":      "qwen2.5:7b",
				"PARADISE_LLM_DEV_DELAY":         "0",
			},
			check: func(t *testing.T, l config.LLM) {
				want := []config.LLMProvider{
					{Name: "ark", BaseURL: "https://ark.cn-beijing.volces.com/api/v3", APIKey: "ark-key", Model: "ep-123", FirstTokenTimeout: 10 * time.Second, Timeout: 120 * time.Second},
					{Name: "dashscope", BaseURL: "https://dashscope.aliyuncs.com/compatible-mode/v1", APIKey: "sk-ds", Model: "qwen-plus", FirstTokenTimeout: 10 * time.Second, Timeout: 120 * time.Second},
					{Name: "ollama", BaseURL: "http://127.0.0.1:11434/v1", Model: "qwen2.5:7b", FirstTokenTimeout: 10 * time.Second, Timeout: 120 * time.Second},
				}
				if len(l.Providers) != len(want) {
					t.Fatalf("Providers = %v, want %v", l.Providers, want)
				}
				for i := range want {
					if l.Providers[i] != want[i] {
						t.Fatalf("Providers[%d] = %#v, want %#v", i, l.Providers[i], want[i])
					}
				}
				if l.DevDelay != 0 {
					t.Fatalf("DevDelay = %v, want 0", l.DevDelay)
				}
			},
		},
		{
			name: "a local server with its own base URL and timeouts",
			vars: map[string]string{
				"PARADISE_LLM_PROVIDERS":                "vllm",
				"PARADISE_LLM_VLLM_BASE_URL":            "http://gpu-1:8001/v1/",
				"PARADISE_LLM_VLLM_MODEL":               "Qwen/Qwen2.5-7B-Instruct",
				"PARADISE_LLM_VLLM_FIRST_TOKEN_TIMEOUT": "3s",
				"PARADISE_LLM_VLLM_TIMEOUT":             "30s",
			},
			check: func(t *testing.T, l config.LLM) {
				p := l.Providers[0]
				if p.BaseURL != "http://gpu-1:8001/v1" || p.FirstTokenTimeout != 3*time.Second || p.Timeout != 30*time.Second || p.APIKey != "" {
					t.Fatalf("provider = %#v", p)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(env(tt.vars))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c.LLM)
			if config.Split(c).LLM.DevDelay != c.LLM.DevDelay || len(config.Split(c).LLM.Providers) != len(c.LLM.Providers) {
				t.Fatalf("Split does not carry the LLM section")
			}
		})
	}
}

func TestLoadLLMErrors(t *testing.T) {
	const key = "sk-secret-value-123"
	ark := func(extra map[string]string) map[string]string {
		v := map[string]string{"PARADISE_LLM_PROVIDERS": "ark", "PARADISE_LLM_ARK_API_KEY": key, "PARADISE_LLM_ARK_MODEL": "ep-1"}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"cloud vendor without key", ark(map[string]string{"PARADISE_LLM_ARK_API_KEY": ""}), "PARADISE_LLM_ARK_API_KEY is required"},
		{"no model", ark(map[string]string{"PARADISE_LLM_ARK_MODEL": ""}), "PARADISE_LLM_ARK_MODEL is required"},
		{"unknown vendor without base URL", map[string]string{"PARADISE_LLM_PROVIDERS": "vllm", "PARADISE_LLM_VLLM_MODEL": "m"}, "PARADISE_LLM_VLLM_BASE_URL is required"},
		{"base URL not http", ark(map[string]string{"PARADISE_LLM_ARK_BASE_URL": "ftp://x"}), "PARADISE_LLM_ARK_BASE_URL must be"},
		{"bad name", map[string]string{"PARADISE_LLM_PROVIDERS": "my-llm"}, "provider name"},
		{"listed twice", ark(map[string]string{"PARADISE_LLM_PROVIDERS": "ark,ARK"}), "listed twice"},
		{"first token timeout above timeout", ark(map[string]string{"PARADISE_LLM_ARK_FIRST_TOKEN_TIMEOUT": "1m", "PARADISE_LLM_ARK_TIMEOUT": "30s"}), "FIRST_TOKEN_TIMEOUT"},
		{"bad timeout", ark(map[string]string{"PARADISE_LLM_ARK_TIMEOUT": "soon"}), "PARADISE_LLM_ARK_TIMEOUT"},
		{"negative dev delay", map[string]string{"PARADISE_LLM_DEV_DELAY": "-1s"}, "PARADISE_LLM_DEV_DELAY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(env(tt.vars))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatalf("error %q contains the API key", err)
			}
		})
	}
}

// A provider logged or printed by mistake must not show its key.
func TestLLMProviderHidesKey(t *testing.T) {
	const key = "sk-do-not-print"
	p := config.LLMProvider{Name: "openai", BaseURL: "https://api.openai.com/v1", APIKey: key, Model: "gpt-4o-mini"}
	core, logs := observer.New(zap.InfoLevel)
	zap.New(core).Info("provider", zap.Any("provider", p), zap.Any("section", config.LLM{Providers: []config.LLMProvider{p}}))
	out := fmt.Sprintf("%v %+v %s", p, config.LLM{Providers: []config.LLMProvider{p}}, p)
	for _, e := range logs.All() {
		out += fmt.Sprint(e.ContextMap())
	}
	if strings.Contains(out, key) {
		t.Fatalf("key printed: %s", out)
	}
}
