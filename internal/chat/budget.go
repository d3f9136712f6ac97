package chat

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"paradise/internal/apperr"
)

// Business codes of chat budget refusals (HTTP 429).
const (
	CodeDailyMessages = 4291
	CodeDailyTokens   = 4292
	CodeStreams       = 4293
	// CodeDailySpeech refuses speech (recognition, synthesis, voice
	// turns) once the day's speech seconds are spent; the voice module's
	// code, counted here with the rest of the user's budget.
	CodeDailySpeech = 4026
)

// CodeModelUnavailable is the business code of a 503 when the model
// failed before producing any text.
const CodeModelUnavailable = 5033

// Budget enforces a user's chat limits across every instance. Each refusal
// is an *apperr.Error with HTTP status 429, a business code (CodeDaily...,
// CodeStreams) and RetryAfter set; any other error is the budget store
// failing.
type Budget interface {
	// TakeMessage counts one message against the user's day; it refuses
	// when the day's messages or tokens are spent.
	TakeMessage(ctx context.Context, userID int) error
	// AddTokens adds the tokens a reply used to the user's day.
	AddTokens(ctx context.Context, userID int, tokens int) error
	// AcquireStream takes one of the user's slots for a reply in progress;
	// release (safe to call more than once) gives it back.
	AcquireStream(ctx context.Context, userID int) (release func(), err error)
	// CheckSpeech refuses when the user's speech seconds of the day
	// (audio heard and spoken) are spent.
	CheckSpeech(ctx context.Context, userID int) error
	// AddSpeech adds seconds of audio heard or spoken to the user's day.
	AddSpeech(ctx context.Context, userID int, seconds int) error
	// Today reports the user's counters of the current UTC day and the
	// limits, for admins.
	Today(ctx context.Context, userID int) (BudgetToday, error)
}

// quotaError is a budget refusal.
func quotaError(code int, msg string, retryAfter time.Duration) *apperr.Error {
	return &apperr.Error{Status: http.StatusTooManyRequests, Code: code, Message: msg, RetryAfter: retryAfter}
}

// DailyMessagesExceeded is the refusal of a message over the daily limit.
func DailyMessagesExceeded(limit int, retryAfter time.Duration) *apperr.Error {
	return quotaError(CodeDailyMessages, fmt.Sprintf("Daily message limit reached (%d messages per day).", limit), retryAfter)
}

// DailyTokensExceeded is the refusal of a message once the day's tokens are spent.
func DailyTokensExceeded(limit int, retryAfter time.Duration) *apperr.Error {
	return quotaError(CodeDailyTokens, fmt.Sprintf("Daily token limit reached (%d tokens per day).", limit), retryAfter)
}

// StreamsExceeded is the refusal of a reply while too many are in progress.
func StreamsExceeded(limit int, retryAfter time.Duration) *apperr.Error {
	return quotaError(CodeStreams, fmt.Sprintf("Too many replies in progress (at most %d at once); wait for one to finish.", limit), retryAfter)
}

// DailySpeechExceeded is the refusal of speech once the day's seconds
// are spent.
func DailySpeechExceeded(limit int, retryAfter time.Duration) *apperr.Error {
	return quotaError(CodeDailySpeech, fmt.Sprintf("Daily speech limit reached (%d seconds per day).", limit), retryAfter)
}

// modelUnavailable is the answer when the model fails before any text.
func modelUnavailable(err error) *apperr.Error {
	return &apperr.Error{Status: http.StatusServiceUnavailable, Code: CodeModelUnavailable,
		Message: "The AI model is unavailable; try again shortly.", RetryAfter: 5 * time.Second, Err: err}
}
