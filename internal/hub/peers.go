package hub

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// An instance alone with a group relays its frames without Redis: Redis
// would only echo every frame back to the instance that sent it. Whether
// another instance has members of the group too is learnt through
// membership messages on the group's own channel, so they are ordered
// with the frames published there:
//
//   - joined: an instance's first member of the group arrived. It
//     subscribes first and, once Redis confirmed the subscription,
//     publishes joined and learns from PUBLISH how many subscribers heard
//     it. Each of them answers here (it has members) or absent (it has
//     none). The new member's session starts (its connected frame leaves)
//     only when every subscriber has answered and its own joined has come
//     back.
//     Whoever answered here has added the joiner to its peers before
//     answering, so it publishes every frame it relays from then on: a
//     member that is connected misses nothing a moment after joining.
//   - left: an instance's last member of the group left; it publishes left
//     before unsubscribing, and its peers stop publishing to it.
//
// What is not known is assumed shared, which costs only the publishing
// this saves: a join nobody answered in time (an instance of an older
// build, which does not answer, or a slow one), a join that could not be
// published (Redis down), and a group whose subscription Redis restored
// after a lost connection (joins and leaves may have been missed
// meanwhile) are published until the group empties on this instance. An
// instance that relays a frame through Redis is a member there, whatever
// was announced, and is added too. An older build joining after this
// instance announces nothing, which is why a cluster upgrading from one
// runs with config.Hub.LocalRelay off until none is left.

// Membership messages travel as group messages whose target starts with
// memberMark: no session has such a MAC, so an older build delivers them
// to nobody. The exclude field carries the join's id.
const memberMark = "\x00"

const (
	memberJoined = memberMark + "joined"
	memberHere   = memberMark + "here"
	memberAbsent = memberMark + "absent"
	memberLeft   = memberMark + "left"
)

// joinTimeout bounds how long a group's first member waits for the other
// instances to answer its join; after it the group is assumed shared.
const joinTimeout = time.Second

// peerState is what an instance knows about the other instances with
// members of one of its groups. It exists while the instance has members
// of the group, and is guarded by Hub.mu.
type peerState struct {
	// others are the instances known to have members too.
	others map[string]struct{}
	// unknown: membership cannot be known; every frame is published.
	unknown bool
	// subscribed: Redis has confirmed the group's subscription once; a
	// later confirmation is a subscription restored after a reconnect.
	subscribed bool

	// A pending join: its id ("" once settled), whether it came back, who
	// answered, and a signal for the waiting member.
	join     string
	echoed   bool
	answered map[string]struct{}
	progress chan struct{}
}

// shared reports whether frames relayed to the group must go through
// Redis.
func (p *peerState) shared() bool { return p.unknown || p.join != "" || len(p.others) > 0 }

// newPeerState is the state of a group whose first member just arrived on
// instance, with a join pending. Without local relaying
// (config.Hub.LocalRelay) the group counts as shared for good; the join
// still runs, so that instances which do relay locally learn of this
// one's members.
func newPeerState(instance string, localRelay bool) *peerState {
	return &peerState{
		unknown: !localRelay,
		// Unique across instances: answers go to every subscriber, and
		// one to another instance's join must not count for this one.
		join:     instance + "/" + strconv.FormatUint(joinSeq.Add(1), 36),
		answered: make(map[string]struct{}),
		progress: make(chan struct{}, 1),
	}
}

func (p *peerState) addPeer(instance string) {
	if p.others == nil {
		p.others = make(map[string]struct{}, 1)
	}
	p.others[instance] = struct{}{}
}

// notify wakes the member waiting on the pending join, if any.
func (p *peerState) notify() {
	select {
	case p.progress <- struct{}{}:
	default:
	}
}

// joinSeq numbers joins, which the answers quote.
var joinSeq atomic.Uint64

// links serialises, per group, this instance's joins and leaves, so a
// left and a later joined reach Redis in that order.
type links struct {
	mu sync.Mutex
	m  map[int]*link
}

type link struct {
	mu   sync.Mutex
	refs int
}

// lock takes the group's link and returns its release.
func (ls *links) lock(userID int) (unlock func()) {
	ls.mu.Lock()
	if ls.m == nil {
		ls.m = make(map[int]*link)
	}
	l := ls.m[userID]
	if l == nil {
		l = &link{}
		ls.m[userID] = l
	}
	l.refs++
	ls.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		ls.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(ls.m, userID)
		}
		ls.mu.Unlock()
	}
}

