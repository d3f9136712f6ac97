// Package fuzzkit holds what the spec-driven fuzzers (internal/apifuzz for
// REST, internal/hubfuzz for hub frames) share: their run settings from
// the environment, and boundary-length strings drawn from 1- to 4-byte
// UTF-8 characters.
package fuzzkit

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Settings are a fuzz run's seed and how long its random phase runs.
type Settings struct {
	// Seed seeds the generator; runs with the same seed send the same
	// inputs.
	Seed uint64
	// Budget bounds the random phase per backend.
	Budget time.Duration
	// Iterations caps the random phase's inputs per backend (0: none).
	Iterations int
}

// LoadSettings reads prefix_SEED (a number, or "random"; default 1),
// prefix_BUDGET (a duration; default 2s) and prefix_ITERATIONS, failing
// the test on a malformed value.
func LoadSettings(t testing.TB, prefix string) Settings {
	t.Helper()
	s := Settings{Seed: 1, Budget: 2 * time.Second}
	switch v := os.Getenv(prefix + "_SEED"); v {
	case "":
	case "random":
		s.Seed = uint64(time.Now().UnixNano())
	default:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s_SEED=%q: %v", prefix, v, err)
		}
		s.Seed = n
	}
	if v := os.Getenv(prefix + "_BUDGET"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s_BUDGET=%q: %v", prefix, v, err)
		}
		s.Budget = d
	}
	if v := os.Getenv(prefix + "_ITERATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s_ITERATIONS=%q: %v", prefix, v, err)
		}
		s.Iterations = n
	}
	return s
}

// CharClass is a set of characters of one UTF-8 width.
type CharClass struct {
	Name  string
	Chars []rune
}

// CharClasses are the character sets strings are built from: limits count
// characters, storage and wire formats count bytes, and the 1- to 4-byte
// classes tell the two apart.
var CharClasses = []CharClass{
	{"ascii", []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")},
	{"2-byte", []rune("éßñøçüÅЖжΩ")},
	{"3-byte", []rune("中文字符测试你好世界龙")},
	{"4-byte", []rune("😀🎉🚀🐱🌟🍣𝄞𠀀")},
}

// MixedClass picks every character's class at random.
const MixedClass = -1

// Length kinds: which boundary of a [min, max] range a value takes.
const (
	LenMin = iota
	LenMinPlus
	LenMaxMinus
	LenMax
	LenRandom
	NumLenKinds
)

// Bounds is the length of the kind in [minimum, maximum]; a negative
// maximum means none (minimum + 64 stands in).
func Bounds(r *rand.Rand, minimum, maximum, kind int) int {
	if maximum < 0 {
		maximum = minimum + 64
	}
	switch kind {
	case LenMin:
		return minimum
	case LenMinPlus:
		return min(minimum+1, maximum)
	case LenMaxMinus:
		return max(maximum-1, minimum)
	case LenMax:
		return maximum
	default:
		return minimum + r.IntN(maximum-minimum+1)
	}
}

// Chars is n characters of the class (an index into CharClasses, or
// MixedClass).
func Chars(r *rand.Rand, class, n int) string {
	var b strings.Builder
	for range n {
		c := class
		if c == MixedClass {
			c = r.IntN(len(CharClasses))
		}
		set := CharClasses[c].Chars
		b.WriteRune(set[r.IntN(len(set))])
	}
	return b.String()
}
