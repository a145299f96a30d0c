//! Marker schedules: the order in which named actors reach the points
//! marked in their source by `# racetrace: NAME` comments.
//!
//! A marker is reached just before its line runs: the hook makes the first
//! instruction of a marked line a scheduling point, a `Yield` whose `aux`
//! is [`MARK_AUX`] plus the marker's id. The schedule is a list of entries
//! (actor, marker, occurrence). The actor of the first entry not yet met
//! runs, alone among the named actors, until its next step would pass that
//! marker; the entry is then met (the actor waits there) and the next
//! entry's actor runs. The named actors (those of the schedule, and the
//! others the caller holds back) wait for their turn; the rest (the main
//! actor that starts and joins them, threads they start) run whenever the
//! actor whose turn it is cannot. Once every entry is met, the default policy
//! runs everything to the end (still controlled).
//!
//! A schedule that cannot be completed (the actor whose turn it is blocks,
//! ends, or already passed the occurrence it names) stops the run with
//! `Choice::Unavailable` and leaves the reason in the shared state, for
//! the caller to put in words. The same strategy with no entries is a free
//! run that only writes down which markers each actor passed, in order
//! (`racetrace.explore_markers` discovers the actors' marker sequences so).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use racetrace_formats::{ActorId, Event, EventKind};

use super::{default_choice, Choice, Decision, Scheduler};

/// `Event::aux` of a marker's `Yield`: this plus the marker's id (a
/// `time.sleep` yields with 0, a wasted wake-up with 1).
pub const MARK_AUX: u64 = racetrace_formats::YIELD_MARKER;

/// The marker a candidate's next operation reaches, if it is one.
pub fn marker_of(op: &Event) -> Option<u32> {
    // (`END` never comes from a `Yield`: ids are below it.)
    (op.kind == EventKind::Yield && op.aux >= MARK_AUX).then(|| (op.aux - MARK_AUX) as u32)
}

/// The marker id of an actor's end (`alice:end`): met once it exited.
pub const END: u32 = u32::MAX;

/// One entry of a marker schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub actor: ActorId,
    pub marker: u32,
    /// 1-based occurrence (`alice:read#2`), or 0 for the next one reached.
    pub nth: u32,
}

/// Why a marker schedule could not be completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stuck {
    /// The entry's actor cannot go on (blocked, finished or never created):
    /// the control loop describes which.
    CannotRun { entry: usize },
    /// The entry names an occurrence the actor has already passed.
    Passed { entry: usize, passed: u32 },
}

/// What a marker run keeps, shared with the Python handle.
#[derive(Default)]
pub struct MarkerState {
    pub entries: Vec<Entry>,
    /// Entries met so far.
    pub met: usize,
    /// Per actor id: the markers it passed, in order.
    pub passed: Vec<Vec<u32>>,
    /// How many times each (actor, marker) was passed (the same counts).
    counts: HashMap<(ActorId, u32), u32>,
    pub stuck: Option<Stuck>,
    /// Actors that exited.
    exited: Vec<ActorId>,
    /// (actor, marker, occurrence) each met entry waited at.
    waited: Vec<(ActorId, u32, u32)>,
    /// Actors held back until their turn: the named ones (those of the
    /// schedule and any other the caller names).
    named: Vec<ActorId>,
}

impl MarkerState {
    /// Times actor `a` passed `marker`.
    pub fn count(&self, a: ActorId, marker: u32) -> u32 {
        self.counts.get(&(a, marker)).copied().unwrap_or(0)
    }

    /// The occurrence an entry waits for: the one it names, or the next
    /// one not yet passed nor waited at by an earlier entry (so that
    /// `alice:read, alice:read` is two occurrences).
    fn required(&self, e: &Entry) -> u32 {
        if e.nth != 0 {
            return e.nth;
        }
        let waited = self
            .waited
            .iter()
            .filter(|w| w.0 == e.actor && w.1 == e.marker)
            .map(|w| w.2)
            .max()
            .unwrap_or(0);
        (self.count(e.actor, e.marker) + 1).max(waited + 1)
    }

    /// Whether the entry's actor, about to perform `op`, is at the entry's
    /// occurrence of its marker.
    fn at_entry(&self, e: &Entry, op: &Event) -> bool {
        if e.marker == END {
            return false;
        }
        marker_of(op) == Some(e.marker) && self.count(e.actor, e.marker) + 1 == self.required(e)
    }
}

