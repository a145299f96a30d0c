//! What each synchronization event means for happens-before, written once and
//! shared by the vector-clock tracker (`hb`) and the segment graph (`graph`),
//! so the two can never disagree about which edges exist.
//!
//! Every edge goes through a *channel*: the release side publishes into it,
//! the acquire side reads from it. Join-like edges (join, task await) read the
//! child's own state instead of a channel.

use racetrace_formats::{ActorId, Event, EventKind, ObjId};
use serde::Serialize;

use crate::fasthash::IdMap;

/// Why one point of the trace happens before another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// Consecutive segments of one actor.
    ProgramOrder,
    /// Lock or semaphore release → a later acquire of it.
    ReleaseAcquire,
    /// `Thread.start` → the child's first event.
    Spawn,
    /// The child's last event → `join` returning.
    Join,
    /// `Event.set` → a successful `Event.wait`.
    SetWait,
    /// `Condition.notify`/`notify_all` → a notified waiter waking.
    NotifyWake,
    /// `Queue.put` of an item → the `get` of that item.
    PutGet,
    /// Every arrival at a barrier generation → every departure from it.
    Barrier,
    /// Every `Queue.task_done` → a `Queue.join` of that queue returning.
    TaskDoneJoin,
    /// `create_task` → the task's first event.
    TaskCreate,
    /// The task's last event → an `await` of it returning.
    TaskAwait,
}

impl EdgeKind {
    pub fn name(self) -> &'static str {
        match self {
            EdgeKind::ProgramOrder => "program-order",
            EdgeKind::ReleaseAcquire => "release-acquire",
            EdgeKind::Spawn => "spawn",
            EdgeKind::Join => "join",
            EdgeKind::SetWait => "set-wait",
            EdgeKind::NotifyWake => "notify-wake",
            EdgeKind::PutGet => "put-get",
            EdgeKind::Barrier => "barrier",
            EdgeKind::TaskDoneJoin => "task-done-join",
            EdgeKind::TaskCreate => "task-create",
            EdgeKind::TaskAwait => "task-await",
        }
    }
}

/// Where a release publishes and an acquire reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Locks, semaphores, events and conditions: one channel per object.
    Object(ObjId),
    /// One generation of a barrier.
    Barrier { obj: ObjId, generation: u64 },
    /// One queue item, matched by its token; consumed by its `get`.
    Item { obj: ObjId, token: u64 },
    /// The creation of an actor, read by that actor's first event.
    Start(ActorId),
}

/// The happens-before effect of one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncEffect {
    /// No edge (accesses, yields, timeouts, task switches, …).
    None,
    /// Publish the actor's history into the channel.
    Release(Channel, EdgeKind),
    /// Take in the history published into the channel.
    Acquire(Channel, EdgeKind),
    /// Take in the history of a finished actor (join, await).
    JoinActor(ActorId, EdgeKind),
    /// Forget what the channel holds (`Event.clear`: a later wait returns
    /// because of a later `set`, not an earlier one).
    Reset(Channel),
}

impl SyncEffect {
    /// Acquire-like effects start a new segment of the HB graph.
    #[inline]
    pub fn is_acquire(self) -> bool {
        matches!(self, SyncEffect::Acquire(..) | SyncEffect::JoinActor(..))
    }
}

/// The effect of `ev` (not counting the implicit `Start` acquire at an
/// actor's first event, which the callers handle since only they know which
/// actors they have seen).
#[inline]
pub fn effect(ev: &Event) -> SyncEffect {
    use EventKind::*;
    let obj = ObjId(ev.target);
    let actor = ActorId(ev.target);
    match ev.kind {
        Read | Write | IoRead | IoWrite => SyncEffect::None,
        LockAcquire => {
            // Re-entering an RLock the actor already holds receives nothing new.
            if ev.aux > 1 {
                SyncEffect::None
            } else {
                SyncEffect::Acquire(Channel::Object(obj), EdgeKind::ReleaseAcquire)
            }
        }
        LockRelease => {
            if ev.aux > 1 {
                SyncEffect::None
            } else {
                SyncEffect::Release(Channel::Object(obj), EdgeKind::ReleaseAcquire)
            }
        }
        SemAcquire => SyncEffect::Acquire(Channel::Object(obj), EdgeKind::ReleaseAcquire),
        SemRelease => SyncEffect::Release(Channel::Object(obj), EdgeKind::ReleaseAcquire),
        EventSet => SyncEffect::Release(Channel::Object(obj), EdgeKind::SetWait),
        EventClear => SyncEffect::Reset(Channel::Object(obj)),
        EventWait => SyncEffect::Acquire(Channel::Object(obj), EdgeKind::SetWait),
        // Operations that gave up (a failed try, a timed-out wait) received
        // nothing from anyone.
        EventWaitTimeout | LockAcquireFail | SemAcquireFail | QueueGetFail | QueuePutFail
        | JoinTimeout => SyncEffect::None,
        // A check that saw the flag set follows the set, as a wait does.
        EventCheck => {
            if ev.aux == 1 {
                SyncEffect::Acquire(Channel::Object(obj), EdgeKind::SetWait)
            } else {
                SyncEffect::None
            }
        }
        QueueCheck => SyncEffect::None,
        // The condition's lock is released and re-taken around the wait;
        // those are recorded as lock events of their own.
        CondWait => SyncEffect::None,
        CondWake => {
            if ev.aux == 1 {
                SyncEffect::Acquire(Channel::Object(obj), EdgeKind::NotifyWake)
            } else {
                SyncEffect::None
            }
        }
        CondNotify | CondNotifyAll => {
            SyncEffect::Release(Channel::Object(obj), EdgeKind::NotifyWake)
        }
        BarrierArrive => SyncEffect::Release(
            Channel::Barrier {
                obj,
                generation: ev.aux,
            },
            EdgeKind::Barrier,
        ),
        BarrierLeave => SyncEffect::Acquire(
            Channel::Barrier {
                obj,
                generation: ev.aux,
            },
            EdgeKind::Barrier,
        ),
        BarrierAbort => SyncEffect::None,
        QueuePut => SyncEffect::Release(Channel::Item { obj, token: ev.aux }, EdgeKind::PutGet),
        QueueGet => SyncEffect::Acquire(Channel::Item { obj, token: ev.aux }, EdgeKind::PutGet),
        // `join` returns once the count of unfinished items is zero, so it
        // follows every `task_done` before it (the channel accumulates).
        QueueTaskDone => SyncEffect::Release(Channel::Object(obj), EdgeKind::TaskDoneJoin),
        QueueJoin => SyncEffect::Acquire(Channel::Object(obj), EdgeKind::TaskDoneJoin),
        Spawn => SyncEffect::Release(Channel::Start(actor), EdgeKind::Spawn),
        TaskCreate => SyncEffect::Release(Channel::Start(actor), EdgeKind::TaskCreate),
        ActorStart | ActorExit | TaskSwitch | Yield => SyncEffect::None,
        Join => SyncEffect::JoinActor(actor, EdgeKind::Join),
        TaskAwait => SyncEffect::JoinActor(actor, EdgeKind::TaskAwait),
    }
}

