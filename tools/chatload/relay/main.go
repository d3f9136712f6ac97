// Command relay is chatload's floor: the least a server can do to answer
// a streamed chat. It takes POST /api/ai/chat/, calls the provider with
// Paradise's own OpenAI-compatible client (internal/llm) and relays the
// reply as the same start / delta / done events, with no authentication,
// database, Redis, history, persona or budget. `chatload -relay` measures
// it in place of `paradise serve`, so that the report says how much of
// the added time to first token and of the memory per stream any Go
// server on net/http pays on this machine, and how much is Paradise's.
//
// It understands just enough of paradise's command line and environment
// for tools/internal/loadenv to run it: `relay migrate` does nothing,
// `relay serve` listens on PARADISE_ADDR, answers /readyz, serves the Go
// runtime's metrics on PARADISE_METRICS_ADDR and pprof on
// PARADISE_DEBUG_ADDR, and calls the provider named "fake" in
// PARADISE_LLM_FAKE_*.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"paradise/internal/config"
	"paradise/internal/httpapi"
	"paradise/internal/llm"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: relay migrate|serve")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "migrate":
		return // no database
	case "serve":
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "relay: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func serve() error {
	provider := llm.NewOpenAI(config.LLMProvider{
		Name:              "fake",
		BaseURL:           os.Getenv("PARADISE_LLM_FAKE_BASE_URL"),
		APIKey:            os.Getenv("PARADISE_LLM_FAKE_API_KEY"),
		Model:             os.Getenv("PARADISE_LLM_FAKE_MODEL"),
		FirstTokenTimeout: 10 * time.Second,
		Timeout:           2 * time.Minute,
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.Handle("POST /api/ai/chat/", &relay{provider: provider})

	debug := http.NewServeMux()
	debug.HandleFunc("/debug/pprof/", pprof.Index)
	debug.HandleFunc("/debug/pprof/profile", pprof.Profile)
	metrics := http.NewServeMux()
	metrics.Handle("/metrics", promhttp.Handler()) // the default registry has the Go collector

	errc := make(chan error, 3)
	listen := func(addr string, h http.Handler) *http.Server {
		s := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := s.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("listen on %s: %w", addr, err)
			}
		}()
		return s
	}
	servers := []*http.Server{listen(os.Getenv("PARADISE_ADDR"), mux)}
	if addr := os.Getenv("PARADISE_METRICS_ADDR"); addr != "" {
		servers = append(servers, listen(addr, metrics))
	}
	if addr := os.Getenv("PARADISE_DEBUG_ADDR"); addr != "" {
		servers = append(servers, listen(addr, debug))
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	select {
	case err := <-errc:
		return err
	case <-sig:
		for _, s := range servers {
			_ = s.Close()
		}
		return nil
	}
}

type relay struct{ provider *llm.OpenAI }

// ServeHTTP relays one streamed chat: the request's message as the only
// user message, the provider's deltas as they come.
func (rl *relay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Message        string `json:"message"`
		ConversationID int    `json:"conversation_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Message == "" {
		http.Error(w, "a JSON body with a message is required", http.StatusBadRequest)
		return
	}
	st, err := rl.provider.Stream(r.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: req.Message}}})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer st.Close()
	httpapi.StartEventStream(w)
	send := func(event string, data any) error { return httpapi.WriteEvent(w, event, data) }
	conversation := max(req.ConversationID, 1)
	if send("start", map[string]any{"type": "start", "conversation_id": conversation}) != nil {
		return
	}
	for {
		ev, err := st.Recv()
		if err != nil {
			return // io.EOF after the final event, or the client is gone
		}
		if ev.Final != nil {
			f := ev.Final
			if f.CutShort {
				_ = send("error", map[string]any{"type": "error", "code": http.StatusBadGateway, "message": fmt.Sprint(f.Err)})
				return
			}
			_ = send("done", map[string]any{"type": "done", "conversation_id": conversation, "finish_reason": f.FinishReason,
				"truncated": false, "usage": map[string]int{"prompt_tokens": f.Usage.PromptTokens,
					"completion_tokens": f.Usage.CompletionTokens, "total_tokens": f.Usage.TotalTokens}})
			continue
		}
		if send("delta", map[string]any{"type": "delta", "text": ev.Delta}) != nil {
			return
		}
	}
}
