// Package rtc owns real-time voice rooms on Volcengine RTC: the room
// tokens devices and apps join with (AccessToken, cached per room), the
// cloud voice agent's lifecycle (StartVoiceChat, UpdateVoiceChat and
// StopVoiceChat over the signed Volcengine OpenAPI, one agent per room
// across instances), and the OpenAI-compatible endpoint the agent calls
// as its LLM, which runs the chat module.
//
// A user's room is room_{user_id}, the same user as the hub group
// device_{user_id}.
package rtc
