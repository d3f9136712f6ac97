package ratelimit_test

import (
	"context"
	"strconv"
	"time"

	"paradise/internal/apperr"
	"paradise/internal/ratelimit"
)

// Messages per day: count each chat message before answering it.
func ExampleDaily_Take() {
	var (
		ctx    context.Context
		daily  *ratelimit.Daily // injected by fx
		userID = 42
	)
	dec, err := daily.Take(ctx, "chat:messages:user:"+strconv.Itoa(userID), 1, 200)
	if err != nil {
		return // Redis down: return err, the envelope answers 503
	}
	if err := dec.Err("Daily message limit reached."); err != nil {
		return // a 429 with code 4291 and Retry-After until midnight UTC
	}
	// ... answer the message
}

// Tokens per day: check that budget is left, run the reply, count what it
// really cost.
func ExampleDaily_Add() {
	var (
		ctx   context.Context
		daily *ratelimit.Daily
		key   = "chat:tokens:user:42"
	)
	dec, err := daily.Check(ctx, key, 50_000)
	if err != nil {
		return
	}
	if err := dec.Err("Daily token budget used up."); err != nil {
		return
	}
	used := int64(1234) // from the finished LLM reply
	if _, err := daily.Add(ctx, key, used); err != nil {
		return // log it: the reply is already out
	}
}

// Concurrent streams per user: hold a slot while a reply streams.
func ExampleConcurrency_Acquire() {
	var (
		ctx     context.Context
		streams *ratelimit.Concurrency
	)
	lease, dec, err := streams.Acquire(ctx, "chat:streams:user:42", 2, time.Minute)
	if err != nil {
		return
	}
	if err := dec.Err("Too many replies streaming at once."); err != nil {
		return
	}
	defer lease.Release(context.WithoutCancel(ctx)) //nolint:errcheck // the lease runs out anyway
	stop := lease.KeepAlive(ctx, func(error) { /* log: the slot may be someone else's now */ })
	defer stop()
	// ... stream the reply
}

// Login attempts per IP: fail closed when Redis is down.
func ExampleLimiter_Allow() {
	var (
		ctx     context.Context
		limiter *ratelimit.Limiter
		ip      = "203.0.113.5"
	)
	dec, err := limiter.Allow(ctx, "login:ip:"+ip, ratelimit.PerMinute(10), 10)
	if err != nil {
		_ = apperr.DependencyDown() // 503: never let logins through unlimited
		return
	}
	if err := dec.Err("Too many login attempts; try again later."); err != nil {
		return
	}
	// ... check the password
}
