// Package contract checks the running service against its contracts,
// openapi.yaml and asyncapi.yaml, with validators that share no code with
// the generated server: kin-openapi for REST responses and a JSON Schema
// validator for WebSocket frames. The tests live in this package's _test
// files; they fail when an operation or message type of a spec has no case.
package contract
