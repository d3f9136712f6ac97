package rtc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"paradise/gen/ws"
	"paradise/internal/apperr"
	"paradise/internal/config"
	"paradise/internal/device"
	"paradise/internal/redisdb"
)

// Devices resolves devices and their owners (the device service).
type Devices interface {
	ResolveOwner(ctx context.Context, rawMAC string) (int, device.Owned, error)
	Get(ctx context.Context, id int) (device.Device, error)
}

// GroupSender sends frames to a user's group on every instance (the
// hub's Bus).
type GroupSender interface {
	SendToGroup(ctx context.Context, userID int, f ws.Frame) error
}

// Agent is the voice agent of a room.
type Agent struct {
	RoomID         string
	TaskID         string
	UserID         int
	MAC            string
	Mode           string
	State          string // starting or running
	ConversationID int    // 0 before the first turn
	StartedAt      time.Time
}

// Why an agent stopped (rtc_agent_state's reason).
const (
	StopRequested    = ws.RtcAgentStopReasonRequested
	StopDisconnected = ws.RtcAgentStopReasonDeviceDisconnected
	StopIdle         = ws.RtcAgentStopReasonIdle
	StopUnbound      = ws.RtcAgentStopReasonUnbound
	StopFailed       = ws.RtcAgentStopReasonFailed
)

// Agents runs the voice agents: at most one per room across all instances,
// held by the room's rtc_agent:{room} hash (the lock, expiring unless the
// agent is active), its task in rtc_task:{task} (room, owner and the hash
// of the task's LLM key, expiring with it), and rtc_agents (rooms by last
// activity) for the idle sweep.
type Agents struct {
	cfg     config.RTC
	vc      VoiceChat
	rdb     redis.Cmdable
	keys    redisdb.Keys
	devices Devices
	bus     GroupSender
	log     *zap.Logger
	now     func() time.Time
}

// NewAgents returns the agent lifecycle.
func NewAgents(cfg config.RTC, vc VoiceChat, rdb *redis.Client, keys redisdb.Keys, devices Devices, bus GroupSender, log *zap.Logger) *Agents {
	return &Agents{cfg: cfg, vc: vc, rdb: rdb, keys: keys, devices: devices, bus: bus, log: log.Named("rtc"), now: time.Now}
}

// lockTTL is how long an agent's state outlives its last activity: past
// the idle timeout, so the sweep stops it first; it only runs out on its
// own when every instance is gone.
func (a *Agents) lockTTL() time.Duration { return 2*a.cfg.AgentIdleTimeout + time.Minute }

var claimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'task_id', ARGV[3], 'user_id', ARGV[4], 'mac', ARGV[5], 'mode', ARGV[6],
  'started_at', ARGV[7], 'state', 'starting', 'conversation_id', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'room', ARGV[8], 'user_id', ARGV[4], 'mac', ARGV[5], 'key_hash', ARGV[9])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[8])
return {1, {}}
`)

var releaseScript = redis.NewScript(`
local t = redis.call('HGET', KEYS[1], 'task_id')
if not t or (ARGV[1] ~= '' and t ~= ARGV[1]) then
  redis.call('ZREM', KEYS[2], ARGV[3])
  return false
end
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1], ARGV[2] .. t)
redis.call('ZREM', KEYS[2], ARGV[3])
return all
`)

var touchScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'task_id') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'conversation_id', ARGV[5]) end
return 1
`)

// Start starts the agent in the owner's room talking with the device mac
// (normalised, checked by the caller to be the owner's). An agent already
// in the room is returned as it is, with created false.
func (a *Agents) Start(ctx context.Context, owner int, mac string, deviceID int) (agent Agent, created bool, err error) {
	if !a.cfg.AgentEnabled() {
		return Agent{}, false, errAgentNotConfigured()
	}
	room := RoomID(owner)
	taskID, key := randomHex(8), randomHex(24)
	now := a.now().UTC().Truncate(time.Second)
	res, err := claimScript.Run(ctx, a.rdb,
		[]string{a.keys.RTCAgent(room), a.keys.RTCTask(taskID), a.keys.RTCAgents()},
		a.lockTTL().Milliseconds(), now.UnixMilli(), taskID, owner, mac, a.cfg.AgentLLMMode,
		now.Format(time.RFC3339), room, hashKey(key)).Slice()
	if err != nil {
		return Agent{}, false, fmt.Errorf("rtc: claim room %s: %w", room, err)
	}
	if res[0].(int64) == 0 {
		return agentFrom(room, res[1]), false, nil
	}
	agent = Agent{RoomID: room, TaskID: taskID, UserID: owner, MAC: mac, Mode: a.cfg.AgentLLMMode, State: "starting", StartedAt: now}
	voice := a.cfg.TTSVoice
	if d, err := a.devices.Get(ctx, deviceID); err == nil && d.Type != nil && d.Type.Persona.Voice != "" {
		voice = d.Type.Persona.Voice
	}
	if err := a.vc.Call(ctx, ActionStart, a.startBody(agent, key, voice)); err != nil {
		a.release(context.WithoutCancel(ctx), room, taskID)
		a.log.Warn("Voice agent did not start", zap.String("room_id", room), zap.Error(err))
		return Agent{}, false, vendorError(err)
	}
	if err := a.rdb.HSet(ctx, a.keys.RTCAgent(room), "state", "running").Err(); err != nil {
		return Agent{}, false, fmt.Errorf("rtc: mark %s running: %w", room, err)
	}
	agent.State = "running"
	a.announce(ctx, agent, ws.RtcAgentStateNameRunning, "")
	return agent, true, nil
}

