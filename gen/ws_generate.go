package gen

// gen/ws from asyncapi.yaml: the device hub's frames (tools/asyncapigen).
//go:generate go run ../tools/asyncapigen -in ../asyncapi.yaml -out ws -package ws
