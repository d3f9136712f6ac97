package apifuzz

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"paradise/internal/fuzzkit"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// Credential is whose token a request carries.
type Credential string

const (
	// Anonymous requests carry no Authorization header.
	Anonymous Credential = ""
	// User is a token from a password login.
	User Credential = "user"
	// Device is a token from a MAC login (a user token marked as a device).
	Device Credential = "device"
	// Admin is a token from the admin login.
	Admin Credential = "admin"
)

// Request is one generated request.
type Request struct {
	Op *Operation
	// Case names what was generated: "in-spec #3", "example #0",
	// "body.nickname: nul", "query.page: 9223372036854775808", ...
	Case string
	// InSpec requests must be accepted (2xx) or refused with a status the
	// operation documents.
	InSpec bool
	// MustRefuse requests break the spec in a way the server has to notice:
	// a 2xx is a finding.
	MustRefuse bool
	Method     string
	// Target is the escaped path and query.
	Target      string
	Body        []byte
	HasBody     bool
	ContentType string
	// Cred is the credential the runner puts in Authorization, unless
	// Authorization is set explicitly in Header.
	Cred   Credential
	Header http.Header
}

// Hints supplies in-spec values the spec cannot know, such as ids of rows
// that exist; ok false means no hint for this name.
type Hints func(op *Operation, name string) (v any, ok bool)

// Gen generates requests from a seeded source: one seed always produces
// the same requests in the same order.
type Gen struct {
	r     *rand.Rand
	hints Hints
	regex map[string]*syntax.Regexp
}

// New returns a generator for seed.
func New(seed uint64, hints Hints) *Gen {
	if hints == nil {
		hints = func(*Operation, string) (any, bool) { return nil, false }
	}
	return &Gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), hints: hints, regex: map[string]*syntax.Regexp{}}
}

// variant is how an in-spec value is chosen.
type variant struct {
	length   int  // a len* kind, for strings and arrays
	class    int  // index into fuzzkit.CharClasses, or fuzzkit.MixedClass
	optional bool // include every optional property
	pick     int  // index into enums and number boundaries
	hint     bool // prefer hints over generated values
}

// sweepVariants cover every length boundary in every character class at
// least once, every enum value of up to eight values, and both with and
// without optional properties.
var sweepVariants = []variant{
	{length: fuzzkit.LenMax, class: 2, optional: true, pick: 0},
	{length: fuzzkit.LenMax, class: 3, optional: true, pick: 1},
	{length: fuzzkit.LenMax, class: 1, optional: true, pick: 2, hint: true},
	{length: fuzzkit.LenMax, class: 0, optional: false, pick: 3},
	{length: fuzzkit.LenMin, class: 0, optional: true, pick: 4, hint: true},
	{length: fuzzkit.LenMinPlus, class: 3, optional: true, pick: 5},
	{length: fuzzkit.LenMaxMinus, class: 2, optional: true, pick: 6, hint: true},
	{length: fuzzkit.LenRandom, class: fuzzkit.MixedClass, optional: true, pick: 7},
}

func (g *Gen) randomVariant() variant {
	return variant{
		length:   g.r.IntN(fuzzkit.NumLenKinds),
		class:    g.r.IntN(len(fuzzkit.CharClasses)+1) - 1,
		optional: g.r.IntN(2) == 0,
		pick:     g.r.IntN(16),
		hint:     g.r.IntN(3) == 0,
	}
}

// plan is a request under construction: an in-spec variant and at most
// one way of breaking it.
type plan struct {
	v          variant
	name       string
	mustRefuse bool
	// field and bad replace the body value at a field path ("nickname",
	// "interests[]"); bad returning omit drops the field.
	field string
	bad   func(s *openapi3.Schema) any
	// param and raw replace a parameter's escaped value.
	param string
	raw   string
	// query, when set, is appended to the query string as is.
	query string
	// body rewrites the encoded body; noBody sends none.
	body        func(good []byte) []byte
	noBody      bool
	extraBody   bool // a JSON body on an operation that takes none
	contentType *string
	header      func(h http.Header)
	cred        *Credential
}