// Get returns the owner's room's agent.
func (a *Agents) Get(ctx context.Context, owner int) (Agent, error) {
	room := RoomID(owner)
	m, err := a.rdb.HGetAll(ctx, a.keys.RTCAgent(room)).Result()
	if err != nil {
		return Agent{}, fmt.Errorf("rtc: read agent of %s: %w", room, err)
	}
	if m["task_id"] == "" {
		return Agent{}, errNoAgent()
	}
	return agentFromMap(room, m), nil
}

// Stop stops the agent of the owner's room; onlyMAC, when set, stops it
// only if it talks with that device. The room is free at once; the voice
// service's error, if any, is returned after.
func (a *Agents) Stop(ctx context.Context, owner int, onlyMAC string, reason ws.RtcAgentStopReason) error {
	room := RoomID(owner)
	if onlyMAC != "" {
		cur, err := a.Get(ctx, owner)
		if err != nil || cur.MAC != onlyMAC {
			return err
		}
	}
	agent, ok, err := a.release(ctx, room, "")
	if err != nil {
		return err
	}
	if !ok {
		return errNoAgent()
	}
	return a.stopped(ctx, agent, reason)
}

// stopped stops a released agent at the voice service, then tells the
// group.
func (a *Agents) stopped(ctx context.Context, agent Agent, reason ws.RtcAgentStopReason) error {
	err := a.vc.Call(ctx, ActionStop, map[string]string{"AppId": a.cfg.AppID, "RoomId": agent.RoomID, "TaskId": agent.TaskID})
	a.announce(ctx, agent, ws.RtcAgentStateNameStopped, reason)
	if err != nil && !IsTaskGone(err) {
		a.log.Warn("Voice agent did not stop cleanly", zap.String("room_id", agent.RoomID), zap.Error(err))
		return vendorError(err)
	}
	return nil
}

// release frees the room if its agent is taskID's (any task when empty).
func (a *Agents) release(ctx context.Context, room, taskID string) (Agent, bool, error) {
	res, err := releaseScript.Run(ctx, a.rdb, []string{a.keys.RTCAgent(room), a.keys.RTCAgents()},
		taskID, a.keys.RTCTask(""), room).Slice()
	if errors.Is(err, redis.Nil) {
		return Agent{}, false, nil
	}
	if err != nil {
		return Agent{}, false, fmt.Errorf("rtc: release room %s: %w", room, err)
	}
	return agentFrom(room, res), true, nil
}

// Update sends an UpdateVoiceChat command to the owner's room's agent.
func (a *Agents) Update(ctx context.Context, owner int, command, message string, interruptMode int) error {
	agent, err := a.Get(ctx, owner)
	if err != nil {
		return err
	}
	body := map[string]any{"AppId": a.cfg.AppID, "RoomId": agent.RoomID, "TaskId": agent.TaskID, "Command": command}
	if message != "" {
		body["Message"] = message
	}
	if interruptMode != 0 {
		body["InterruptMode"] = interruptMode
	}
	if err := a.vc.Call(ctx, ActionUpdate, body); err != nil {
		return vendorError(err)
	}
	return nil
}

// Task is a running task as its LLM endpoint sees it.
type Task struct {
	TaskID string
	RoomID string
	UserID int
	MAC    string
}

// Authorize checks the task's LLM key: a wrong key, or a task that ended,
// is errTaskKey.
func (a *Agents) Authorize(ctx context.Context, taskID, key string) (Task, error) {
	if taskID == "" || key == "" {
		return Task{}, errTaskKey()
	}
	m, err := a.rdb.HGetAll(ctx, a.keys.RTCTask(taskID)).Result()
	if err != nil {
		return Task{}, fmt.Errorf("rtc: read task: %w", err)
	}
	want, _ := hex.DecodeString(m["key_hash"])
	got := sha256.Sum256([]byte(key))
	if len(want) != len(got) || subtle.ConstantTimeCompare(want, got[:]) != 1 {
		return Task{}, errTaskKey()
	}
	uid, _ := strconv.Atoi(m["user_id"])
	return Task{TaskID: taskID, RoomID: m["room"], UserID: uid, MAC: m["mac"]}, nil
}

