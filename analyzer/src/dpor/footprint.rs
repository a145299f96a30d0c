//! Footprints of *atomic steps*: a step made of several events that no
//! other actor can come between (the code of an asyncio task between two
//! suspension points). DPOR treats such a step as one transition: it
//! depends on another step when any of its parts does.
//!
//! A step's parts are interned once per exploration (the same set of parts
//! gets the same id in every execution), so that its `Op` stays `Copy`,
//! compares as an integer in sleep sets and wakeup trees, and a replayed
//! step that touched the same things compares equal.

use std::collections::HashMap;

use racetrace_formats::{Event, Tables};

use super::op::{dependent, reversible, Cell, Op};

/// The interned footprints of the atomic steps of one exploration.
#[derive(Default)]
pub(crate) struct Footprints {
    parts: Vec<Op>,
    ranges: Vec<(u32, u32)>,
    index: HashMap<Box<[Op]>, u32>,
    scratch: Vec<Op>,
}

impl Footprints {
    /// The parts of footprint `id` (sorted, without duplicates, without
    /// parts that touch only the actor's own state).
    #[inline]
    pub fn parts(&self, id: u32) -> &[Op] {
        let (start, end) = self.ranges[id as usize];
        &self.parts[start as usize..end as usize]
    }

    /// The footprint of the events of one atomic step of `actor`: a plain
    /// `Op` when one part (or none) matters, else a `Cell::Steps` op whose
    /// parts are interned. Allocates only the first time a footprint is
    /// seen.
    pub fn of_step(&mut self, actor: u32, events: &[Event], tables: &Tables) -> Op {
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        s.extend(
            events
                .iter()
                .map(|e| Op::of(e, tables))
                .filter(|o| o.cell != Cell::Local),
        );
        s.sort_unstable();
        s.dedup();
        let op = match s.len() {
            0 => Op::step(actor, Cell::Local),
            1 => s[0],
            _ => {
                let id = match self.index.get(&s[..]) {
                    Some(&id) => id,
                    None => {
                        let id = self.ranges.len() as u32;
                        let start = self.parts.len() as u32;
                        self.parts.extend_from_slice(&s);
                        self.ranges.push((start, self.parts.len() as u32));
                        self.index.insert(s.clone().into_boxed_slice(), id);
                        id
                    }
                };
                Op::step(actor, Cell::Steps(id))
            }
        };
        self.scratch = s;
        op
    }

    /// The parts of `op`: itself for a plain operation.
    #[inline]
    pub fn split<'a>(&'a self, op: &'a Op) -> &'a [Op] {
        match op.cell {
            Cell::Steps(id) => self.parts(id),
            _ => std::slice::from_ref(op),
        }
    }
}

/// [`dependent`] for operations that may be atomic steps of several parts
/// (`Cell::Steps`): dependent when any two of their parts are.
#[inline]
pub(crate) fn dependent_in(fp: &Footprints, a: &Op, b: &Op) -> bool {
    match (a.cell, b.cell) {
        (Cell::Steps(_), _) => fp.split(a).iter().any(|p| dependent_in(fp, p, b)),
        (_, Cell::Steps(_)) => fp.split(b).iter().any(|q| dependent(a, q)),
        _ => dependent(a, b),
    }
}

/// [`reversible`] for operations that may be atomic steps. An atomic step
/// waits for nothing inside it (a task that waits is not ready: what
/// readied it is its *waker*, which the explorer orders before it), so a
/// race with it is reversible unless the earlier operation created its
/// actor. A plain later operation that a step's part enabled (a release
/// before an acquire) is judged part by part, taking the resource as free
/// (see `Execution::races_of`).
#[inline]
pub(crate) fn reversible_in(fp: &Footprints, earlier: &Op, avail_before: bool, later: &Op) -> bool {
    match (earlier.cell, later.cell) {
        (Cell::Steps(_), Cell::Steps(_)) | (_, Cell::Steps(_)) => !fp
            .split(earlier)
            .iter()
            .any(|p| p.creates() && p.cell == Cell::Actor(later.actor)),
        (Cell::Steps(_), _) => fp
            .split(earlier)
            .iter()
            .filter(|p| dependent(p, later))
            .all(|p| reversible(p, true, later)),
        _ => reversible(earlier, avail_before, later),
    }
}

/// Whether `later` may read something `earlier` writes: a part of
/// `later` dependent on a write of `earlier` (an operation on a
/// synchronization object or an actor counts as both). Any kind of part of
/// `later` counts: a recorded write may read too (`dict.pop`, `list.pop`,
/// `del d[k]` are writes that return or check a value). Then `later`, moved
/// before `earlier`, may see another value there and, being an atomic step
/// that branches on what it read, touch other things. Otherwise every value
/// it reads is the one it read where it ran (the steps between them that
/// it does not follow write nothing it reads), so it does exactly the same.
pub(crate) fn may_read_from(fp: &Footprints, later: &Op, earlier: &Op) -> bool {
    fp.split(earlier).iter().any(|q| {
        let writes = q.write || !matches!(q.cell, Cell::Key { .. });
        writes && fp.split(later).iter().any(|p| dependent(p, q))
    })
}
