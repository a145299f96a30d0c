//! The second pass of `explain`: the steps that matter, and what each
//! racing actor held and had last synchronized on at its access.
//!
//! The first pass found the findings and so the *anchors*: the events of
//! the most relevant one (the two racing accesses, or a lock-order cycle's
//! acquires) and the last access on the failing line. This pass keeps, in
//! one stream and bounded memory, the *relevant* events (accesses to the
//! raced key, synchronization of the racing actors, operations on the
//! cycle's locks) that lie within a few relevant events of an anchor, and
//! counts the ones in between that it leaves out.

use std::collections::VecDeque;

use racetrace_formats::{ActorId, Event, EventKind, FormatError, LocId, ObjId, Tables, TraceFile};
use serde::Serialize;

use crate::fasthash::{IdMap, IdSet};

/// Relevant events shown before and after each anchor.
pub const CONTEXT: usize = 8;

/// What makes an event relevant, and which events to look at closely.
#[derive(Default)]
pub struct Focus {
    /// Event indices that must be shown (sorted).
    pub anchors: Vec<u64>,
    /// Accesses to these keys are relevant.
    pub keys: IdSet<u32>,
    /// Accesses to any key of these objects are relevant.
    pub objects: IdSet<u32>,
    /// Synchronization by (or spawning, joining) these actors is relevant.
    pub actors: IdSet<u32>,
    /// Operations on these locks are relevant (by any actor).
    pub locks: IdSet<u32>,
    /// Events whose actor's state (locks held, last synchronization) is
    /// wanted.
    pub watch: Vec<u64>,
    /// After this event, the next access to `keys` by each of these actors
    /// is an anchor too: how each racing actor went on (the write that
    /// completes a lost update comes after the race's second access).
    pub follow: Option<(u64, Vec<u32>)>,
}

/// One step of the interleaving, as shown.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Position of the event in the trace.
    pub event: u64,
    pub actor: ActorId,
    pub actor_name: String,
    pub kind: &'static str,
    /// What it touched (`Counter.value`, `lock_a`, `T2 (worker)`).
    pub what: String,
    pub file: String,
    pub line: u32,
    pub function: String,
    /// `file:line`.
    pub location: String,
    /// The source line, when the file can be read.
    pub source: Option<String>,
    /// The line changed since the trace was recorded.
    pub changed: bool,
    /// One of the two accesses of the most relevant race (or an acquire of
    /// the most relevant lock cycle).
    pub highlighted: bool,
    /// Relevant steps left out just before this one.
    pub skipped_before: u64,
    /// The test this step belongs to, in a trace of a whole pytest run.
    pub test: Option<String>,
    /// The event itself (to find the happens-before edges among steps).
    #[serde(skip)]
    pub ev: Event,
}

/// A synchronization operation, as a point of reference.
#[derive(Clone, Debug, Serialize)]
pub struct SyncPoint {
    pub event: u64,
    pub kind: &'static str,
    pub what: String,
    pub location: String,
}

/// An actor's state at a watched event.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ActorState {
    /// Locks the actor held (names), innermost last.
    pub locks_held: Vec<String>,
    /// Its last synchronization operation before the event.
    pub last_sync: Option<SyncPoint>,
    /// Its next synchronization operation after the event.
    pub next_sync: Option<SyncPoint>,
}

/// A lost update seen on the focus keys: `reader` read the key, `other`
/// then wrote it, and `reader`'s next access to it was a write, of a
/// value computed before `other`'s write (which it overwrites).
#[derive(Clone, Debug, Serialize)]
pub struct LostUpdate {
    pub key: String,
    pub reader: String,
    pub read: u64,
    pub read_location: String,
    pub other: String,
    pub other_write: u64,
    pub stale_write: u64,
    pub stale_location: String,
}

/// What the pass found.
#[derive(Default)]
pub struct Window {
    pub steps: Vec<Step>,
    /// Relevant steps after the last one shown.
    pub skipped_after: u64,
    pub states: IdMap<u64, ActorState>,
    /// The first lost update on the focus keys, if any.
    pub lost_update: Option<LostUpdate>,
}

