//! Happens-before by vector clocks.
//!
//! Each actor has a clock; each synchronization event either publishes the
//! actor's clock into a channel (release side) or joins a channel into it
//! (acquire side), as `sync::effect` decides. After a release the actor's own
//! entry advances, so accesses after it get an epoch the published clock does
//! not cover — the invariant FastTrack's O(1) epoch checks rely on.
//!
//! Memory is per actor, per live channel and per queue item in flight
//! (12 bytes each, see `items`), never per event.

use racetrace_formats::{ActorId, Event, EventKind};

use crate::clock::{Epoch, VClock};
use crate::items::ItemClocks;
use crate::sync::{self, Channel, ChannelStore, ChannelValue, SyncEffect};

impl ChannelValue for VClock {
    fn reset(&mut self) {
        self.clear();
    }
}

/// Streams events and keeps every actor's vector clock current.
#[derive(Default)]
pub struct HbTracker {
    clocks: Vec<VClock>,
    /// Whether the actor's first event was seen (it reads its `Start`).
    started: Vec<bool>,
    channels: ChannelStore<VClock>,
    /// Queue items in flight (kept apart: they are many, and share clocks).
    items: ItemClocks,
    /// Per actor: the event loop it runs on (a task, from its
    /// `TaskSwitch`; the loop's thread itself; see `joins_loop`), 0 for
    /// none.
    on_loop: Vec<u32>,
    /// Per loop (`on_loop - 1`): the actor that ran on it last.
    loop_last: Vec<Option<ActorId>>,
}