/// What a channel holds: a vector clock for `hb`, source segments for
/// `graph`. Values are recycled, so the store never allocates in steady state.
pub trait ChannelValue: Default {
    fn reset(&mut self);
}

/// Channels by kind, each in the cheapest container for it: objects and actors
/// are dense ids (a `Vec`), barrier generations and queue items are sparse and
/// short-lived (a map, pruned as they are used up).
pub struct ChannelStore<V: ChannelValue> {
    objects: Vec<Option<V>>,
    starts: Vec<Option<V>>,
    barriers: IdMap<(u32, u64), V>,
    items: IdMap<(u32, u64), V>,
    /// Latest generation seen per barrier, to drop generations that are over.
    barrier_gen: IdMap<u32, u64>,
    spare: Vec<V>,
}

impl<V: ChannelValue> Default for ChannelStore<V> {
    fn default() -> Self {
        ChannelStore {
            objects: Vec::new(),
            starts: Vec::new(),
            barriers: IdMap::default(),
            items: IdMap::default(),
            barrier_gen: IdMap::default(),
            spare: Vec::new(),
        }
    }
}

fn slot<V>(v: &mut Vec<Option<V>>, i: usize) -> &mut Option<V> {
    if i >= v.len() {
        v.resize_with(i + 1, || None);
    }
    &mut v[i]
}

impl<V: ChannelValue> ChannelStore<V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh(spare: &mut Vec<V>) -> V {
        spare.pop().unwrap_or_default()
    }

    /// The channel's value for publishing into, created empty if needed.
    pub fn publish(&mut self, ch: Channel) -> &mut V {
        let spare = &mut self.spare;
        match ch {
            Channel::Object(o) => {
                slot(&mut self.objects, o.index()).get_or_insert_with(|| Self::fresh(spare))
            }
            Channel::Start(a) => {
                slot(&mut self.starts, a.index()).get_or_insert_with(|| Self::fresh(spare))
            }
            Channel::Barrier { obj, generation } => {
                // A barrier generation g+2 can only begin once every party has
                // left generation g, so older generations are finished.
                let latest = self.barrier_gen.entry(obj.0).or_insert(generation);
                if generation > *latest {
                    *latest = generation;
                    let keep_from = generation.saturating_sub(1);
                    let old: Vec<(u32, u64)> = self
                        .barriers
                        .keys()
                        .filter(|(o, g)| *o == obj.0 && *g < keep_from)
                        .copied()
                        .collect();
                    for k in old {
                        if let Some(mut v) = self.barriers.remove(&k) {
                            v.reset();
                            spare.push(v);
                        }
                    }
                }
                self.barriers
                    .entry((obj.0, generation))
                    .or_insert_with(|| Self::fresh(spare))
            }
            Channel::Item { obj, token } => self
                .items
                .entry((obj.0, token))
                .or_insert_with(|| Self::fresh(spare)),
        }
    }

    /// Reads the channel for an acquire; `f` sees `None` when nothing was
    /// published. A queue item is consumed by its `get`; everything else stays.
    pub fn acquire<R>(&mut self, ch: Channel, f: impl FnOnce(Option<&V>) -> R) -> R {
        match ch {
            Channel::Object(o) => f(self.objects.get(o.index()).and_then(Option::as_ref)),
            Channel::Start(a) => {
                // Only the child's first event reads its start: free it.
                let v = self.starts.get_mut(a.index()).and_then(Option::take);
                let r = f(v.as_ref());
                if let Some(mut v) = v {
                    v.reset();
                    self.spare.push(v);
                }
                r
            }
            Channel::Barrier { obj, generation } => f(self.barriers.get(&(obj.0, generation))),
            Channel::Item { obj, token } => {
                let v = self.items.remove(&(obj.0, token));
                let r = f(v.as_ref());
                if let Some(mut v) = v {
                    v.reset();
                    self.spare.push(v);
                }
                r
            }
        }
    }

    /// Empties the channel.
    pub fn reset(&mut self, ch: Channel) {
        if let Channel::Object(o) = ch {
            if let Some(Some(v)) = self.objects.get_mut(o.index()) {
                v.reset();
            }
        }
    }
}
