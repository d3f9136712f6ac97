// Package paradise embeds the contracts, openapi.yaml and asyncapi.yaml, so
// the binary serves exactly the documents it was generated from.
package paradise

import _ "embed"

// OpenAPI is openapi.yaml, the REST contract.
//
//go:embed openapi.yaml
var OpenAPI []byte

// AsyncAPI is asyncapi.yaml, the WebSocket contract.
//
//go:embed asyncapi.yaml
var AsyncAPI []byte
