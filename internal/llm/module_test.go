package llm_test

import (
	"context"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"paradise/internal/config"
	"paradise/internal/llm"
	"paradise/internal/metrics"
)

// The chat module will take an llm.Client (or *llm.Chain) from the graph.
func TestModule(t *testing.T) {
	var client llm.Client
	var chain *llm.Chain
	app := fxtest.New(t,
		llm.Module,
		fx.Supply(config.LLM{}, metrics.New(), zap.NewNop()),
		fx.Populate(&client, &chain),
	)
	app.RequireStart()
	defer app.RequireStop()
	if client != llm.Client(chain) || !chain.Development() {
		t.Fatalf("client %v, chain %v: want the same development chain", client, chain)
	}
	if _, err := llm.Complete(context.Background(), client, hello); err != nil {
		t.Fatalf("Complete: %v", err)
	}
}
