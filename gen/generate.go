// Package gen holds generated code only: gen/api from openapi.yaml (ogen).
// Nothing under gen/ is edited by hand; run `make generate`.
package gen

// ogen reads a derived copy of openapi.yaml, written to the ignored var/
// folder: tools/ogenspec drops the explicit error responses, which ogen
// would turn into per-operation sum types (see tools/ogenspec).
//go:generate go run ../tools/ogenspec -in ../openapi.yaml -out ../var/ogen/openapi.yaml
//go:generate go tool ogen --clean --config ../.ogen.yml --package api --target api ../var/ogen/openapi.yaml
