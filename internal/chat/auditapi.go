package chat

import "paradise/gen/api"

// Converters of the audit's domain types to the API's (the admin handler
// serves them).

// AuditConversationToAPI converts an audited conversation.
func AuditConversationToAPI(c AuditConversation) api.AuditConversation {
	out := api.AuditConversation{ID: c.ID, Owner: api.AuditOwner{ID: c.Owner.ID, Username: c.Owner.Username},
		Device: api.NilAuditDevice{Null: true}, Title: c.Title, MessageCount: c.Messages,
		LastMessageAt: api.NilDateTime{Null: true}, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if c.Device != nil {
		out.Device = api.NewNilAuditDevice(api.AuditDevice{ID: c.Device.ID, MACAddress: c.Device.MACAddress})
	}
	if c.LastAt != nil {
		out.LastMessageAt = api.NewNilDateTime(*c.LastAt)
	}
	return out
}

// UsageReportToAPI converts a usage report.
func UsageReportToAPI(r UsageReport) api.ChatUsageReport {
	out := api.ChatUsageReport{UserID: r.UserID, From: r.From, To: r.To, Days: make([]api.ChatUsageDay, len(r.Days)),
		Totals: api.ChatUsageFigures{Messages: r.Totals.Messages, Replies: r.Totals.Replies, PromptTokens: r.Totals.PromptTokens,
			CompletionTokens: r.Totals.CompletionTokens, TotalTokens: r.Totals.TotalTokens()},
		Today: api.ChatBudgetToday{Date: r.Today.Date, MessagesUsed: r.Today.MessagesUsed, MessagesLimit: r.Today.MessagesLimit,
			TokensUsed: r.Today.TokensUsed, TokensLimit: r.Today.TokensLimit,
			SpeechSecondsUsed: r.Today.SpeechSecondsUsed, SpeechSecondsLimit: r.Today.SpeechSecondsLimit}}
	for i, d := range r.Days {
		out.Days[i] = api.ChatUsageDay{Date: d.Date, Messages: d.Messages, Replies: d.Replies, PromptTokens: d.PromptTokens,
			CompletionTokens: d.CompletionTokens, TotalTokens: d.TotalTokens()}
	}
	return out
}
