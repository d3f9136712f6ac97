package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// Keywords of the (dereferenced) AsyncAPI Schema Object that are passed to
// ogen unchanged.
var passKeywords = map[string]bool{
	"type": true, "format": true, "description": true,
	"properties": true, "additionalProperties": true, "required": true,
	"items": true, "allOf": true, "oneOf": true, "anyOf": true,
	"enum": true, "const": true, "default": true, "deprecated": true,
	"multipleOf": true, "maximum": true, "minimum": true,
	"exclusiveMaximum": true, "exclusiveMinimum": true,
	"maxLength": true, "minLength": true, "pattern": true,
	"maxItems": true, "minItems": true, "uniqueItems": true,
	"maxProperties": true, "minProperties": true,
}

// Keywords that only document the schema and are dropped.
var dropKeywords = map[string]bool{
	"title": true, "examples": true, "example": true, "$id": true,
	"$schema": true, "$comment": true, "readOnly": true, "writeOnly": true,
	"externalDocs": true,
}

var goNameRe = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// schemaBuilder converts dereferenced AsyncAPI schemas into the JSON Schema
// handed to ogen. Every schema with a title becomes a $defs entry named
// after the title (so it gets that Go type name and is shared by all its
// users); other schemas stay inline.
type schemaBuilder struct {
	defs map[string]any
}

// buildSchema builds the root schema: a oneOf of every frame schema with a
// discriminator on "type".
func buildSchema(s *spec) ([]byte, error) {
	b := &schemaBuilder{defs: map[string]any{}}
	var (
		oneOf   []any
		mapping = map[string]any{}
		frames  = map[string]any{}
	)
	for _, m := range s.Messages {
		// The frame of message "device_info" is the Go type DeviceInfo (its
		// schema's title only documents it); titled subschemas such as the
		// message payload keep their titles as type names.
		frame := map[string]any{}
		for k, v := range m.Payload {
			if k != "title" {
				frame[k] = v
			}
		}
		conv, err := b.convert(frame, m.Name)
		if err != nil {
			return nil, fmt.Errorf("message %q: payload: %w", m.Name, err)
		}
		name := goName(m.Name)
		if _, ok := b.defs[name]; ok {
			return nil, fmt.Errorf("message %q: its frame type name %s is also the title of a schema", m.Name, name)
		}
		frames[name] = conv
		ref := "#/$defs/" + name
		oneOf = append(oneOf, map[string]any{"$ref": ref})
		mapping[m.Name] = ref
	}
	for name, conv := range frames {
		if _, ok := b.defs[name]; ok {
			return nil, fmt.Errorf("frame type name %s is also the title of a schema", name)
		}
		b.defs[name] = conv
	}
	root := map[string]any{
		"description": "A frame of the device hub: {\"type\", \"message\", \"from\"?}.",
		"oneOf":       oneOf,
		"discriminator": map[string]any{
			"propertyName": "type",
			"mapping":      mapping,
		},
		"$defs": b.defs,
	}
	return json.MarshalIndent(root, "", "  ")
}

// convert returns the ogen form of schema s found at path.
func (b *schemaBuilder) convert(s any, path string) (any, error) {
	switch s := s.(type) {
	case bool:
		if !s {
			return nil, fmt.Errorf("%s: false schema is not supported", path)
		}
		return map[string]any{}, nil
	case map[string]any:
		out := map[string]any{}
		for _, k := range sortedKeys(s) {
			v := s[k]
			p := path + "." + k
			switch {
			case k == "properties":
				props, ok := v.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s: not an object", p)
				}
				conv := map[string]any{}
				for _, name := range sortedKeys(props) {
					c, err := b.convert(props[name], p+"."+name)
					if err != nil {
						return nil, err
					}
					conv[name] = c
				}
				out[k] = conv
			case k == "items" || k == "additionalProperties":
				if _, ok := v.(bool); ok && k == "additionalProperties" {
					out[k] = v
					continue
				}
				c, err := b.convert(v, p)
				if err != nil {
					return nil, err
				}
				out[k] = c
			case k == "allOf" || k == "oneOf" || k == "anyOf":
				list, ok := v.([]any)
				if !ok {
					return nil, fmt.Errorf("%s: not a list", p)
				}
				var conv []any
				for i, e := range list {
					c, err := b.convert(e, fmt.Sprintf("%s[%d]", p, i))
					if err != nil {
						return nil, err
					}
					conv = append(conv, c)
				}
				out[k] = conv
			case (k == "exclusiveMinimum" || k == "exclusiveMaximum") && isNumber(v):
				// draft-07 number form -> OpenAPI 3.0 boolean form used by ogen.
				bound := "minimum"
				if k == "exclusiveMaximum" {
					bound = "maximum"
				}
				if _, ok := s[bound]; ok {
					return nil, fmt.Errorf("%s: both %s and %s are set", p, k, bound)
				}
				out[bound] = v
				out[k] = true
			case passKeywords[k]:
				out[k] = v
			case dropKeywords[k] || strings.HasPrefix(k, "x-"):
			default:
				return nil, fmt.Errorf("%s: keyword %q is not supported by the generator", p, k)
			}
		}
		title, _ := s["title"].(string)
		if title == "" {
			return out, nil
		}
		if !goNameRe.MatchString(title) {
			return nil, fmt.Errorf("%s: title %q must be a Go type name (%s)", path, title, goNameRe)
		}
		if prev, ok := b.defs[title]; ok && !reflect.DeepEqual(prev, out) {
			return nil, fmt.Errorf("%s: title %q is used by two different schemas", path, title)
		}
		b.defs[title] = out
		return map[string]any{"$ref": "#/$defs/" + title}, nil
	default:
		return nil, fmt.Errorf("%s: schema is not an object", path)
	}
}

func isNumber(v any) bool {
	_, ok := v.(json.Number)
	return ok
}

var errNoOutput = errors.New("ogen produced no output")

// goName converts a snake_case name to a Go type name: device_info -> DeviceInfo.
func goName(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	return b.String()
}