/// Per actor: its pending read of a focus key (event, key, location) and
/// the first write of that key by another actor since (event, actor).
type Pending = Vec<Option<((u64, u32, LocId), Option<(u64, ActorId)>)>>;

/// Follows reads and writes of the focus keys to find the first lost
/// update (in one pass, O(actors) per focus access).
fn watch_lost_update(
    tables: &Tables,
    pending: &mut Pending,
    index: u64,
    ev: &Event,
) -> Option<LostUpdate> {
    let a = ev.actor.index();
    if a >= pending.len() {
        pending.resize(a + 1, None);
    }
    if ev.kind.is_write() {
        // Another actor's pending read of this key is now stale.
        for (b, p) in pending.iter_mut().enumerate() {
            if let Some(((_, key, _), over @ None)) = p {
                if b != a && *key == ev.target {
                    *over = Some((index, ev.actor));
                }
            }
        }
        if let Some(((read, key, loc), over)) = pending[a].take() {
            if key == ev.target {
                if let Some((other_write, other)) = over {
                    return Some(LostUpdate {
                        key: tables.key_display(racetrace_formats::KeyId(key)),
                        reader: tables.actor_display(ev.actor),
                        read,
                        read_location: tables.loc_display(loc),
                        other: tables.actor_display(other),
                        other_write,
                        stale_write: index,
                        stale_location: tables.loc_display(ev.loc),
                    });
                }
            }
        }
    } else if pending[a].is_none() {
        pending[a] = Some(((index, ev.target, ev.loc), None));
    }
    None
}

fn is_sync(kind: EventKind) -> bool {
    !kind.is_access() && !matches!(kind, EventKind::Yield | EventKind::TaskSwitch)
}

fn sync_point(tables: &Tables, index: u64, ev: &Event) -> SyncPoint {
    SyncPoint {
        event: index,
        kind: ev.kind.name(),
        what: racetrace_formats::replay::target_text(tables, ev),
        location: tables.loc_display(ev.loc),
    }
}

impl Focus {
    fn relevant(&self, tables: &Tables, ev: &Event) -> bool {
        if ev.kind.is_access() {
            if self.keys.contains(&ev.target) {
                return true;
            }
            return !self.objects.is_empty()
                && tables
                    .keys
                    .get(ev.target as usize)
                    .is_some_and(|k| self.objects.contains(&k.obj.0));
        }
        if !is_sync(ev.kind) {
            return false;
        }
        if matches!(ev.kind, EventKind::LockAcquire | EventKind::LockRelease)
            && self.locks.contains(&ev.target)
        {
            return true;
        }
        if self.actors.contains(&ev.actor.0) {
            return true;
        }
        // Starting or joining one of the racing actors.
        matches!(
            ev.kind,
            EventKind::Spawn | EventKind::Join | EventKind::TaskCreate | EventKind::TaskAwait
        ) && self.actors.contains(&ev.target)
    }
}