/// The strategy: a handle on the shared state.
#[derive(Clone)]
pub struct Markers(pub Arc<Mutex<MarkerState>>);

impl Markers {
    pub fn new(entries: Vec<Entry>, held: &[ActorId]) -> Markers {
        let mut named: Vec<ActorId> = entries
            .iter()
            .map(|e| e.actor)
            .chain(held.iter().copied())
            .collect();
        named.sort();
        named.dedup();
        Markers(Arc::new(Mutex::new(MarkerState {
            entries,
            named,
            ..MarkerState::default()
        })))
    }

    pub fn lock(&self) -> MutexGuard<'_, MarkerState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Scheduler for Markers {
    fn new_execution(&mut self) {
        let mut st = self.lock();
        st.met = 0;
        st.passed.clear();
        st.counts.clear();
        st.waited.clear();
        st.exited.clear();
        st.stuck = None;
    }

    fn next(&mut self, d: &Decision<'_>) -> Choice {
        let mut st = self.lock();
        loop {
            let Some(&e) = st.entries.get(st.met) else {
                return Choice::Actor(default_choice(d));
            };
            if e.marker == END && st.exited.contains(&e.actor) {
                st.met += 1;
                continue;
            }
            let cand = d.candidates.iter().find(|c| c.actor == e.actor);
            if let Some(c) = cand {
                if st.at_entry(&e, &c.op) {
                    let occ = st.required(&e);
                    st.waited.push((e.actor, e.marker, occ));
                    st.met += 1;
                    continue;
                }
            }
            if e.marker != END {
                let passed = st.count(e.actor, e.marker);
                if passed >= st.required(&e) {
                    st.stuck = Some(Stuck::Passed {
                        entry: st.met,
                        passed,
                    });
                    return Choice::Unavailable(e.actor);
                }
            }
            if let Some(c) = cand.filter(|c| c.is_ready()) {
                return Choice::Actor(c.actor);
            }
            // Someone the schedule does not hold back may unblock (or
            // create) the actor whose turn it is.
            let free = |c: &&super::Candidate| c.is_ready() && !st.named.contains(&c.actor);
            if let Some(cur) = d.current {
                if let Some(c) = d.candidates.iter().filter(free).find(|c| c.actor == cur) {
                    return Choice::Actor(c.actor);
                }
            }
            if let Some(c) = d.candidates.iter().find(free) {
                return Choice::Actor(c.actor);
            }
            // Nobody else can go on: a timed wait of the actor whose turn
            // it is times out (what it would do in a plain run).
            if let Some(c) = cand {
                return Choice::Actor(c.actor);
            }
            st.stuck = Some(Stuck::CannotRun { entry: st.met });
            return Choice::Unavailable(e.actor);
        }
    }

    fn executed(&mut self, ev: &Event) {
        if ev.kind == EventKind::ActorExit {
            self.lock().exited.push(ev.actor);
        }
        if let Some(m) = marker_of(ev) {
            let mut st = self.lock();
            let i = ev.actor.index();
            if st.passed.len() <= i {
                st.passed.resize(i + 1, Vec::new());
            }
            st.passed[i].push(m);
            *st.counts.entry((ev.actor, m)).or_insert(0) += 1;
        }
    }

    fn end_execution(&mut self, _blocked: &[Event]) {
        // A run that ended before every entry was met: the first unmet
        // entry's actor ended or never got there.
        let mut st = self.lock();
        while let Some(e) = st.entries.get(st.met).copied() {
            if e.marker != END || !st.exited.contains(&e.actor) {
                break;
            }
            st.met += 1;
        }
        if st.stuck.is_none() && st.met < st.entries.len() {
            st.stuck = Some(Stuck::CannotRun { entry: st.met });
        }
    }

    fn name(&self) -> &'static str {
        "markers"
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::cand;
    use super::super::*;
    use super::*;

    fn at_marker(a: u32, m: u32) -> Candidate {
        let mut c = cand(a, Readiness::Ready);
        c.op.kind = EventKind::Yield;
        c.op.aux = MARK_AUX + m as u64;
        c
    }

    fn decide(s: &mut Markers, cands: &[Candidate], current: Option<u32>) -> Choice {
        s.next(&Decision {
            step: 0,
            current: current.map(ActorId),
            candidates: cands,
            actors: 3,
            atomic: None,
        })
    }