// joinGroup subscribes to a group that just got its first local member and
// announces it, waiting for the other instances' answers. The caller holds
// the group's link; ps is the group's new state, with its join pending.
func (h *Hub) joinGroup(ctx context.Context, userID int, ps *peerState) {
	settle := func(unknown bool) {
		h.mu.Lock()
		ps.join, ps.answered, ps.progress = "", nil, nil
		ps.unknown = ps.unknown || unknown
		h.mu.Unlock()
	}
	if err := h.broker.subscribe(ctx, userID); err != nil {
		h.outages.Report("subscribe", err)
		settle(true)
		return
	}
	h.mu.Lock()
	id, progress := ps.join, ps.progress
	h.mu.Unlock()
	timeout := time.NewTimer(joinTimeout)
	defer timeout.Stop()
	// wait waits until done holds (checked under h.mu) and reports
	// whether it did before the timeout.
	wait := func(done func() bool) bool {
		for {
			h.mu.Lock()
			ok := done()
			h.mu.Unlock()
			if ok {
				return true
			}
			select {
			case <-progress:
			case <-timeout.C:
				return false
			case <-ctx.Done():
				return false
			}
		}
	}
	// Announce only once Redis has confirmed the subscription: the
	// answers come on it, and the count of subscribers that heard the
	// join must include this instance.
	if !wait(func() bool { return ps.subscribed }) {
		h.log.Warn("Redis did not confirm a group subscription in time; relaying through Redis", zap.Int("user_id", userID))
		settle(true)
		return
	}
	heard, err := h.broker.announce(ctx, userID, memberJoined, id)
	if err != nil {
		h.outages.Report("publish", err)
		settle(true)
		return
	}
	// Every subscriber that heard the join answers, and this instance's
	// own join comes back to it.
	if !wait(func() bool { return ps.echoed && int64(len(ps.answered)) >= heard-1 }) {
		h.log.Warn("Instances did not answer a group join in time; relaying through Redis",
			zap.Int("user_id", userID), zap.Int64("subscribers", heard))
		settle(true)
		return
	}
	settle(false)
}

// leaveGroup tells the other instances that this one has no members of the
// group left, then unsubscribes. The caller holds the group's link.
func (h *Hub) leaveGroup(userID int) {
	ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
	defer cancel()
	if _, err := h.broker.announce(ctx, userID, memberLeft, ""); err != nil {
		// Peers go on publishing to this instance, which drops the frames.
		h.log.Warn("Announce leaving group", zap.Int("user_id", userID), zap.Error(err))
	}
	if err := h.broker.unsubscribe(ctx, userID); err != nil {
		h.log.Warn("Unsubscribe group", zap.Int("user_id", userID), zap.Error(err))
	}
}

// onMember handles a membership message from the group's channel
// (origin: the instance that sent it; join: the join it is about).
func (h *Hub) onMember(userID int, kind, origin, join string) {
	self := origin == h.instance
	h.mu.Lock()
	ps := h.peers[userID]
	switch kind {
	case memberJoined:
		if self {
			if ps != nil && ps.join != "" && ps.join == join {
				ps.echoed = true
				ps.notify()
			}
			break
		}
		answer := memberAbsent
		if ps != nil {
			// Before answering: from the answer on, every frame this
			// instance relays to the group reaches the joiner.
			ps.addPeer(origin)
			answer = memberHere
		}
		h.mu.Unlock()
		h.broker.publishMember(userID, answer, join)
		return
	case memberHere, memberAbsent:
		if self || ps == nil {
			break
		}
		if kind == memberHere {
			ps.addPeer(origin)
		}
		if ps.join != "" && ps.join == join {
			ps.answered[origin] = struct{}{}
			ps.notify()
		}
	case memberLeft:
		if !self && ps != nil {
			delete(ps.others, origin)
		}
	}
	h.mu.Unlock()
}

// onSubscribed handles Redis confirming a group's subscription. After the
// first, a confirmation means the connection was lost and the subscription
// restored: joins and leaves may have been missed meanwhile, so the group
// is published from now on, and this instance announces itself again for
// the peers that missed its join.
func (h *Hub) onSubscribed(userID int) {
	h.mu.Lock()
	ps := h.peers[userID]
	restored := ps != nil && ps.subscribed
	if ps != nil {
		ps.subscribed = true
		ps.unknown = ps.unknown || restored
		ps.notify()
	}
	h.mu.Unlock()
	if restored {
		h.broker.publishMember(userID, memberJoined, "")
	}
}

// learnPeer records that origin relayed a frame to the group through
// Redis: it has members of the group, announced or not.
func (h *Hub) learnPeer(userID int, origin string) {
	h.mu.Lock()
	if ps := h.peers[userID]; ps != nil {
		ps.addPeer(origin)
	}
	h.mu.Unlock()
}
