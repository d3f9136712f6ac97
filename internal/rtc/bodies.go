package rtc

// The StartVoiceChat body (vendors.md §2b; field names are the vendor's).

type startVoiceChat struct {
	AppID       string      `json:"AppId"`
	RoomID      string      `json:"RoomId"`
	TaskID      string      `json:"TaskId"`
	AgentConfig agentConfig `json:"AgentConfig"`
	Config      chatConfig  `json:"Config"`
}

type agentConfig struct {
	TargetUserID                    []string `json:"TargetUserId"`
	UserID                          string   `json:"UserId"`
	WelcomeMessage                  string   `json:"WelcomeMessage,omitempty"`
	EnableConversationStateCallback bool     `json:"EnableConversationStateCallback"`
}

type chatConfig struct {
	ASRConfig     asrConfig `json:"ASRConfig"`
	TTSConfig     ttsConfig `json:"TTSConfig"`
	LLMConfig     llmConfig `json:"LLMConfig"`
	InterruptMode int       `json:"InterruptMode"`
}

type asrConfig struct {
	Provider       string            `json:"Provider"`
	ProviderParams map[string]string `json:"ProviderParams"`
}

type ttsConfig struct {
	Provider       string         `json:"Provider"`
	ProviderParams map[string]any `json:"ProviderParams"`
}

type llmConfig struct {
	Mode       string `json:"Mode"`
	EndPointID string `json:"EndPointId,omitempty"`
	URL        string `json:"Url,omitempty"`
	APIKey     string `json:"APIKey,omitempty"`
	ModelName  string `json:"ModelName,omitempty"`
}

// AgentUserID is the agent's own RTC user id in the owner's room.
func AgentUserID(roomID string) string { return "agent_" + roomID }

// LLMPath is the path of a task's CustomLLM endpoint.
func LLMPath(taskID string) string { return "/api/rtc/agent/" + taskID + "/chat/completions/" }

func (a *Agents) startBody(agent Agent, key, voice string) startVoiceChat {
	llm := llmConfig{Mode: a.cfg.AgentLLMMode}
	if llm.Mode == "ArkV3" {
		llm.EndPointID = a.cfg.ArkEndpointID
	} else {
		llm.URL = a.cfg.PublicBaseURL + LLMPath(agent.TaskID)
		llm.APIKey = key
		llm.ModelName = "paradise"
	}
	tts := map[string]any{
		"app":   map[string]string{"appid": a.cfg.TTSAppID, "token": a.cfg.TTSToken, "cluster": a.cfg.TTSCluster},
		"audio": map[string]any{"voice_type": voice, "speed_ratio": 1, "pitch_ratio": 1, "volume_ratio": 1},
	}
	return startVoiceChat{
		AppID: a.cfg.AppID, RoomID: agent.RoomID, TaskID: agent.TaskID,
		AgentConfig: agentConfig{TargetUserID: []string{DeviceUserID(agent.MAC)}, UserID: AgentUserID(agent.RoomID),
			WelcomeMessage: a.cfg.WelcomeMessage, EnableConversationStateCallback: false},
		Config: chatConfig{
			ASRConfig: asrConfig{Provider: "volcano", ProviderParams: map[string]string{
				"Mode": "smallmodel", "AppId": a.cfg.ASRAppID, "Cluster": a.cfg.ASRCluster}},
			TTSConfig: ttsConfig{Provider: "volcano", ProviderParams: tts},
			LLMConfig: llm,
		},
	}
}