type omitType struct{}

// omit is what a bad value function returns to drop the field.
var omit = omitType{}

// Sweep is the systematic part of a run: for every operation every
// in-spec variant, every spec example and every mutation of its fields,
// parameters and security; then every generic mutation (body, content
// type, headers, tokens) once, each on the next operation it applies to.
func (g *Gen) Sweep(ops []*Operation) []*Request {
	var out []*Request
	for _, op := range ops {
		for i, v := range sweepVariants {
			out = append(out, g.build(op, plan{v: v, name: fmt.Sprintf("in-spec #%d", i)}, true))
		}
		for i := range op.Examples {
			p := plan{v: sweepVariants[0], name: fmt.Sprintf("example #%d", i)}
			ex := op.Examples[i]
			p.body = func([]byte) []byte { return Encode(ex) }
			out = append(out, g.build(op, p, true))
		}
		for i, m := range g.mutations(op) {
			m.v = sweepVariants[i%len(sweepVariants)]
			out = append(out, g.build(op, m, false))
		}
	}
	type applicable struct {
		op *Operation
		p  plan
	}
	var names []string
	byName := map[string][]applicable{}
	for _, op := range ops {
		for _, m := range generic(op) {
			if _, seen := byName[m.name]; !seen {
				names = append(names, m.name)
			}
			byName[m.name] = append(byName[m.name], applicable{op, m})
		}
	}
	for i, name := range names {
		a := byName[name][i%len(byName[name])]
		a.p.v = sweepVariants[i%len(sweepVariants)]
		out = append(out, g.build(a.op, a.p, false))
	}
	return out
}

// Random is one random request to op: in spec about a third of the time,
// otherwise one random mutation of an in-spec request.
func (g *Gen) Random(op *Operation) *Request {
	v := g.randomVariant()
	if g.r.IntN(3) == 0 {
		return g.build(op, plan{v: v, name: "in-spec (random)"}, true)
	}
	muts := append(g.mutations(op), generic(op)...)
	m := muts[g.r.IntN(len(muts))]
	m.v = v
	return g.build(op, m, false)
}

// build turns a plan into a request.
func (g *Gen) build(op *Operation, p plan, inSpec bool) *Request {
	req := &Request{Op: op, Case: p.name, InSpec: inSpec, MustRefuse: p.mustRefuse, Method: op.Method, Header: http.Header{}}
	switch op.Security {
	case UserAuth:
		req.Cred = User
		if g.r.IntN(2) == 0 {
			req.Cred = Device
		}
	case AdminAuth:
		req.Cred = Admin
	}
	if p.cred != nil {
		req.Cred = *p.cred
	}

	pathValues := map[string]string{}
	var query []string
	for _, prm := range op.Params {
		var raw string
		switch {
		case p.param == prm.Name:
			raw = p.raw
		case prm.In == "query" && !prm.Required && !p.v.optional:
			continue
		default:
			raw = url.QueryEscape(paramString(g.value(op, prm.Schema, prm.Name, p.v, nil)))
		}
		if prm.In == "path" {
			pathValues[prm.Name] = raw
		} else {
			query = append(query, prm.Name+"="+raw)
		}
	}
	if p.query != "" {
		query = append(query, p.query)
	}
	req.Target = op.Expand(pathValues)
	if len(query) > 0 {
		req.Target += "?" + strings.Join(query, "&")
	}

	switch {
	case op.Body != nil && !p.noBody:
		body := Encode(g.value(op, op.Body, "", p.v, &p))
		if p.body != nil {
			body = p.body(body)
		}
		req.Body, req.HasBody, req.ContentType = body, true, "application/json"
	case op.RawBody && !p.noBody && !p.extraBody:
		// Raw audio: random bytes, a few kilobytes or none.
		body := make([]byte, g.r.IntN(8<<10))
		for i := range body {
			body[i] = byte(g.r.IntN(256))
		}
		req.Body, req.HasBody, req.ContentType = body, true, "application/octet-stream"
	case op.Body == nil && p.extraBody:
		req.Body, req.HasBody, req.ContentType = []byte(`{"unexpected":true}`), true, "application/json"
	case op.Body != nil && p.noBody:
		req.ContentType = "application/json"
	}
	if p.contentType != nil {
		req.ContentType = *p.contentType
	}
	if p.header != nil {
		p.header(req.Header)
	}
	return req
}