    #[test]
    fn runs_each_actor_to_its_marker_in_turn() {
        let e = |a, m| Entry {
            actor: ActorId(a),
            marker: m,
            nth: 0,
        };
        let mut s = Markers::new(vec![e(1, 0), e(2, 0)], &[]);
        s.new_execution();
        // Actor 1 runs until it is at marker 0, then actor 2.
        let c = [
            cand(0, Readiness::Ready),
            cand(1, Readiness::Ready),
            cand(2, Readiness::Ready),
        ];
        assert_eq!(decide(&mut s, &c, Some(0)), Choice::Actor(ActorId(1)));
        let c = [at_marker(1, 0), cand(2, Readiness::Ready)];
        assert_eq!(decide(&mut s, &c, Some(1)), Choice::Actor(ActorId(2)));
        // Both met: the default policy keeps the current actor.
        let c = [at_marker(1, 0), at_marker(2, 0)];
        assert_eq!(decide(&mut s, &c, Some(2)), Choice::Actor(ActorId(2)));
        assert_eq!(s.lock().met, 2);
    }

    #[test]
    fn an_occurrence_counts_the_passes_and_a_passed_one_is_stuck() {
        let mut s = Markers::new(
            vec![Entry {
                actor: ActorId(1),
                marker: 0,
                nth: 2,
            }],
            &[],
        );
        s.new_execution();
        let c = [at_marker(1, 0)];
        // First time at marker 0: not the second occurrence, go on.
        assert_eq!(decide(&mut s, &c, Some(1)), Choice::Actor(ActorId(1)));
        s.executed(&c[0].op);
        assert_eq!(decide(&mut s, &c, Some(1)), Choice::Actor(ActorId(1)));
        assert_eq!(s.lock().met, 1);
        let mut s = Markers::new(
            vec![Entry {
                actor: ActorId(1),
                marker: 0,
                nth: 1,
            }],
            &[],
        );
        s.new_execution();
        s.executed(&c[0].op);
        assert_eq!(decide(&mut s, &c, Some(1)), Choice::Unavailable(ActorId(1)));
        assert_eq!(
            s.lock().stuck,
            Some(Stuck::Passed {
                entry: 0,
                passed: 1
            })
        );
    }

    #[test]
    fn repeated_entries_are_the_next_occurrences_and_end_waits_for_the_exit() {
        let e = |a, m| Entry {
            actor: ActorId(a),
            marker: m,
            nth: 0,
        };
        let mut s = Markers::new(vec![e(1, 0), e(1, 0), e(1, END)], &[]);
        s.new_execution();
        let c = [at_marker(1, 0)];
        // At its first `0`: the first entry is met, the second is not.
        assert_eq!(decide(&mut s, &c, Some(1)), Choice::Actor(ActorId(1)));
        assert_eq!(s.lock().met, 1);
        s.executed(&c[0].op);
        assert_eq!(decide(&mut s, &c, Some(1)), Choice::Actor(ActorId(1)));
        assert_eq!(s.lock().met, 2);
        let mut exit = c[0].op;
        exit.kind = EventKind::ActorExit;
        exit.aux = 0;
        s.executed(&exit);
        s.end_execution(&[]);
        assert_eq!(s.lock().met, 3);
        assert_eq!(s.lock().stuck, None);
    }

    #[test]
    fn a_blocked_actor_lets_unnamed_ones_go_then_is_stuck() {
        let mut s = Markers::new(
            vec![Entry {
                actor: ActorId(2),
                marker: 0,
                nth: 0,
            }],
            &[ActorId(1)],
        );
        s.new_execution();
        // Actor 2 not created yet: the unnamed main actor goes, not actor
        // 1 (held back, though the schedule does not name it).
        let c = [cand(0, Readiness::Ready), cand(1, Readiness::Ready)];
        assert_eq!(decide(&mut s, &c, Some(1)), Choice::Actor(ActorId(0)));
        // Nobody but a named actor ... and actor 2 missing: stuck.
        let c = [cand(1, Readiness::Ready)];
        let mut s2 = Markers::new(
            vec![
                Entry {
                    actor: ActorId(1),
                    marker: 5,
                    nth: 0,
                },
                Entry {
                    actor: ActorId(2),
                    marker: 0,
                    nth: 0,
                },
            ],
            &[],
        );
        s2.new_execution();
        s2.lock().met = 1;
        assert_eq!(
            decide(&mut s2, &c, Some(1)),
            Choice::Unavailable(ActorId(2))
        );
        assert_eq!(s2.lock().stuck, Some(Stuck::CannotRun { entry: 1 }));
    }
}