/// Runs the pass. `tick` is called every 2^16 events with the count so far.
pub fn collect(
    trace: &TraceFile,
    focus: &Focus,
    tick: &mut dyn FnMut(u64),
) -> Result<Window, FormatError> {
    let tables = trace.tables();
    let mut out = Window::default();
    let mut ring: VecDeque<(u64, Event)> = VecDeque::with_capacity(CONTEXT + 1);
    let mut after = 0usize;
    let mut skipped = 0u64;
    let mut anchors = focus.anchors.iter().copied().peekable();
    let mut follow = focus.follow.clone();
    let mut pending: Pending = Vec::new();
    let mut watch: Vec<u64> = focus.watch.clone();
    watch.sort_unstable();
    watch.dedup();
    let mut watch_next = watch.iter().copied().peekable();
    // Per actor: locks held (object, depth counting), last sync point.
    let mut held: Vec<Vec<u32>> = Vec::new();
    let mut last_sync: Vec<Option<(u64, Event)>> = Vec::new();
    // Watched events waiting for their actor's next synchronization.
    let mut waiting_next: Vec<(u32, u64)> = Vec::new();
    let shown = |out: &mut Window, skipped: &mut u64, index: u64, ev: &Event| {
        out.steps.push(step(trace, tables, index, ev, *skipped));
        *skipped = 0;
    };
    for (i, ev) in trace.events().enumerate() {
        let ev = ev?;
        let index = i as u64;
        if index & 0xFFFF == 0 && index > 0 {
            tick(index);
        }
        let a = ev.actor.index();
        if a >= held.len() {
            held.resize_with(a + 1, Vec::new);
            last_sync.resize(a + 1, None);
        }
        // An actor's state at a watched event is the one before it.
        if watch_next.peek() == Some(&index) {
            watch_next.next();
            let state = ActorState {
                locks_held: held[a]
                    .iter()
                    .map(|&o| tables.object_display(ObjId(o)))
                    .collect(),
                last_sync: last_sync[a].map(|(j, e)| sync_point(tables, j, &e)),
                next_sync: None,
            };
            out.states.insert(index, state);
            waiting_next.push((ev.actor.0, index));
        }
        if is_sync(ev.kind) {
            if !waiting_next.is_empty() {
                let sp = sync_point(tables, index, &ev);
                waiting_next.retain(|&(actor, w)| {
                    if actor == ev.actor.0 && w != index {
                        if let Some(s) = out.states.get_mut(&w) {
                            s.next_sync = Some(sp.clone());
                        }
                        false
                    } else {
                        true
                    }
                });
            }
            match ev.kind {
                EventKind::LockAcquire if ev.aux <= 1 => held[a].push(ev.target),
                EventKind::LockRelease if ev.aux <= 1 => {
                    if let Some(p) = held[a].iter().rposition(|&o| o == ev.target) {
                        held[a].remove(p);
                    }
                }
                _ => {}
            }
            last_sync[a] = Some((index, ev));
        }
        if out.lost_update.is_none() && ev.kind.is_access() && focus.keys.contains(&ev.target) {
            out.lost_update = watch_lost_update(tables, &mut pending, index, &ev);
        }
        let mut is_anchor = anchors.peek() == Some(&index);
        if let Some((after, actors)) = &mut follow {
            if index > *after && ev.kind.is_access() && focus.keys.contains(&ev.target) {
                if let Some(p) = actors.iter().position(|&a| a == ev.actor.0) {
                    actors.swap_remove(p);
                    is_anchor = true;
                }
            }
        }
        if is_anchor {
            if anchors.peek() == Some(&index) {
                anchors.next();
            }
            for (j, e) in ring.drain(..) {
                shown(&mut out, &mut skipped, j, &e);
            }
            shown(&mut out, &mut skipped, index, &ev);
            after = CONTEXT;
            continue;
        }
        if !focus.relevant(tables, &ev) {
            continue;
        }
        if after > 0 {
            after -= 1;
            shown(&mut out, &mut skipped, index, &ev);
        } else {
            if ring.len() == CONTEXT {
                ring.pop_front();
                skipped += 1;
            }
            ring.push_back((index, ev));
        }
    }
    out.skipped_after = skipped + ring.len() as u64;
    Ok(out)
}

fn step(trace: &TraceFile, tables: &Tables, index: u64, ev: &Event, skipped: u64) -> Step {
    let (file, line, function) = loc_parts(tables, ev.loc);
    Step {
        event: index,
        actor: ev.actor,
        actor_name: tables.actor_display(ev.actor),
        kind: ev.kind.name(),
        what: racetrace_formats::replay::target_text(tables, ev),
        location: tables.loc_display(ev.loc),
        file,
        line,
        function,
        source: None,
        changed: false,
        highlighted: false,
        skipped_before: skipped,
        test: trace.mark_at(index).map(test_of_mark),
        ev: *ev,
    }
}

/// `test NODE_ID` marks name a test; other marks are shown as they are.
pub fn test_of_mark(label: &str) -> String {
    label.strip_prefix("test ").unwrap_or(label).to_string()
}

pub fn loc_parts(tables: &Tables, loc: LocId) -> (String, u32, String) {
    match tables.locs.get(loc.index()) {
        Some(l) => (
            tables.str(l.file).to_string(),
            l.line,
            tables.str(l.function).to_string(),
        ),
        None => ("<unknown>".to_string(), 0, String::new()),
    }
}
