//! Who can take the next step: each live actor's candidate (its next
//! event, a blocked wait that can go or give up, a ready task), and the
//! atomicity of a task's step.

use racetrace_formats::{ActorId, Event, LocId};

use super::turns::gave_up;
use super::*;

impl Run {
    fn all_candidates(&self) -> Vec<Candidate> {
        let mut out = Vec::with_capacity(self.slots.len());
        for (i, s) in self.slots.iter().enumerate() {
            let a = i as u32;
            let (op, readiness) = match &s.state {
                State::Starting { .. } => (
                    Event {
                        actor: ActorId(a),
                        kind: EventKind::ActorStart,
                        loc: LocId(0),
                        target: a,
                        aux: 0,
                    },
                    Readiness::Ready,
                ),
                State::AtEvent {
                    op,
                    deadline,
                    timed,
                } => {
                    out.push(Candidate {
                        actor: ActorId(a),
                        op: *op,
                        readiness: match deadline {
                            Some(d) => Readiness::Timeout(*d),
                            None => Readiness::Ready,
                        },
                        give_up: if *timed {
                            GiveUp::Timeout
                        } else {
                            GiveUp::Never
                        },
                        waker: None,
                    });
                    continue;
                }
                State::Blocked(b) => {
                    let rest_ok = b.wait[1..].iter().all(|&w| self.acquirable(a, w));
                    let give_up = match (b.try_only, b.deadline) {
                        (true, _) => GiveUp::Try,
                        (false, Some(_)) => GiveUp::Timeout,
                        (false, None) => GiveUp::Never,
                    };
                    if rest_ok && self.acquirable(a, b.wait[0]) {
                        out.push(Candidate {
                            actor: ActorId(a),
                            op: b.op,
                            readiness: Readiness::Ready,
                            give_up,
                            waker: None,
                        });
                        continue;
                    }
                    // What it would do by giving up: fail (a try, at once)
                    // or time out (a timed wait, at its deadline; whether or
                    // not the lock it re-acquires next, a condition's, is
                    // free: that is a step of its own).
                    let readiness = match (rest_ok, b.try_only, b.deadline) {
                        (true, true, _) => Readiness::Ready,
                        (_, false, Some(d)) => Readiness::Timeout(d),
                        _ => continue,
                    };
                    out.push(Candidate {
                        actor: ActorId(a),
                        op: gave_up(b.op),
                        readiness,
                        give_up,
                        waker: None,
                    });
                    continue;
                }
                State::Task { ready: true, waker } if self.loop_running(s.loop_of) => {
                    out.push(tasks::task_candidate(a, s.loop_of, *waker, s.task_deadline));
                    continue;
                }
                State::Running | State::Finished | State::Task { .. } | State::InLoop => continue,
            };
            out.push(Candidate {
                actor: ActorId(a),
                op,
                readiness,
                give_up: GiveUp::Never,
                waker: None,
            });
        }
        out
    }

    /// The candidates: inside a task's step, the other tasks of its loop
    /// cannot go (its loop runs the step), other actors (threads, and the
    /// tasks of other loops) can: the strategy decides whether they come
    /// between (`passed_over` says whether one could have).
    pub(super) fn candidates(&mut self) -> Vec<Candidate> {
        let mut out = self.all_candidates();
        let slots = &self.slots;
        // (A loop's thread is never a candidate while its loop runs, so
        // what remains of a stepping loop is its stepping task.)
        out.retain(|c| {
            let lp = slots[c.actor.index()].loop_of;
            lp.and_then(|l| slots[l as usize].stepping)
                .is_none_or(|(t, _)| t == c.actor.0)
        });
        let stepping = slots.iter().filter_map(|s| s.stepping).map(|(t, _)| t);
        for t in stepping {
            // (Only a choice: a step that cannot go lets others go anyway.)
            if out.len() > 1 && out.iter().any(|c| c.actor.0 == t) {
                self.passed_over = true;
                break;
            }
        }
        out
    }
}