impl HbTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `ev` to the clocks and returns its effect. Call once per event,
    /// in trace order, *before* checking an access against `clock(ev.actor)`.
    #[inline]
    pub fn on_event(&mut self, ev: &Event) -> SyncEffect {
        let a = ev.actor.index();
        if a >= self.started.len() || !self.started[a] {
            self.first_event(ev.actor);
        }
        if ev.kind == EventKind::TaskSwitch {
            self.joins_loop(ev.actor, ev.aux);
        }
        if self.on_loop.get(a).is_some_and(|&l| l != 0) {
            self.loop_turn(ev.actor);
        }
        if ev.kind.is_access() {
            return SyncEffect::None;
        }
        let eff = sync::effect(ev);
        self.apply(ev.actor, eff);
        eff
    }

    /// A step of `task` begins on the loop of thread `aux - 1` (0: a loop
    /// not named, one for all such tasks): the task and that thread run on
    /// the loop. `on_loop` holds 1 for the loop not named, 2 + the thread
    /// for the others.
    fn joins_loop(&mut self, task: ActorId, aux: u64) {
        let (mark, thread) = match aux.checked_sub(1) {
            None => (1, None),
            Some(l) => (l as u32 + 2, Some(l as usize)),
        };
        for x in std::iter::once(task.index()).chain(thread) {
            if self.on_loop.len() <= x {
                self.on_loop.resize(x + 1, 0);
            }
            self.on_loop[x] = mark;
        }
    }

    /// `actor` runs on its loop next: after whatever ran there before it
    /// (a loop runs one task's step, or one of its callbacks, at a time, so
    /// tasks do not race; what an `await` lets happen in between is
    /// `awaits`' business).
    #[inline]
    fn loop_turn(&mut self, actor: ActorId) {
        let slot = (self.on_loop[actor.index()] - 1) as usize;
        if self.loop_last.len() <= slot {
            self.loop_last.resize(slot + 1, None);
        }
        let Some(prev) = self.loop_last[slot].replace(actor) else {
            return;
        };
        let (p, t) = (prev.index(), actor.index());
        if p == t || p >= self.clocks.len() || t >= self.clocks.len() {
            return;
        }
        // Both clocks at once, without a copy.
        let (before, mine) = if p < t {
            let (lo, hi) = self.clocks.split_at_mut(t);
            (&lo[p], &mut hi[0])
        } else {
            let (lo, hi) = self.clocks.split_at_mut(p);
            (&hi[0], &mut lo[t])
        };
        if mine.join(before) {
            self.items.invalidate(actor);
        }
        self.clocks[p].tick(prev.0);
    }

    fn apply(&mut self, actor: ActorId, eff: SyncEffect) {
        let a = actor.index();
        match eff {
            SyncEffect::None => {}
            SyncEffect::Release(Channel::Item { obj, token }, _) => {
                self.items.put(obj, token, actor, &self.clocks[a]);
                self.clocks[a].tick(actor.0);
            }
            SyncEffect::Release(ch, _) => {
                self.channels.publish(ch).join(&self.clocks[a]);
                self.clocks[a].tick(actor.0);
            }
            SyncEffect::Acquire(Channel::Item { obj, token }, _) => {
                if self.items.get(obj, token, &mut self.clocks[a]) {
                    self.items.invalidate(actor);
                }
            }
            SyncEffect::Acquire(ch, _) => {
                let mine = &mut self.clocks[a];
                let changed = self
                    .channels
                    .acquire(ch, |v| v.is_some_and(|v| mine.join(v)));
                // Only a clock that learnt something needs a new snapshot
                // for its next put (re-taking one's own lock changes nothing).
                if changed {
                    self.items.invalidate(actor);
                }
            }
            SyncEffect::JoinActor(child, _) => {
                let c = child.index();
                // The child has finished, so its current clock is its last one.
                if c != a && c < self.clocks.len() {
                    let (lo, hi) = self.clocks.split_at_mut(a.max(c));
                    let (mine, theirs) = if a < c {
                        (&mut lo[a], &hi[0])
                    } else {
                        (&mut hi[0], &lo[c])
                    };
                    if mine.join(theirs) {
                        self.items.invalidate(actor);
                    }
                }
            }
            SyncEffect::Reset(ch) => self.channels.reset(ch),
        }
    }

    #[cold]
    fn first_event(&mut self, actor: ActorId) {
        let a = actor.index();
        if a >= self.clocks.len() {
            self.clocks.resize_with(a + 1, VClock::new);
            self.started.resize(a + 1, false);
        }
        self.started[a] = true;
        // Own entry starts at 1 so that epoch 0 means "no access".
        self.clocks[a].set(actor.0, 1);
        let mine = &mut self.clocks[a];
        self.channels.acquire(Channel::Start(actor), |v| {
            if let Some(v) = v {
                mine.join(v);
            }
        });
        self.items.invalidate(actor);
    }

    /// The actor's current clock (empty for an actor not seen yet).
    #[inline]
    pub fn clock(&self, actor: ActorId) -> &VClock {
        static EMPTY: VClock = VClock::EMPTY;
        self.clocks.get(actor.index()).unwrap_or(&EMPTY)
    }

    /// The actor's current epoch.
    #[inline]
    pub fn epoch(&self, actor: ActorId) -> Epoch {
        Epoch::new(actor, self.clock(actor).get(actor.0))
    }

    /// Queue items put and not yet got.
    pub fn items_in_flight(&self) -> usize {
        self.items.len()
    }

    /// Clock snapshots those items share.
    pub fn item_snapshots(&self) -> usize {
        self.items.snapshots()
    }

    /// Number of actors seen so far.
    pub fn actors(&self) -> usize {
        self.clocks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use racetrace_formats::{EventKind, LocId};

    fn ev(actor: u32, kind: EventKind, target: u32, aux: u64) -> Event {
        Event {
            actor: ActorId(actor),
            kind,
            loc: LocId(0),
            target,
            aux,
        }
    }

    fn ordered(hb: &HbTracker, before: Epoch, after: ActorId) -> bool {
        before.hb(hb.clock(after))
    }

    #[test]
    fn lock_orders_release_before_acquire() {
        let mut hb = HbTracker::new();
        hb.on_event(&ev(0, EventKind::Write, 0, 0));
        hb.on_event(&ev(1, EventKind::Write, 0, 0));
        let w0 = hb.epoch(ActorId(0));
        hb.on_event(&ev(0, EventKind::LockAcquire, 5, 1));
        hb.on_event(&ev(0, EventKind::LockRelease, 5, 1));
        assert!(!ordered(&hb, w0, ActorId(1)));
        hb.on_event(&ev(1, EventKind::LockAcquire, 5, 1));
        assert!(ordered(&hb, w0, ActorId(1)));
        // After the release, actor 0 moved on: its new epoch is not covered.
        assert!(!ordered(&hb, hb.epoch(ActorId(0)), ActorId(1)));
    }

    #[test]
    fn rlock_reentry_is_not_an_edge() {
        let mut hb = HbTracker::new();
        hb.on_event(&ev(0, EventKind::LockAcquire, 5, 1));
        hb.on_event(&ev(0, EventKind::LockAcquire, 5, 2));
        hb.on_event(&ev(0, EventKind::Write, 0, 0));
        let w = hb.epoch(ActorId(0));
        // The inner release publishes nothing and does not advance the epoch.
        hb.on_event(&ev(0, EventKind::LockRelease, 5, 2));
        assert_eq!(hb.epoch(ActorId(0)), w);
        hb.on_event(&ev(0, EventKind::LockRelease, 5, 1));
        hb.on_event(&ev(1, EventKind::LockAcquire, 5, 1));
        assert!(ordered(&hb, w, ActorId(1)));
    }

    #[test]
    fn spawn_and_join() {
        let mut hb = HbTracker::new();
        hb.on_event(&ev(0, EventKind::Write, 0, 0));
        let before = hb.epoch(ActorId(0));
        hb.on_event(&ev(0, EventKind::Spawn, 1, 0));
        hb.on_event(&ev(1, EventKind::ActorStart, 1, 0));
        assert!(ordered(&hb, before, ActorId(1)));
        hb.on_event(&ev(1, EventKind::Write, 0, 0));
        let child = hb.epoch(ActorId(1));
        hb.on_event(&ev(1, EventKind::ActorExit, 1, 0));
        assert!(!ordered(&hb, child, ActorId(0)));
        hb.on_event(&ev(0, EventKind::Join, 1, 0));
        assert!(ordered(&hb, child, ActorId(0)));
    }

    #[test]
    fn event_clear_forgets_earlier_set() {
        let mut hb = HbTracker::new();
        hb.on_event(&ev(0, EventKind::Write, 0, 0));
        let w = hb.epoch(ActorId(0));
        hb.on_event(&ev(0, EventKind::EventSet, 3, 0));
        hb.on_event(&ev(2, EventKind::EventClear, 3, 0));
        hb.on_event(&ev(1, EventKind::EventWait, 3, 0));
        assert!(!ordered(&hb, w, ActorId(1)));
    }

    #[test]
    fn barrier_generation_orders_all_arrivals_before_leaves() {
        let mut hb = HbTracker::new();
        for a in 0..3 {
            hb.on_event(&ev(a, EventKind::Write, a, 0));
        }
        let epochs: Vec<Epoch> = (0..3).map(|a| hb.epoch(ActorId(a))).collect();
        for a in 0..3 {
            hb.on_event(&ev(a, EventKind::BarrierArrive, 9, 0));
        }
        for a in 0..3 {
            hb.on_event(&ev(a, EventKind::BarrierLeave, 9, 0));
        }
        for a in 0..3 {
            for e in &epochs {
                assert!(ordered(&hb, *e, ActorId(a)));
            }
        }
    }

    #[test]
    fn queue_item_token_matches_put_and_get() {
        let mut hb = HbTracker::new();
        hb.on_event(&ev(0, EventKind::Write, 0, 0));
        let w = hb.epoch(ActorId(0));
        hb.on_event(&ev(0, EventKind::QueuePut, 4, 7));
        hb.on_event(&ev(1, EventKind::QueueGet, 4, 8));
        assert!(!ordered(&hb, w, ActorId(1)));
        hb.on_event(&ev(2, EventKind::QueueGet, 4, 7));
        assert!(ordered(&hb, w, ActorId(2)));
    }
}
