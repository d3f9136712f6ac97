package rtc

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/gen/ws"
	"paradise/internal/apperr"
	"paradise/internal/hub"
	"paradise/internal/redisdb"
)

// Frames plugs the agents into the hub: the rtc_agent_start and
// rtc_agent_stop frames, and stopping a device's agent when the device
// leaves the hub.
type Frames struct {
	agents  *Agents
	devices Devices
	rdb     redis.Cmdable
	keys    redisdb.Keys
	log     *zap.Logger
}

// NewFrames returns the hub side of the agents.
func NewFrames(agents *Agents, devices Devices, rdb *redis.Client, keys redisdb.Keys, log *zap.Logger) *Frames {
	return &Frames{agents: agents, devices: devices, rdb: rdb, keys: keys, log: log.Named("rtc")}
}

// StartHandler handles rtc_agent_start.
func (f *Frames) StartHandler() hub.FrameHandler {
	return hub.FrameHandler{Type: ws.RtcAgentStartFrame, Consume: true, Handle: f.start}
}

// StopHandler handles rtc_agent_stop.
func (f *Frames) StopHandler() hub.FrameHandler {
	return hub.FrameHandler{Type: ws.RtcAgentStopFrame, Consume: true, Handle: f.stop}
}

// Hooks stop a device's agent when its session ends.
func (f *Frames) Hooks() hub.Hooks {
	return hub.Hooks{Name: "rtc", Disconnect: f.disconnect}
}

// The vendor call may take a while; the session's reader must not wait
// on it, so start and stop run on their own goroutine, bounded by this.
const frameCallTimeout = 30 * time.Second

// start checks the request on the reader (the caller's device, an agent
// to start at all), so refusals answer the frame in order; the voice
// service is called on a goroutine of its own.
func (f *Frames) start(ctx context.Context, s *hub.Session, fr *ws.Frame) error {
	mac, deviceID, err := CheckDevice(ctx, f.devices, s.UserID(), s.MAC(), fr.RtcAgentStart.Message.MACAddress.Or(""))
	if err == nil && !f.agents.cfg.AgentEnabled() {
		err = errAgentNotConfigured()
	}
	if err != nil {
		f.refuse(s, err)
		return nil
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), frameCallTimeout)
		defer cancel()
		agent, created, err := f.agents.Start(ctx, s.UserID(), mac, deviceID)
		if err != nil {
			f.refuse(s, err)
			return
		}
		// A new agent was announced to the group; one that already ran is
		// told to the sender.
		if !created {
			p := ws.RtcAgentStatePayload{RoomID: agent.RoomID, TaskID: agent.TaskID, State: ws.RtcAgentStateNameRunning, MACAddress: agent.MAC}
			_ = s.Send(ws.NewRtcAgentStateFrame(ws.RtcAgentState{Message: p}))
		}
	}()
	return nil
}

// stop checks on the reader that an agent runs; the voice service is
// called on a goroutine of its own.
func (f *Frames) stop(ctx context.Context, s *hub.Session, _ *ws.Frame) error {
	if _, err := f.agents.Get(ctx, s.UserID()); err != nil {
		f.refuse(s, err)
		return nil
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), frameCallTimeout)
		defer cancel()
		if err := f.agents.Stop(ctx, s.UserID(), "", StopRequested); err != nil {
			f.refuse(s, err)
		}
	}()
	return nil
}

func (f *Frames) refuse(s *hub.Session, err error) {
	p := ws.ErrorPayload{Code: ws.ErrorCodeInternalError, Detail: "Could not handle the voice agent request."}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		p.Detail = apperr.Truncate(ae.Bounded().Message, 1000)
		switch {
		case ae.Status == http.StatusNotFound || ae.Status == http.StatusForbidden:
			p.Code = ws.ErrorCodeNotFound
		case ae.Status >= 500:
			p.Code = ws.ErrorCodeUnavailable
			if ae.RetryAfter > 0 {
				p.RetryAfter = ws.NewOptInt(int((ae.RetryAfter + time.Second - 1) / time.Second))
			}
		default:
			p.Code = ws.ErrorCodeInvalidPayload
		}
	} else {
		s.Logger().Error("Voice agent request failed", zap.Error(err))
	}
	if err := s.Send(ws.NewErrorFrame(ws.Error{Message: p})); err != nil {
		s.Logger().Debug("Could not send the voice agent error", zap.Error(err))
	}
}

// disconnect stops the agent talking with a device whose session ended,
// unless a newer session of the device took over (device:conn:{mac} names
// another session: the device only reconnected).
func (f *Frames) disconnect(ctx context.Context, s *hub.Session) {
	if !s.IsDevice() {
		return
	}
	conn, err := f.rdb.Get(ctx, f.keys.DeviceConn(s.MAC())).Result()
	if err == nil && !strings.HasSuffix(conn, "/"+s.ID()) {
		return
	}
	err = f.agents.Stop(ctx, s.UserID(), s.MAC(), StopDisconnected)
	var ae *apperr.Error
	if err != nil && !(errors.As(err, &ae) && ae.Code == apperr.CodeRTCNoAgent) {
		f.log.Warn("Could not stop the voice agent of a disconnected device", zap.Error(err))
	}
}

// Sweeper runs Agents.Sweep on every instance.
type Sweeper struct {
	agents   *Agents
	interval time.Duration
	log      *zap.Logger
	stop     chan struct{}
	done     sync.WaitGroup
}

// NewSweeper returns the sweeper, started and stopped with the app.
func NewSweeper(lc fx.Lifecycle, agents *Agents, log *zap.Logger) *Sweeper {
	s := &Sweeper{agents: agents, interval: min(max(agents.cfg.AgentIdleTimeout/4, time.Second), 15*time.Second),
		log: log.Named("rtc"), stop: make(chan struct{})}
	if agents.cfg.AgentEnabled() {
		lc.Append(fx.StartStopHook(s.start, s.shutdown))
	}
	return s
}

func (s *Sweeper) start() {
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), s.interval)
				if _, err := s.agents.Sweep(ctx); err != nil {
					s.log.Warn("Voice agent sweep failed", zap.Error(err))
				}
				cancel()
			}
		}
	}()
}

func (s *Sweeper) shutdown() {
	close(s.stop)
	s.done.Wait()
}
