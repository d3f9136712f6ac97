package llm

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
)

// DevName is the development provider's name in Final.Provider, metrics
// and logs.
const DevName = "development"

// Dev is the development provider: with no provider configured, `make
// run` still answers chat, with a canned reply derived from the last user
// message, streamed word by word at a talking pace. It is never used when
// a real provider is configured (see New).
type Dev struct {
	delay time.Duration
}

// NewDev returns the development provider pausing delay before each word.
func NewDev(delay time.Duration) *Dev { return &Dev{delay: delay} }

// Name is DevName.
func (d *Dev) Name() string { return DevName }

// DevReply is the text the development provider streams for req: the same
// request always gets the same reply.
func DevReply(req Request) string {
	said := strings.Join(strings.Fields(req.LastUser()), " ")
	if r := []rune(said); len(r) > 200 {
		said = string(r[:200]) + "…"
	}
	earlier := 0
	for _, m := range req.Messages {
		if m.Role != RoleSystem {
			earlier++
		}
	}
	if said != "" {
		earlier-- // the message being answered
	}
	var b strings.Builder
	b.WriteString("[development reply: no LLM provider is configured] ")
	if said == "" {
		b.WriteString("I am listening.")
	} else {
		fmt.Fprintf(&b, "You said: “%s”.", said)
	}
	fmt.Fprintf(&b, " This conversation has %d earlier messages.", earlier)
	return b.String()
}

// devWords splits a reply into the pieces streamed one at a time: a word
// with the space after it, or a single CJK character (Chinese has no
// spaces, and vendors stream it a character or two at a time).
func devWords(s string) []string {
	var words []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			cur.WriteRune(r)
			flush()
		case unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r):
			flush()
			cur.WriteRune(r)
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return words
}

// Stream returns after the first word, like a real provider.
func (d *Dev) Stream(ctx context.Context, req Request) (Stream, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	s := &devStream{d: d, ctx: ctx, promptTokens: estimatePrompt(req), start: time.Now(), words: devWords(DevReply(req)), finish: "stop"}
	if req.MaxTokens > 0 && len(s.words) > req.MaxTokens {
		s.words, s.finish = s.words[:req.MaxTokens], "length"
	}
	if err := s.pause(); err != nil {
		return nil, err
	}
	s.first = time.Since(s.start)
	return s, nil
}

type devStream struct {
	d   *Dev
	ctx context.Context
	// promptTokens is the request's estimated prompt size (the request
	// itself is not kept while the reply streams).
	promptTokens int
	start        time.Time
	first        time.Duration
	words        []string
	next         int
	finish       string
	sent         strings.Builder
	final        bool
}

// pause waits the pacing delay, or until ctx ends.
func (s *devStream) pause() error {
	if s.d.delay <= 0 {
		if s.ctx.Err() != nil {
			return &Error{Provider: DevName, Kind: KindCanceled, Err: context.Cause(s.ctx)}
		}
		return nil
	}
	t := time.NewTimer(s.d.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.ctx.Done():
		return &Error{Provider: DevName, Kind: KindCanceled, Err: context.Cause(s.ctx)}
	}
}

func (s *devStream) Recv() (Event, error) {
	if s.final {
		return Event{}, io.EOF
	}
	if s.next < len(s.words) {
		if s.next > 0 {
			if err := s.pause(); err != nil {
				return s.end(err), nil
			}
		}
		w := s.words[s.next]
		s.next++
		s.sent.WriteString(w)
		return Event{Delta: w}, nil
	}
	return s.end(nil), nil
}

func (s *devStream) end(err error) Event {
	s.final = true
	u := Usage{PromptTokens: s.promptTokens, CompletionTokens: estimateTokens(s.sent.String())}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	f := &Final{FinishReason: s.finish, Usage: u, Provider: DevName, Model: DevName,
		Latency: time.Since(s.start), TimeToFirstToken: s.first}
	if err != nil {
		f.CutShort, f.Err, f.FinishReason = true, err, FinishCutShort
	}
	return Event{Final: f}
}

func (s *devStream) Close() error {
	s.final = true
	return nil
}