// paramString writes a generated parameter value as text.
func paramString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case Number:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}

// value generates an in-spec value for s at path, except at the plan's
// field, which gets the plan's bad value.
func (g *Gen) value(op *Operation, s *openapi3.Schema, path string, v variant, p *plan) any {
	if p != nil && p.field != "" && p.field == path {
		return p.bad(s)
	}
	if v.hint {
		if h, ok := g.hints(op, lastName(path)); ok {
			return h
		}
	}
	switch {
	case s.Type.Is("string"):
		return g.stringValue(s, v)
	case s.Type.Is("integer"):
		return g.intValue(s, v)
	case s.Type.Is("number"):
		return float64(g.intValue(s, v).(int64)) + 0.5
	case s.Type.Is("boolean"):
		return v.pick%2 == 0
	case s.Type.Is("array"):
		return g.arrayValue(op, s, path, v, p)
	case s.Type.Is("object") || len(s.Properties) > 0:
		return g.objectValue(op, s, path, v, p)
	default:
		panic(fmt.Sprintf("apifuzz: %s: schema at %q has no type the fuzzer knows", op.ID, path))
	}
}

func lastName(path string) string {
	path = strings.TrimSuffix(path, "[]")
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func maxLength(s *openapi3.Schema) int {
	if s.MaxLength == nil {
		return -1
	}
	return int(*s.MaxLength)
}

func (g *Gen) stringValue(s *openapi3.Schema, v variant) string {
	if len(s.Enum) > 0 {
		return fmt.Sprint(s.Enum[v.pick%len(s.Enum)])
	}
	n := fuzzkit.Bounds(g.r, int(s.MinLength), maxLength(s), v.length)
	if s.Pattern != "" {
		return g.patterned(s, n)
	}
	return fuzzkit.Chars(g.r, v.class, n)
}

// patterned is a string matching the schema's pattern and length limits,
// as close to n characters as the pattern allows.
func (g *Gen) patterned(s *openapi3.Schema, n int) string {
	re, ok := g.regex[s.Pattern]
	if !ok {
		var err error
		if re, err = syntax.Parse(s.Pattern, syntax.Perl); err != nil {
			panic(fmt.Sprintf("apifuzz: pattern %q: %v", s.Pattern, err))
		}
		g.regex[s.Pattern] = re
	}
	check := regexp.MustCompile(s.Pattern)
	lo, hi := int(s.MinLength), maxLength(s)
	want := n
	for range 100 {
		var b strings.Builder
		g.fromRegex(&b, re, want)
		out := b.String()
		l := utf8.RuneCountInString(out)
		if check.MatchString(out) && l >= lo && (hi < 0 || l <= hi) {
			return out
		}
		want = fuzzkit.Bounds(g.r, lo, hi, fuzzkit.LenRandom)
	}
	panic(fmt.Sprintf("apifuzz: cannot generate a string of %d-%d characters matching %q", lo, hi, s.Pattern))
}

// fromRegex writes a string the regular expression matches; unbounded
// repetitions take want characters, optional parts appear when want > 0.
func (g *Gen) fromRegex(b *strings.Builder, re *syntax.Regexp, want int) {
	switch re.Op {
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		b.WriteRune(g.classRune(re.Rune))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteRune('x')
	case syntax.OpCapture:
		g.fromRegex(b, re.Sub[0], want)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			g.fromRegex(b, sub, want)
		}
	case syntax.OpAlternate:
		g.fromRegex(b, re.Sub[g.r.IntN(len(re.Sub))], want)
	case syntax.OpQuest:
		if want > 0 {
			g.fromRegex(b, re.Sub[0], want)
		}
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
		lo, hi := 0, want
		if re.Op == syntax.OpPlus {
			lo = 1
		}
		if re.Op == syntax.OpRepeat {
			lo, hi = re.Min, re.Max
			if hi < 0 {
				hi = max(want, lo)
			}
		}
		count := min(max(want, lo), hi)
		for range count {
			g.fromRegex(b, re.Sub[0], 1)
		}
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText, syntax.OpEmptyMatch,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
	default:
		panic(fmt.Sprintf("apifuzz: regular expression operator %v not supported", re.Op))
	}
}

