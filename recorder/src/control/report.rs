//! What a stopped run says in words: who waits for what and who holds what
//! (deadlocks), why a schedule does not fit the program (divergences), and
//! locations as `file:line`.

use racetrace_formats::{ActorId, LocId};

use super::*;
use crate::session;

impl Run {
    /// Where each actor still alive was last: `T1 (w) at f.py:3, ...`.
    pub(super) fn whereabouts(&self) -> String {
        let alive: Vec<String> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !matches!(s.state, State::Finished))
            .map(|(a, s)| match s.state {
                State::Starting { .. } => format!("{} not started", self.actor_name(a as u32)),
                _ => format!("{} at {}", self.actor_name(a as u32), loc_text(s.last_loc)),
            })
            .collect();
        if alive.is_empty() {
            "every actor had finished".to_string()
        } else {
            alive.join(", ")
        }
    }

    pub(super) fn actor_name(&self, a: u32) -> String {
        match self.slots.get(a as usize) {
            Some(s) if !s.name.is_empty() => format!("T{a} ({})", s.name),
            _ => format!("T{a}"),
        }
    }

    pub(super) fn describe_unavailable(&self, a: ActorId, cands: &[Candidate]) -> String {
        let step = self.step;
        let expected = self
            .expected
            .get(step as usize)
            .map(|e| {
                format!(
                    " (expected: {} {} at {}:{} in {})",
                    e.kind.name(),
                    e.what,
                    e.file,
                    e.line,
                    e.function
                )
            })
            .unwrap_or_default();
        let why = match self.slots.get(a.index()) {
            None => format!(
                "the program has not created actor T{} (actors so far: T0..T{})",
                a.0,
                self.slots.len() - 1
            ),
            Some(s) => match &s.state {
                State::Finished => format!("{} has finished", self.actor_name(a.0)),
                State::Blocked(b) => format!(
                    "{} is blocked at {} waiting for {}",
                    self.actor_name(a.0),
                    loc_text(b.site),
                    b.what
                ),
                _ => format!("{} cannot run", self.actor_name(a.0)),
            },
        };
        let can: Vec<String> = cands.iter().map(|c| self.actor_name(c.actor.0)).collect();
        format!(
            "the schedule does not fit the program at step {step}: it names T{}{expected}, but {why}; actors able to run: {}",
            a.0,
            can.join(", ")
        )
    }

    pub(super) fn describe_deadlock(&self) -> String {
        let mut lines = vec!["deadlock: every live actor is blocked".to_string()];
        let mut waits_for: Vec<(u32, Option<u32>)> = Vec::new();
        for (i, s) in self.alive() {
            let a = i as u32;
            match &s.state {
                State::Blocked(b) => {
                    let mut line = format!(
                        "  {} waits at {} for {}",
                        self.actor_name(a),
                        loc_text(b.site),
                        b.what
                    );
                    let mut holder = None;
                    for w in &b.wait {
                        if let WaitOn::Lock(addr) = w {
                            if let Some(l) = self.locks.get(addr) {
                                if l.count > 0 && !l.tstate {
                                    if let Owner::Actor(o) = l.owner {
                                        if o != a {
                                            holder = Some(o);
                                            let name = if l.label.is_empty() {
                                                "it".to_string()
                                            } else {
                                                l.label.clone()
                                            };
                                            let state = if matches!(
                                                self.slots.get(o as usize).map(|s| &s.state),
                                                Some(State::Finished)
                                            ) {
                                                " (which has finished)"
                                            } else {
                                                ""
                                            };
                                            line.push_str(&format!(
                                                "; {name} is held by {}{state}, acquired at {}",
                                                self.actor_name(o),
                                                loc_text(l.since)
                                            ));
                                            break;
                                        }
                                    }
                                }
                            }
                        }
                    }
                    if holder.is_none() {
                        if b.what.starts_with("event") {
                            line.push_str("; no other actor can set it");
                        } else if b.what.starts_with("condition") {
                            line.push_str("; no other actor can notify it");
                        }
                    }
                    waits_for.push((a, holder));
                    lines.push(line);
                }
                // A loop whose tasks all wait says what they wait for.
                State::InLoop if s.idle.is_some() => {
                    if let Some(i) = &s.idle {
                        lines.push(i.what.clone());
                    }
                }
                State::Task { .. }
                    if s.loop_of.is_some_and(|b| {
                        self.slots.get(b as usize).is_some_and(|l| l.idle.is_some())
                    }) => {}
                _ => lines.push(format!("  {} cannot run", self.actor_name(a))),
            }
        }
        // Locks held by actors, with where they were taken.
        let mut held: Vec<String> = Vec::new();
        for l in self.locks.values() {
            if l.count == 0 || l.tstate || l.label.is_empty() {
                continue;
            }
            if let Owner::Actor(o) = l.owner {
                held.push(format!(
                    "  {} holds {} (acquired at {})",
                    self.actor_name(o),
                    l.label,
                    loc_text(l.since)
                ));
            }
        }
        held.sort();
        lines.extend(held);
        // A cycle of actors waiting for each other's locks.
        for &(start, _) in &waits_for {
            let mut path = vec![start];
            let mut cur = start;
            while let Some(&(_, Some(next))) = waits_for.iter().find(|(a, _)| *a == cur) {
                if next == start {
                    let names: Vec<String> = path
                        .iter()
                        .chain(std::iter::once(&start))
                        .map(|&a| format!("T{a}"))
                        .collect();
                    lines.push(format!("  cycle: {}", names.join(" -> ")));
                    return lines.join("\n");
                }
                if path.contains(&next) {
                    break;
                }
                path.push(next);
                cur = next;
            }
        }
        lines.join("\n")
    }
}

/// Whether two recorded file names are the same file: equal, or one is
/// the other with a leading directory (a script run as `prog.py` in one
/// run and by its absolute path in the other).
pub fn same_file(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
    long.ends_with(short) && long[..long.len() - short.len()].ends_with('/')
}

/// `file:line` of a location of the trace being written.
pub fn loc_text(loc: LocId) -> String {
    session::with(|s| s.loc_parts(loc))
        .flatten()
        .map(|(f, l, _)| format!("{f}:{l}"))
        .unwrap_or_else(|| "<unknown>".into())
}
