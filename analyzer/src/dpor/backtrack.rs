//! Backtrack points of a recorded trace: the schedule prefixes that reverse
//! each of its reversible races. The same race and reversal code as the
//! explorer (`Execution::races_of`, `build_reversal`).

use racetrace_formats::{ActorId, Event, EventKind, LocId, Schedule, Tables};

use super::execution::{build_reversal, Execution};
use super::wakeup::Seq;

/// One reversible race of a trace and the schedule that reverses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backtrack {
    /// Index (from 0) of the earlier event of the race.
    pub first: usize,
    /// Index of the later event.
    pub second: usize,
    pub first_actor: ActorId,
    pub second_actor: ActorId,
    pub first_kind: EventKind,
    pub second_kind: EventKind,
    pub first_loc: LocId,
    pub second_loc: LocId,
    /// The schedule to force: the trace's steps before `first`, then the
    /// events after `first` that do not depend on it, then the later event's
    /// actor — after which `second`'s operation runs before `first`'s.
    pub prefix: Schedule,
}

/// Every reversible race of `events` (a complete recorded execution) with
/// the schedule prefix that reverses it, ordered by the later event, then
/// the earlier one.
pub fn backtrack_points(tables: &Tables, events: &[Event]) -> Vec<Backtrack> {
    let mut exec = Execution::default();
    exec.reset();
    for ev in events {
        // A trace does not say which waits were timed: as if none were.
        // The `aux` of its queue puts and gets is the item's token, not the
        // queue's length the explorer reads there: not known.
        let ev = match ev.kind {
            EventKind::QueuePut | EventKind::QueueGet => Event { aux: 0, ..*ev },
            _ => *ev,
        };
        exec.push(&ev, tables, false);
    }
    let mut out = Vec::new();
    let (mut pre, mut acc, mut races, mut notdep) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut seq = Seq::default();
    for j in 0..exec.len() {
        let r = exec.recs[j];
        pre.clear();
        if r.pre != super::op::NONE {
            pre.extend_from_slice(exec.clock(r.pre as usize));
        }
        exec.races_of(j, &r.op, &pre, &mut acc, &mut races);
        races.sort_unstable();
        for &i in &races {
            let i = i as usize;
            build_reversal(&exec, i, r.op, r.wake, &mut notdep, &mut seq);
            let mut steps: Vec<ActorId> = events[..i].iter().map(|e| e.actor).collect();
            steps.extend(notdep.iter().map(|&x| events[x as usize].actor));
            steps.push(r.ev.actor);
            let e = &exec.recs[i].ev;
            out.push(Backtrack {
                first: i,
                second: j,
                first_actor: e.actor,
                second_actor: r.ev.actor,
                first_kind: e.kind,
                second_kind: r.ev.kind,
                first_loc: e.loc,
                second_loc: r.ev.loc,
                prefix: Schedule::new(steps),
            });
        }
    }
    out
}
