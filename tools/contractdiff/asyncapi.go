package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// CheckAsyncAPI compares two AsyncAPI 2.x documents the way a client built
// from the base sees them. A client sends the messages of the channels'
// publish operations and receives those of their subscribe operations:
//
//   - removed channels and removed message types (per direction) break;
//   - a removed payload field, or a changed const, breaks either way;
//   - in messages clients send: a newly required field, a narrowed enum,
//     a type that no longer accepts a base type, or a tighter bound
//     (maxLength, minLength, maximum, minimum, pattern) breaks;
//   - in messages clients receive: a field no longer required, or a type
//     accepting more than before, breaks; a widened enum is a warning.
func CheckAsyncAPI(base, head []byte) (Report, error) {
	b, err := parseAsync(base)
	if err != nil {
		return Report{}, fmt.Errorf("base: %w", err)
	}
	h, err := parseAsync(head)
	if err != nil {
		return Report{}, fmt.Errorf("head: %w", err)
	}
	rep := Report{BaseVersion: b.version, HeadVersion: h.version}
	c := &asyncCompare{base: b, head: h, rep: &rep}
	for _, ch := range sortedKeys(b.channels) {
		hc, ok := h.channels[ch]
		if !ok {
			c.breaking("channel %s removed", ch)
			continue
		}
		for _, dir := range []direction{sends, receives} {
			for _, name := range sortedKeys(b.channels[ch][dir]) {
				if _, ok := hc[dir][name]; !ok {
					c.breaking("channel %s: message %q no longer %s", ch, name, dir.verb())
				}
			}
		}
	}
	for _, name := range sortedKeys(b.messages) {
		hm, ok := h.messages[name]
		if !ok {
			continue // reported per channel above
		}
		dirs := b.directions(name)
		c.schema("message "+name, b.messages[name], hm, dirs, 0)
	}
	return rep, nil
}

// direction is which way a message goes, from the client's side.
type direction int

const (
	sends    direction = iota // publish: the client sends it
	receives                  // subscribe: the client receives it
)

func (d direction) verb() string {
	if d == sends {
		return "accepted from clients (publish)"
	}
	return "sent to clients (subscribe)"
}

type asyncDoc struct {
	root    map[string]any
	version string
	// channels maps a channel to its message names per direction.
	channels map[string][2]map[string]bool
	// messages maps a message name (the frame type) to its payload.
	messages map[string]any
}

func parseAsync(data []byte) (*asyncDoc, error) {
	var root map[string]any
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	d := &asyncDoc{root: root, channels: map[string][2]map[string]bool{}, messages: map[string]any{}}
	if info, ok := root["info"].(map[string]any); ok {
		d.version = fmt.Sprint(info["version"])
	}
	channels, _ := root["channels"].(map[string]any)
	for name, v := range channels {
		ch, _ := v.(map[string]any)
		var dirs [2]map[string]bool
		for dir, op := range []string{"publish", "subscribe"} {
			dirs[dir] = map[string]bool{}
			o, _ := ch[op].(map[string]any)
			msg, _ := d.resolve(o["message"]).(map[string]any)
			list := []any{msg}
			if one, ok := msg["oneOf"].([]any); ok {
				list = one
			}
			for _, m := range list {
				key := refName(m)
				mm, _ := d.resolve(m).(map[string]any)
				if mm == nil {
					continue
				}
				if n, ok := mm["name"].(string); ok {
					key = n
				}
				if key == "" {
					return nil, fmt.Errorf("channel %s: a %s message has no name", name, op)
				}
				dirs[dir][key] = true
				d.messages[key] = mm["payload"]
			}
		}
		d.channels[name] = dirs
	}
	return d, nil
}

// directions reports in which directions any channel carries a message.
func (d *asyncDoc) directions(name string) [2]bool {
	var out [2]bool
	for _, ch := range d.channels {
		for dir := range ch {
			out[dir] = out[dir] || ch[dir][name]
		}
	}
	return out
}

// resolve follows a local $ref ("#/a/b/c").
func (d *asyncDoc) resolve(v any) any {
	for range 32 { // refs to refs, bounded
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/") {
			return v
		}
		var cur any = d.root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cm, _ := cur.(map[string]any)
			cur = cm[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
		}
		v = cur
	}
	return v
}

func refName(v any) string {
	m, _ := v.(map[string]any)
	ref, _ := m["$ref"].(string)
	return ref[strings.LastIndex(ref, "/")+1:]
}

type asyncCompare struct {
	base, head *asyncDoc
	rep        *Report
}

