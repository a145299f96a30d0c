//! What orders the steps of an explanation, or why nothing does: the
//! happens-before edges among the steps shown, and for a race, in words,
//! why no edge leads from one access to the other.

use racetrace_formats::EventKind;

use super::{Side, Step};
use crate::sync::{self, Channel, SyncEffect};

/// Why happens-before leaves two accesses unordered, in words.
pub fn why_unordered(first: &Side, second: &Side, detailed: bool) -> String {
    if !detailed {
        return String::new();
    }
    let (a, b) = (&first.state, &second.state);
    let common: Vec<&String> = a
        .locks_held
        .iter()
        .filter(|l| b.locks_held.contains(l))
        .collect();
    let locks = match (a.locks_held.is_empty(), b.locks_held.is_empty()) {
        _ if !common.is_empty() => format!(
            "both held {} (yet no release of it came between the two)",
            common
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (true, true) => format!(
            "neither {} nor {} held a lock",
            first.actor_name, second.actor_name
        ),
        (false, true) => format!(
            "{} held {} but {} held no lock",
            first.actor_name,
            a.locks_held.join(", "),
            second.actor_name
        ),
        (true, false) => format!(
            "{} held no lock while {} held {}",
            first.actor_name,
            second.actor_name,
            b.locks_held.join(", ")
        ),
        (false, false) => format!(
            "{} held {} and {} held {}: different locks order nothing",
            first.actor_name,
            a.locks_held.join(", "),
            second.actor_name,
            b.locks_held.join(", ")
        ),
    };
    let after = match &a.next_sync {
        Some(s) => format!(
            "{}'s next synchronization after its {} was {} {} at {} (event {})",
            first.actor_name, first.kind, s.kind, s.what, s.location, s.event
        ),
        None => format!(
            "{} did not synchronize again after its {}",
            first.actor_name, first.kind
        ),
    };
    let before = match &b.last_sync {
        Some(s) => format!(
            "{}'s last before its {} was {} {} at {} (event {})",
            second.actor_name, second.kind, s.kind, s.what, s.location, s.event
        ),
        None => format!(
            "{} had not synchronized before its {}",
            second.actor_name, second.kind
        ),
    };
    format!(
        "no happens-before edge orders them: {locks}; {after}, and {before}, so no chain of releases, starts, joins, sets, puts or notifies leads from one access to the other"
    )
}

/// Happens-before edges between steps shown: each acquire-like step to
/// the latest shown step of another actor that released into the same
/// channel (or the joined actor's last step).
pub fn shown_edges(steps: &[Step]) -> Vec<super::ShownEdge> {
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let ev = &s.ev;
        let from = match sync::effect(ev) {
            SyncEffect::Acquire(ch, kind) => steps[..i]
                .iter()
                .rposition(|r| {
                    r.actor != s.actor
                        && matches!(sync::effect(&r.ev), SyncEffect::Release(c, _) if c == ch)
                })
                .map(|j| (j, kind.name())),
            // From the joined actor's exit (when it is among the steps).
            SyncEffect::JoinActor(child, kind) => steps[..i]
                .iter()
                .rposition(|r| r.actor == child && r.ev.kind == EventKind::ActorExit)
                .map(|j| (j, kind.name())),
            _ if ev.kind == EventKind::ActorStart => steps[..i]
                .iter()
                .rposition(|r| {
                    matches!(sync::effect(&r.ev), SyncEffect::Release(Channel::Start(c), _) if c == s.actor)
                })
                .map(|j| (j, "spawn")),
            _ => None,
        };
        if let Some((j, kind)) = from {
            out.push(super::ShownEdge {
                from: j,
                to: i,
                kind,
            });
        }
    }
    out
}
