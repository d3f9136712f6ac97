package hubfuzz

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"paradise/internal/fuzzkit"
	"strconv"
	"strings"

	"paradise/internal/apifuzz"
)

// Frames are built from apifuzz's JSON values (apifuzz.Object, Number,
// Raw), which are written byte for byte: encoding/json would repair the
// invalid UTF-8 and lone surrogates the fuzzer wants to send.
type (
	object = apifuzz.Object
	member = apifuzz.Member
	number = apifuzz.Number
	raw    = apifuzz.Raw
)

// Outcome is what asyncapi.yaml says the hub does with a frame.
type Outcome int

const (
	// Relay: the frame is in the spec. It is relayed to the other members
	// of the group with the server's from (heartbeat: answered with
	// pong), and never answered with an error frame.
	Relay Outcome = iota
	// Refuse: the frame breaks the spec. It is answered with an error
	// frame whose code is one of Codes, is not relayed, and the session
	// stays open.
	Refuse
	// Either: the spec leaves it open (duplicate keys, an int written as
	// 1e2, free-form values nested deeper than a decoder goes). Relayed
	// or refused, not both, and the session stays open.
	Either
	// Close: the spec declares a close code for it (1007, 1009).
	Close
)

func (o Outcome) String() string {
	return [...]string{"relay", "refuse", "either", "close"}[o]
}

// Frame is one generated client frame.
type Frame struct {
	// Type is the message type the frame is built from; empty for
	// frame-level cases (not JSON, unknown types, ...).
	Type string
	// Case names what was generated: "in-spec #3", "message.text: NUL".
	Case   string
	Data   []byte
	Binary bool
	Want   Outcome
	// Codes are the error codes a refusal may carry (Want == Refuse).
	Codes []string
	// CloseCode is the close code the spec declares (Want == Close).
	CloseCode int
	// Message is the "message" the receiver of a relayed frame must get
	// (unknown members dropped); nil when not compared.
	Message any
}

// Error codes of asyncapi.yaml's ErrorCode enum the generator expects.
const (
	codeInvalidJSON    = "invalid_json"
	codeUnknownType    = "unknown_type"
	codeInvalidPayload = "invalid_payload"
	codeNotAllowed     = "not_allowed"
)

// Close codes of asyncapi.yaml's x-close-codes the generator expects.
const (
	closeInvalidUTF8 = 1007
	closeTooBig      = 1009
)

type variant struct {
	length   int
	class    int
	optional bool
	pick     int
}

// sweepVariants cover every length boundary in every character class,
// every enum value of up to eight values and each number boundary, with
// and without optional fields.
var sweepVariants = []variant{
	{length: fuzzkit.LenMax, class: 3, optional: true, pick: 0},
	{length: fuzzkit.LenMax, class: 2, optional: true, pick: 1},
	{length: fuzzkit.LenMax, class: 1, optional: false, pick: 2},
	{length: fuzzkit.LenMax, class: 0, optional: true, pick: 3},
	{length: fuzzkit.LenMin, class: 3, optional: true, pick: 4},
	{length: fuzzkit.LenMinPlus, class: 2, optional: false, pick: 5},
	{length: fuzzkit.LenMaxMinus, class: 3, optional: true, pick: 6},
	{length: fuzzkit.LenRandom, class: fuzzkit.MixedClass, optional: true, pick: 7},
}

// Gen generates frames from a seeded source: one seed always produces
// the same frames in the same order.
type Gen struct {
	r         *rand.Rand
	spec      *Spec
	readLimit int
}

// New returns a generator for seed; readLimit is the hub's read limit
// (PARADISE_WS_READ_LIMIT), which the size cases straddle.
func New(seed uint64, spec *Spec, readLimit int) *Gen {
	return &Gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), spec: spec, readLimit: readLimit}
}