// classRune picks a rune from a character class given as ranges.
func (g *Gen) classRune(ranges []rune) rune {
	i := g.r.IntN(len(ranges)/2) * 2
	lo, hi := ranges[i], ranges[i+1]
	if hi > lo+0xffff {
		hi = lo + 0xffff
	}
	return lo + rune(g.r.IntN(int(hi-lo)+1))
}

// intRange is the schema's [minimum, maximum], int64-wide when unbounded.
func intRange(s *openapi3.Schema) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if s.Min != nil {
		lo = int64(*s.Min)
	}
	if s.Max != nil {
		hi = int64(*s.Max)
	}
	return lo, hi
}

func (g *Gen) intValue(s *openapi3.Schema, v variant) any {
	if len(s.Enum) > 0 {
		return s.Enum[v.pick%len(s.Enum)]
	}
	lo, hi := intRange(s)
	cands := []int64{lo, hi}
	if lo < hi {
		cands = append(cands, lo+1, hi-1)
	}
	for _, c := range []int64{0, 1, 100} {
		if c >= lo && c <= hi {
			cands = append(cands, c)
		}
	}
	if v.length == fuzzkit.LenRandom {
		// Uniform over the whole range: overflows hide in the middle too.
		span := uint64(hi - lo)
		if span == math.MaxUint64 {
			return int64(g.r.Uint64())
		}
		return lo + int64(g.r.Uint64N(span+1))
	}
	return cands[v.pick%len(cands)]
}

func (g *Gen) arrayValue(op *Operation, s *openapi3.Schema, path string, v variant, p *plan) any {
	hi := -1
	if s.MaxItems != nil {
		hi = int(*s.MaxItems)
	} else {
		hi = int(s.MinItems) + 3
	}
	n := fuzzkit.Bounds(g.r, int(s.MinItems), hi, v.length)
	if p != nil && p.field == path+"[]" && n == 0 {
		n = 1 // the mutated item has to exist
	}
	out := make([]any, 0, n)
	for i := range n {
		iv := v
		if iv.class != fuzzkit.MixedClass {
			iv.class = (v.class + i) % len(fuzzkit.CharClasses)
		}
		iv.pick = v.pick + i
		item := g.value(op, s.Items.Value, path+"[]", iv, p)
		if item == omit {
			continue
		}
		out = append(out, item)
		if p != nil && p.field == path+"[]" {
			p = nil // mutate one item; the others stay in spec
		}
	}
	return out
}

func (g *Gen) objectValue(op *Operation, s *openapi3.Schema, path string, v variant, p *plan) any {
	if len(s.Properties) == 0 {
		// A free-form object: a few members of every JSON type.
		return Object{
			{Key: "text", Value: fuzzkit.Chars(g.r, v.class, 1+g.r.IntN(8))},
			{Key: "number", Value: int64(g.r.IntN(1000))},
			{Key: "flag", Value: v.pick%2 == 0},
		}
	}
	required := map[string]bool{}
	for _, name := range s.Required {
		required[name] = true
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	obj := Object{}
	for _, name := range names {
		sub := join(path, name)
		targeted := p != nil && p.field != "" && (p.field == sub || strings.HasPrefix(p.field, sub+".") || strings.HasPrefix(p.field, sub+"[]"))
		if !required[name] && !v.optional && !targeted {
			continue
		}
		val := g.value(op, s.Properties[name].Value, sub, v, p)
		if val == omit {
			continue
		}
		obj = append(obj, Member{Key: name, Value: val})
	}
	return obj
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