// Touch records a turn of the task: the room is active, and the turns
// go to conversationID (0: unchanged).
func (a *Agents) Touch(ctx context.Context, t Task, conversationID int) error {
	conv := ""
	if conversationID > 0 {
		conv = strconv.Itoa(conversationID)
	}
	return touchScript.Run(ctx, a.rdb, []string{a.keys.RTCAgent(t.RoomID), a.keys.RTCTask(t.TaskID), a.keys.RTCAgents()},
		t.TaskID, a.lockTTL().Milliseconds(), a.now().UnixMilli(), t.RoomID, conv).Err()
}

// ConversationOf returns the conversation the task's turns go to (0: none
// yet).
func (a *Agents) ConversationOf(ctx context.Context, t Task) (int, error) {
	v, err := a.rdb.HGet(ctx, a.keys.RTCAgent(t.RoomID), "conversation_id").Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("rtc: read conversation of %s: %w", t.RoomID, err)
	}
	n, _ := strconv.Atoi(v)
	return n, nil
}

// Sweep stops the agents whose room idled past the idle timeout and those
// whose device changed hands or was unbound; it returns how many stopped.
// Every instance sweeps; the release is atomic, so each agent is stopped
// once.
func (a *Agents) Sweep(ctx context.Context) (int, error) {
	rooms, err := a.rdb.ZRangeWithScores(ctx, a.keys.RTCAgents(), 0, -1).Result()
	if err != nil {
		return 0, fmt.Errorf("rtc: list agents: %w", err)
	}
	idleBefore := a.now().Add(-a.cfg.AgentIdleTimeout).UnixMilli()
	stopped := 0
	for _, z := range rooms {
		room, _ := z.Member.(string)
		m, err := a.rdb.HGetAll(ctx, a.keys.RTCAgent(room)).Result()
		if err != nil {
			return stopped, fmt.Errorf("rtc: read agent of %s: %w", room, err)
		}
		reason := ws.RtcAgentStopReason("")
		switch {
		case m["task_id"] == "":
			a.rdb.ZRem(ctx, a.keys.RTCAgents(), room)
			continue
		case int64(z.Score) < idleBefore:
			reason = StopIdle
		default:
			owner, _, err := a.devices.ResolveOwner(ctx, m["mac"])
			var ae *apperr.Error
			if errors.As(err, &ae) && ae.Code == apperr.CodeDeviceNotBound || err == nil && strconv.Itoa(owner) != m["user_id"] {
				reason = StopUnbound
			} else if err != nil {
				return stopped, err
			}
		}
		if reason == "" {
			continue
		}
		agent, ok, err := a.release(ctx, room, m["task_id"])
		if err != nil {
			return stopped, err
		}
		if ok {
			stopped++
			_ = a.stopped(ctx, agent, reason)
		}
	}
	return stopped, nil
}

func (a *Agents) announce(ctx context.Context, agent Agent, state ws.RtcAgentStateName, reason ws.RtcAgentStopReason) {
	p := ws.RtcAgentStatePayload{RoomID: agent.RoomID, TaskID: agent.TaskID, State: state, MACAddress: agent.MAC}
	if reason != "" {
		p.Reason = ws.NewOptRtcAgentStopReason(reason)
	}
	if err := a.bus.SendToGroup(ctx, agent.UserID, ws.NewRtcAgentStateFrame(ws.RtcAgentState{Message: p})); err != nil {
		a.log.Warn("Could not announce the voice agent's state", zap.String("room_id", agent.RoomID), zap.Error(err))
	}
}

func agentFrom(room string, v any) Agent {
	list, _ := v.([]any)
	m := make(map[string]string, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		k, _ := list[i].(string)
		val, _ := list[i+1].(string)
		m[k] = val
	}
	return agentFromMap(room, m)
}

func agentFromMap(room string, m map[string]string) Agent {
	uid, _ := strconv.Atoi(m["user_id"])
	conv, _ := strconv.Atoi(m["conversation_id"])
	started, _ := time.Parse(time.RFC3339, m["started_at"])
	return Agent{RoomID: room, TaskID: m["task_id"], UserID: uid, MAC: m["mac"], Mode: m["mode"],
		State: m["state"], ConversationID: conv, StartedAt: started}
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