// plan is a frame under construction: an in-spec variant and at most one
// way of breaking it.
type plan struct {
	v    variant
	name string
	want Outcome
	// codes for Refuse; closeCode for Close.
	codes     []string
	closeCode int
	// field is a path ("message.text"); bad returns its replacement, or
	// omit to drop it.
	field string
	bad   func(g *Gen, s *Schema) any
	// extra members appended to the frame object.
	extra []member
	// data rewrites the encoded frame.
	data func(good []byte) []byte
	// compare: whether the relayed message is compared with the sent one.
	compare bool
}

type omitType struct{}

var omit = omitType{}

// Sweep is the systematic part of a run: for every type a client may
// send every in-spec variant, every example and every mutation of every
// field; then every frame-level case once.
func (g *Gen) Sweep() []*Frame {
	var out []*Frame
	for _, typ := range g.spec.ClientTypes() {
		m := g.spec.Messages[typ]
		for i, v := range sweepVariants {
			out = append(out, g.build(m, plan{v: v, name: fmt.Sprintf("in-spec #%d", i), want: Relay, compare: true}))
		}
		for i, ex := range m.Examples {
			out = append(out, g.example(m, i, ex))
		}
		for i, p := range g.mutations(m) {
			p.v = sweepVariants[i%len(sweepVariants)]
			out = append(out, g.build(m, p))
		}
	}
	out = append(out, g.generic()...)
	return out
}

// Random is one random frame: in spec about a third of the time,
// otherwise one random mutation of an in-spec frame or a frame-level case.
func (g *Gen) Random() *Frame {
	types := g.spec.ClientTypes()
	m := g.spec.Messages[types[g.r.IntN(len(types))]]
	v := variant{length: g.r.IntN(fuzzkit.NumLenKinds), class: g.r.IntN(len(fuzzkit.CharClasses)+1) - 1, optional: g.r.IntN(2) == 0, pick: g.r.IntN(16)}
	switch g.r.IntN(6) {
	case 0, 1:
		return g.build(m, plan{v: v, name: "in-spec (random)", want: Relay, compare: true})
	case 2:
		gen := g.generic()
		return gen[g.r.IntN(len(gen))]
	default:
		muts := g.mutations(m)
		p := muts[g.r.IntN(len(muts))]
		p.v = v
		return g.build(m, p)
	}
}

func (g *Gen) example(m *Message, i int, ex []byte) *Frame {
	var frame struct {
		Message any `json:"message"`
	}
	_ = json.Unmarshal(ex, &frame)
	// Examples of relayed frames carry the server's from; a client's from
	// is overwritten, so they are in spec as they are.
	return &Frame{Type: m.Type, Case: fmt.Sprintf("example #%d", i), Data: ex, Want: Relay, Message: frame.Message}
}

// build turns a plan into a frame.
func (g *Gen) build(m *Message, p plan) *Frame {
	msg := g.value(m.Payload, "message", p.v, &p)
	frame := object{{Key: "type", Value: m.Type}}
	if msg != omit {
		frame = append(frame, member{Key: "message", Value: msg})
	}
	frame = append(frame, p.extra...)
	data := apifuzz.Encode(frame)
	if p.data != nil {
		data = p.data(data)
	}
	f := &Frame{Type: m.Type, Case: p.name, Data: data, Want: p.want, Codes: p.codes, CloseCode: p.closeCode}
	if p.want == Relay && p.compare {
		f.Message = decode(apifuzz.Encode(project(msg, m.Payload)))
	}
	return f
}

// decode is the JSON value of data, as the receiver compares it.
func decode(data []byte) any {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		panic(fmt.Sprintf("hubfuzz: in-spec value %q does not decode: %v", data, err))
	}
	return v
}

// project drops the members of v the schema does not declare: the hub
// ignores unknown members and does not relay them.
func project(v any, s *Schema) any {
	obj, ok := v.(object)
	if !ok || s == nil || s.FreeForm || len(s.Properties) == 0 {
		return v
	}
	out := object{}
	for _, m := range obj {
		if ps, ok := s.Properties[m.Key]; ok {
			out = append(out, member{Key: m.Key, Value: project(m.Value, ps)})
		}
	}
	return out
}

