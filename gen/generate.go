// Package gen holds generated code only: gen/api from openapi.yaml (ogen).
// Nothing under gen/ is edited by hand; run `make generate`.
package gen

//go:generate go tool ogen --clean --config ../.ogen.yml --package api --target api ../openapi.yaml
