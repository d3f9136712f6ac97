package app_test

import (
	"testing"

	"go.uber.org/fx"

	"paradise/internal/app"
	"paradise/internal/config"
)

// TestValidate checks the dependency graph without running anything: every
// constructor's inputs are provided, and there are no cycles.
func TestValidate(t *testing.T) {
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.ValidateApp(fx.Supply(cfg), app.Module); err != nil {
		t.Fatal(err)
	}
}