// value generates an in-spec value for s at path, except at the plan's
// field, which gets the plan's bad value.
func (g *Gen) value(s *Schema, path string, v variant, p *plan) any {
	if p != nil && p.field == path {
		return p.bad(g, s)
	}
	switch {
	case s.Const != nil:
		return *s.Const
	case len(s.Enum) > 0:
		return s.Enum[v.pick%len(s.Enum)]
	case s.Is("string"):
		return fuzzkit.Chars(g.r, v.class, fuzzkit.Bounds(g.r, s.MinLength, s.MaxLength, v.length))
	case s.Is("integer"):
		return g.intValue(s, v)
	case s.Is("number"):
		return g.numberValue(s, v)
	case s.Is("boolean"):
		return v.pick%2 == 0
	case s.Is("object") && s.FreeForm:
		return g.freeForm(v)
	case s.Is("object"):
		obj := object{}
		for _, name := range s.Names() {
			sub := path + "." + name
			targeted := p != nil && p.field != "" && (p.field == sub || strings.HasPrefix(p.field, sub+"."))
			if !s.IsRequired(name) && !v.optional && !targeted {
				continue
			}
			val := g.value(s.Properties[name], sub, v, p)
			if val == omit {
				continue
			}
			obj = append(obj, member{Key: name, Value: val})
		}
		return obj
	default:
		panic(fmt.Sprintf("hubfuzz: schema at %q has no type the generator knows: %v", path, s.Types))
	}
}

func intRange(s *Schema) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if s.Minimum != nil {
		lo = int64(*s.Minimum)
	}
	if s.Maximum != nil {
		hi = int64(*s.Maximum)
	}
	return lo, hi
}

func (g *Gen) intValue(s *Schema, v variant) any {
	lo, hi := intRange(s)
	if v.length == fuzzkit.LenRandom {
		span := uint64(hi - lo)
		if span == math.MaxUint64 {
			return int64(g.r.Uint64())
		}
		return lo + int64(g.r.Uint64N(span+1))
	}
	cands := []int64{lo, hi}
	if lo < hi {
		cands = append(cands, lo+1, hi-1)
	}
	for _, c := range []int64{0, 1, 50} {
		if c >= lo && c <= hi {
			cands = append(cands, c)
		}
	}
	return cands[v.pick%len(cands)]
}

// numberValue is a boundary, a fraction or an exponent form within the
// schema's range.
func (g *Gen) numberValue(s *Schema, v variant) any {
	lo, hi := -1e6, 1e6
	if s.Minimum != nil {
		lo = *s.Minimum
	}
	if s.Maximum != nil {
		hi = *s.Maximum
	}
	if v.length == fuzzkit.LenRandom {
		return lo + g.r.Float64()*(hi-lo)
	}
	cands := []any{lo, hi, lo + 0.5, hi - 0.25, 0.0, 1e-7,
		number(strconv.FormatFloat(hi, 'e', -1, 64)), // 1e+02
		number(strings.ToUpper(strconv.FormatFloat(lo, 'e', -1, 64))),
		number("-0"), number("0.000")}
	return cands[v.pick%len(cands)]
}

// freeForm is an object of any JSON values: every type, nested, and text
// in the variant's character class.
func (g *Gen) freeForm(v variant) any {
	obj := object{
		{Key: "text", Value: fuzzkit.Chars(g.r, v.class, 1+g.r.IntN(16))},
		{Key: "level", Value: int64(g.r.IntN(101))},
	}
	if v.optional {
		obj = append(obj,
			member{Key: "ratio", Value: 0.25},
			member{Key: "flag", Value: v.pick%2 == 0},
			member{Key: "none", Value: nil},
			member{Key: "list", Value: []any{int64(1), "二", []any{}, object{}}},
			member{Key: "nested", Value: object{{Key: "deeper", Value: object{{Key: fuzzkit.Chars(g.r, v.class, 3), Value: fuzzkit.Chars(g.r, 3, 2)}}}}},
			member{Key: "big", Value: number("12345678901234567890")},
		)
	}
	return obj
}