func (c *asyncCompare) breaking(format string, args ...any) {
	c.rep.Breaking = append(c.rep.Breaking, fmt.Sprintf(format, args...))
}

func (c *asyncCompare) warning(format string, args ...any) {
	c.rep.Warnings = append(c.rep.Warnings, fmt.Sprintf(format, args...))
}

// schema compares one schema of a message carried in dirs.
func (c *asyncCompare) schema(at string, old, cur any, dirs [2]bool, depth int) {
	if depth > 32 {
		return // a recursive schema; what is above was compared
	}
	o, _ := c.base.resolve(old).(map[string]any)
	n, _ := c.head.resolve(cur).(map[string]any)
	if o == nil || n == nil {
		return
	}
	sent, received := dirs[sends], dirs[receives]

	ot, nt := typeSet(o["type"]), typeSet(n["type"])
	if len(ot) > 0 {
		if len(nt) == 0 {
			nt = nil // no type: anything, wider than before
		}
		if sent && nt != nil {
			for t := range ot {
				if !nt[t] && !(t == "integer" && nt["number"]) {
					c.breaking("%s: type no longer accepts %s", at, t)
				}
			}
		}
		if received {
			for t := range nt {
				if !ot[t] {
					c.breaking("%s: type may now be %s", at, t)
				}
			}
			if nt == nil {
				c.breaking("%s: type no longer constrained", at)
			}
		}
	}
	if ov, ok := o["const"]; ok && !equalJSON(ov, n["const"]) {
		c.breaking("%s: const changed from %v to %v", at, ov, n["const"])
	}
	if oe, ok := o["enum"].([]any); ok {
		ne, _ := n["enum"].([]any)
		if sent {
			for _, v := range oe {
				if ne != nil && !containsJSON(ne, v) {
					c.breaking("%s: enum value %v removed", at, v)
				}
			}
		}
		if received {
			for _, v := range ne {
				if !containsJSON(oe, v) {
					c.warning("%s: enum value %v added (clients switching over every value must handle it)", at, v)
				}
			}
		}
	}
	if sent {
		c.bounds(at, o, n)
	}

	oreq, nreq := stringSet(o["required"]), stringSet(n["required"])
	oprops, _ := o["properties"].(map[string]any)
	nprops, _ := n["properties"].(map[string]any)
	for _, p := range sortedKeys(oprops) {
		np, ok := nprops[p]
		if !ok {
			c.breaking("%s: field %s removed", at, p)
			continue
		}
		if received && oreq[p] && !nreq[p] {
			c.breaking("%s: field %s no longer required (clients may rely on it)", at, p)
		}
		c.schema(at+"."+p, oprops[p], np, dirs, depth+1)
	}
	if sent {
		for _, p := range sortedKeys(nreq) {
			if !oreq[p] {
				c.breaking("%s: field %s newly required", at, p)
			}
		}
	}
	if oi, ok := o["items"]; ok {
		c.schema(at+"[]", oi, n["items"], dirs, depth+1)
	}
	for _, k := range []string{"oneOf", "anyOf", "allOf"} {
		if !equalJSON(o[k], n[k]) {
			c.warning("%s: %s changed (not compared in depth)", at, k)
		}
	}
}

// bounds reports tighter bounds on a value clients send.
func (c *asyncCompare) bounds(at string, o, n map[string]any) {
	tighter := func(key string, lower bool) {
		nv, ok := number(n[key])
		if !ok {
			return
		}
		ov, had := number(o[key])
		switch {
		case !had:
			c.breaking("%s: %s %v added", at, key, n[key])
		case lower && nv > ov, !lower && nv < ov:
			c.breaking("%s: %s tightened from %v to %v", at, key, o[key], n[key])
		}
	}
	tighter("maxLength", false)
	tighter("maximum", false)
	tighter("maxItems", false)
	tighter("minLength", true)
	tighter("minimum", true)
	tighter("minItems", true)
	if np, ok := n["pattern"]; ok && !equalJSON(o["pattern"], np) {
		c.breaking("%s: pattern changed to %v", at, np)
	}
}

func typeSet(v any) map[string]bool {
	out := map[string]bool{}
	switch t := v.(type) {
	case string:
		out[t] = true
	case []any:
		for _, x := range t {
			out[fmt.Sprint(x)] = true
		}
	}
	return out
}

func stringSet(v any) map[string]bool {
	out := map[string]bool{}
	list, _ := v.([]any)
	for _, x := range list {
		out[fmt.Sprint(x)] = true
	}
	return out
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func containsJSON(list []any, v any) bool {
	return slices.ContainsFunc(list, func(x any) bool { return equalJSON(x, v) })
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}
