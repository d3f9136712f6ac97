package chat

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"paradise/internal/config"
	"paradise/internal/ratelimit"
)

// limits is the Budget over internal/ratelimit, so every instance counts
// against the same numbers: messages, tokens and speech seconds per UTC
// day, and replies in progress as leased slots (a crashed instance's
// slots free themselves when their lease ends).
type limits struct {
	daily   *ratelimit.Daily
	streams *ratelimit.Concurrency
	cfg     config.Chat
	// speechPerDay is PARADISE_SPEECH_SECONDS_PER_DAY (0: no limit).
	speechPerDay int
}

// NewLimits returns the Budget for the configured limits.
func NewLimits(daily *ratelimit.Daily, streams *ratelimit.Concurrency, cfg config.Chat, speech config.Speech) Budget {
	return &limits{daily: daily, streams: streams, cfg: cfg, speechPerDay: speech.SecondsPerDay}
}

// streamLease bounds how long a reply in progress holds its slot if its
// instance dies before releasing it; longer than any reply takes.
const streamLease = 10 * time.Minute

// streamRetry is the Retry-After of a refused concurrent stream when the
// limiter gives none: replies take seconds.
const streamRetry = 2 * time.Second

func messagesKey(userID int) string { return "chat:messages:user:" + strconv.Itoa(userID) }
func tokensKey(userID int) string   { return "chat:tokens:user:" + strconv.Itoa(userID) }
func streamsKey(userID int) string  { return "chat:streams:user:" + strconv.Itoa(userID) }

// speechKey keeps the key the voice module counted speech seconds under,
// so a deploy does not reset the day's counts.
func speechKey(userID int) string { return "speech:seconds:user:" + strconv.Itoa(userID) }

// TakeMessage implements Budget: refused once the day's tokens are spent
// or its messages used up.
func (l *limits) TakeMessage(ctx context.Context, userID int) error {
	if l.cfg.TokensPerDay > 0 {
		dec, err := l.daily.Check(ctx, tokensKey(userID), int64(l.cfg.TokensPerDay))
		if err != nil {
			return fmt.Errorf("chat: token budget of user %d: %w", userID, err)
		}
		if !dec.Allowed {
			return DailyTokensExceeded(l.cfg.TokensPerDay, dec.RetryAfter)
		}
	}
	if l.cfg.MessagesPerDay > 0 {
		dec, err := l.daily.Take(ctx, messagesKey(userID), 1, int64(l.cfg.MessagesPerDay))
		if err != nil {
			return fmt.Errorf("chat: message budget of user %d: %w", userID, err)
		}
		if !dec.Allowed {
			return DailyMessagesExceeded(l.cfg.MessagesPerDay, dec.RetryAfter)
		}
	}
	return nil
}

// CheckSpeech implements Budget.
func (l *limits) CheckSpeech(ctx context.Context, userID int) error {
	if l.speechPerDay == 0 {
		return nil
	}
	dec, err := l.daily.Check(ctx, speechKey(userID), int64(l.speechPerDay))
	if err != nil {
		return fmt.Errorf("chat: speech budget of user %d: %w", userID, err)
	}
	if !dec.Allowed {
		return DailySpeechExceeded(l.speechPerDay, max(dec.RetryAfter, time.Second))
	}
	return nil
}

// AddSpeech implements Budget.
func (l *limits) AddSpeech(ctx context.Context, userID int, seconds int) error {
	if seconds <= 0 {
		return nil
	}
	if _, err := l.daily.Add(ctx, speechKey(userID), int64(seconds)); err != nil {
		return fmt.Errorf("chat: add speech seconds of user %d: %w", userID, err)
	}
	return nil
}

// AddTokens implements Budget.
func (l *limits) AddTokens(ctx context.Context, userID int, tokens int) error {
	if tokens <= 0 {
		return nil
	}
	if _, err := l.daily.Add(ctx, tokensKey(userID), int64(tokens)); err != nil {
		return fmt.Errorf("chat: add tokens of user %d: %w", userID, err)
	}
	return nil
}

// AcquireStream implements Budget.
func (l *limits) AcquireStream(ctx context.Context, userID int) (func(), error) {
	if l.cfg.ConcurrentStreams == 0 {
		return func() {}, nil
	}
	lease, dec, err := l.streams.Acquire(ctx, streamsKey(userID), int64(l.cfg.ConcurrentStreams), streamLease)
	if err != nil {
		return nil, fmt.Errorf("chat: acquire stream of user %d: %w", userID, err)
	}
	if !dec.Allowed {
		retry := dec.RetryAfter
		if retry <= 0 {
			retry = streamRetry
		}
		return nil, StreamsExceeded(l.cfg.ConcurrentStreams, retry)
	}
	return func() {
		// The request's context may be gone; the slot must come back.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = lease.Release(ctx)
	}, nil
}

// Today implements Budget.
func (l *limits) Today(ctx context.Context, userID int) (BudgetToday, error) {
	now := time.Now()
	start, _ := l.daily.Window(now)
	out := BudgetToday{Date: Day(start), MessagesLimit: l.cfg.MessagesPerDay, TokensLimit: l.cfg.TokensPerDay,
		SpeechSecondsLimit: l.speechPerDay}
	msgs, err := l.daily.Usage(ctx, messagesKey(userID), now)
	if err != nil {
		return out, fmt.Errorf("chat: message budget of user %d: %w", userID, err)
	}
	tokens, err := l.daily.Usage(ctx, tokensKey(userID), now)
	if err != nil {
		return out, fmt.Errorf("chat: token budget of user %d: %w", userID, err)
	}
	speech, err := l.daily.Usage(ctx, speechKey(userID), now)
	if err != nil {
		return out, fmt.Errorf("chat: speech budget of user %d: %w", userID, err)
	}
	out.MessagesUsed, out.TokensUsed, out.SpeechSecondsUsed = int(msgs), int(tokens), int(speech)
	return out, nil
}
