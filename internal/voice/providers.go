package voice

import (
	"net/http"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"paradise/internal/config"
	"paradise/internal/redisdb"
	"paradise/internal/speech"
	"paradise/internal/speech/aliyun"
	"paradise/internal/speech/local"
	"paradise/internal/speech/tencent"
	"paradise/internal/speech/volcengine"
)

// Engines are the configured recognizer and synthesizer: the vendors in
// failover order, or the development engines when no vendor is set.
type Engines struct {
	Recognizer  speech.Recognizer
	Synthesizer speech.Synthesizer
	// Streamer recognizes hub voice turns as their audio arrives: the
	// first provider when it streams (Volcengine), else nil and turns are
	// recognized whole at their end.
	Streamer speech.StreamRecognizer
	// Observer feeds vendor calls into the metrics.
	Observer speech.Observer
	// Describe is the readiness detail: the chain, or why speech is off.
	Describe string
}

// NewEngines builds the providers from the configuration. Vendor calls
// are bounded by cfg.Timeout (the whole exchange, audio included).
func NewEngines(cfg config.Speech, keys redisdb.Keys, rdb *redis.Client, m *Metrics, log *zap.Logger) *Engines {
	hc := &http.Client{Timeout: cfg.Timeout}
	var recs []speech.Recognizer
	var syns []speech.Synthesizer
	var streamer speech.StreamRecognizer
	for i, name := range cfg.Providers {
		var p speech.Provider
		switch name {
		case aliyun.Name:
			a := cfg.Aliyun
			p = aliyun.New(aliyun.Config{AccessKeyID: a.AccessKeyID, AccessKeySecret: a.AccessKeySecret, AppKey: a.AppKey,
				Region: a.Region, TokenURL: a.TokenURL, GatewayURL: a.GatewayURL, Voice: a.Voice,
				TokenKey: keys.SpeechAliyunToken(a.AccessKeyID)}, hc, rdb)
		case volcengine.Name:
			v := cfg.Volc
			p = volcengine.New(volcengine.Config{AppID: v.AppID, AccessToken: v.AccessToken, Cluster: v.Cluster, BaseURL: v.BaseURL, Voice: v.Voice}, hc)
		case tencent.Name:
			t := cfg.Tencent
			p = tencent.New(tencent.Config{SecretID: t.SecretID, SecretKey: t.SecretKey, Region: t.Region, ASRURL: t.ASRURL, TTSURL: t.TTSURL, Voice: t.Voice}, hc)
		}
		recs = append(recs, p)
		syns = append(syns, p)
		if sr, ok := p.(speech.StreamRecognizer); ok && i == 0 {
			streamer = sr
		}
	}
	missing := ""
	describe := strings.Join(cfg.Providers, " -> ")
	if len(cfg.Providers) == 0 {
		// The development engines, only when no vendor is set.
		rec, syn, why := local.Find()
		if rec != nil {
			recs = append(recs, rec)
		}
		if syn != nil {
			syns = append(syns, syn)
		}
		missing = why
		describe = "development (local engines)"
		if why != "" {
			describe = "development: " + why
			log.Named("voice").Info("Speech runs on the development provider", zap.String("detail", why))
		}
	}
	obs := m.observer()
	chain := speech.NewChain(recs, syns, obs, missing)
	if streamer != nil {
		describe += " (" + streamer.Name() + " streams hub voice turns)"
	}
	return &Engines{Recognizer: chain, Synthesizer: chain, Streamer: streamer, Observer: obs, Describe: describe}
}
