//! Ranking findings by how much they have to do with the failure.
//!
//! The failure names lines (its traceback, or the places a deadlock report
//! names); the first pass notes which keys and objects were accessed on
//! those lines. A race comes first when one of its accesses *is* on such a
//! line, then when its key, then its object, is touched there; the failing
//! line counts more than its callers. Among equals, atomicity violations
//! come before potential deadlocks, which come before order-only races,
//! and otherwise the order of detection stays.

use racetrace_formats::{LocId, Tables};
use serde::Serialize;

use super::failure::{same_file, Failure};
use crate::fasthash::IdMap;
use crate::lockorder::PotentialDeadlock;
use crate::races::{RaceClass, RaceGroup, RacePair};
use crate::Analysis;

/// No frame of the failure is at this location.
pub const NOT_A_FRAME: u8 = u8::MAX;

/// For each code location: how far its line is from the failing line along
/// the traceback (0: the failing line, 1: its caller, ...), or
/// `NOT_A_FRAME`.
pub fn frame_depths(tables: &Tables, failure: &Failure) -> Vec<u8> {
    let mut depth = vec![NOT_A_FRAME; tables.locs.len()];
    let frames = &failure.frames;
    let failing = failing_index(failure);
    for (i, loc) in tables.locs.iter().enumerate() {
        let file = tables.str(loc.file);
        for (j, fr) in frames.iter().enumerate() {
            if fr.line == loc.line && same_file(file, &fr.file) {
                // A deadlock report's places are all equally "the failure".
                let d = if failure.kind == "deadlock" {
                    0
                } else {
                    failing.saturating_sub(j).min(NOT_A_FRAME as usize - 1)
                };
                depth[i] = depth[i].min(d as u8);
            }
        }
    }
    depth
}

/// Keys and objects accessed on the failure's lines, with the smallest
/// depth each was accessed at (filled by the first pass).
#[derive(Default)]
pub struct Touches {
    pub keys: IdMap<u32, u8>,
    pub objects: IdMap<u32, u8>,
}

impl Touches {
    #[inline]
    pub fn note(&mut self, key: u32, obj: u32, depth: u8) {
        let k = self.keys.entry(key).or_insert(depth);
        *k = (*k).min(depth);
        let o = self.objects.entry(obj).or_insert(depth);
        *o = (*o).min(depth);
    }
}

/// One finding, ranked.
#[derive(Clone, Debug, Serialize)]
pub struct Ranked {
    /// Higher is more relevant.
    pub score: u32,
    /// Why it ranks where it does, in words ("" when nothing ties it to
    /// the failure).
    pub relevance: String,
    pub finding: RankedKind,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RankedKind {
    /// A race group, and the pair of it that matters most.
    Race {
        #[serde(skip)]
        group: usize,
        #[serde(skip)]
        pair: usize,
    },
    PotentialDeadlock {
        #[serde(skip)]
        index: usize,
    },
}

/// The index of the failing line among the failure's frames.
fn failing_index(failure: &Failure) -> usize {
    let frames = &failure.frames;
    failure
        .failing
        .as_ref()
        .and_then(|f| {
            frames
                .iter()
                .rposition(|g| g.line == f.line && same_file(&g.file, &f.file))
        })
        .unwrap_or(frames.len().saturating_sub(1))
}

fn depth_words(failure: &Failure, depth: u8) -> String {
    let failing = failure.failing.as_ref().map(|f| f.location());
    if failure.kind == "deadlock" {
        return "a place the deadlock report names".to_string();
    }
    match (depth, failing) {
        (0, Some(at)) => format!("the failing line ({at})"),
        (d, _) => {
            let idx = failing_index(failure);
            match idx
                .checked_sub(d as usize)
                .and_then(|i| failure.frames.get(i))
            {
                Some(fr) => format!("{} in the traceback", fr.location()),
                None => "a line of the traceback".to_string(),
            }
        }
    }
}

fn loc_depth(depths: &[u8], loc: LocId) -> u8 {
    depths.get(loc.index()).copied().unwrap_or(NOT_A_FRAME)
}

fn score_pair(
    pair: &RacePair,
    tables: &Tables,
    depths: &[u8],
    touches: &Touches,
    failure: &Failure,
) -> (u32, String) {
    let mut best = (0u32, String::new());
    let mut consider = |score: u32, why: String| {
        if score > best.0 {
            best = (score, why);
        }
    };
    for a in [&pair.first, &pair.second] {
        let d = loc_depth(depths, a.loc);
        if d != NOT_A_FRAME {
            consider(
                1000 - 10 * u32::from(d),
                format!(
                    "its {} at {} is {}",
                    a.kind.name(),
                    a.location,
                    depth_words(failure, d)
                ),
            );
        }
        if let Some(&d) = touches.keys.get(&a.key.0) {
            consider(
                800 - 10 * u32::from(d),
                format!("{} is accessed on {}", a.key_name, depth_words(failure, d)),
            );
        }
        let obj = tables.keys.get(a.key.index()).map(|k| k.obj.0);
        if let Some(&d) = obj.and_then(|o| touches.objects.get(&o)) {
            let name = obj
                .map(|o| tables.object_display(racetrace_formats::ObjId(o)))
                .unwrap_or_default();
            consider(
                600 - 10 * u32::from(d),
                format!("{name} is accessed on {}", depth_words(failure, d)),
            );
        }
    }
    best
}

fn class_bonus(class: RaceClass) -> u32 {
    match class {
        RaceClass::AtomicityViolation => 3,
        RaceClass::OrderOnly => 1,
    }
}

fn score_deadlock(d: &PotentialDeadlock, depths: &[u8], failure: &Failure) -> (u32, String) {
    let mut best = (2u32, String::new());
    if failure.kind == "deadlock" {
        let named = d.locks.iter().all(|l| failure.text.contains(&l.name));
        if named {
            best = (1100, "the run deadlocked on these locks".to_string());
        }
    }
    for e in &d.edges {
        for (loc, location) in [
            (e.acquire_loc, &e.acquire_location),
            (e.held_loc, &e.held_location),
        ] {
            let dep = loc_depth(depths, loc);
            if dep != NOT_A_FRAME {
                let s = 1000 - 10 * u32::from(dep);
                if s > best.0 {
                    best = (s, format!("{location} is {}", depth_words(failure, dep)));
                }
            }
        }
    }
    best
}

/// Every race group and potential deadlock, most relevant first.
pub fn rank(
    analysis: &Analysis,
    tables: &Tables,
    depths: &[u8],
    touches: &Touches,
    failure: &Failure,
) -> Vec<Ranked> {
    let mut out = Vec::new();
    for (gi, g) in analysis.races.iter().enumerate() {
        let (pair, (score, why)) = best_pair(g, tables, depths, touches, failure);
        out.push(Ranked {
            score: score + class_bonus(g.pairs[pair].class),
            relevance: why,
            finding: RankedKind::Race { group: gi, pair },
        });
    }
    for (i, d) in analysis.deadlocks.iter().enumerate() {
        let (score, why) = score_deadlock(d, depths, failure);
        out.push(Ranked {
            score,
            relevance: why,
            finding: RankedKind::PotentialDeadlock { index: i },
        });
    }
    // Stable: equal scores keep the analyzer's order.
    out.sort_by_key(|r| std::cmp::Reverse(r.score));
    out
}

fn best_pair(
    g: &RaceGroup,
    tables: &Tables,
    depths: &[u8],
    touches: &Touches,
    failure: &Failure,
) -> (usize, (u32, String)) {
    let mut best = (0usize, (0u32, String::new()), 0u32);
    for (i, p) in g.pairs.iter().enumerate() {
        let s = score_pair(p, tables, depths, touches, failure);
        let total = s.0 + class_bonus(p.class);
        if i == 0 || total > best.2 {
            best = (i, s, total);
        }
    }
    (best.0, best.1)
}
