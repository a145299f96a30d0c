//! Lock-order analysis against a brute-force reference on random traces of
//! three locks: every elementary cycle of the lock graph, every choice of
//! witnesses (pairwise different actors, no gate lock common to all).

mod common;

use std::collections::BTreeSet;

use common::{Trace, MAIN};
use proptest::prelude::*;
use racetrace_formats::{ActorId, EventKind, ObjId};

/// (actor, held lock, acquired lock, locks held before the held one)
type Witness = (u32, u32, u32, BTreeSet<u32>);

/// Every sequence of 1 to 3 distinct locks out of 3.
fn sequences() -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for a in 0..3 {
        out.push(vec![a]);
        for b in (0..3).filter(|&b| b != a) {
            out.push(vec![a, b]);
            for c in (0..3).filter(|&c| c != a && c != b) {
                out.push(vec![a, b, c]);
            }
        }
    }
    out
}

/// Each step is one critical section of one actor: take the locks of a
/// sequence in order (optionally re-entering the innermost one, RLock
/// style), then release them in reverse.
fn build(steps: &[(u8, u8, bool)]) -> (Trace, Vec<u32>, Vec<Witness>) {
    let mut t = Trace::new();
    let locks: Vec<u32> = (0..3).map(|i| t.lock(&format!("l{i}")).0).collect();
    let l = t.line(1);
    let actors: Vec<ActorId> = (0..3).map(|i| t.spawn(MAIN, &format!("w{i}"), l)).collect();
    let seqs = sequences();
    let mut witnesses = Vec::new();
    for &(pick, seq, reenter) in steps {
        let a = actors[pick as usize % 3];
        let seq: Vec<u32> = seqs[seq as usize % seqs.len()]
            .iter()
            .map(|&i| locks[i])
            .collect();
        for (k, &lock) in seq.iter().enumerate() {
            for (i, &h) in seq[..k].iter().enumerate() {
                witnesses.push((a.0, h, lock, seq[..i].iter().copied().collect()));
            }
            t.acquire(a, ObjId(lock), l);
        }
        let inner = *seq.last().unwrap();
        if reenter {
            t.event(a, EventKind::LockAcquire, l, inner, 2);
            t.event(a, EventKind::LockRelease, l, inner, 2);
        }
        for &lock in seq.iter().rev() {
            t.release(a, ObjId(lock), l);
        }
    }
    (t, locks, witnesses)
}

fn realisable(cycle: &[u32], witnesses: &[Witness]) -> bool {
    fn go(cycle: &[u32], ws: &[Witness], chosen: &mut Vec<usize>) -> bool {
        let k = chosen.len();
        if k == cycle.len() {
            let mut common: Option<BTreeSet<u32>> = None;
            for &c in chosen.iter() {
                let g = &ws[c].3;
                common = Some(match common {
                    None => g.clone(),
                    Some(x) => x.intersection(g).copied().collect(),
                });
            }
            return match common {
                None => true,
                Some(c) => c.is_empty(),
            };
        }
        let (from, to) = (cycle[k], cycle[(k + 1) % cycle.len()]);
        for (i, w) in ws.iter().enumerate() {
            if w.1 == from && w.2 == to && chosen.iter().all(|&c| ws[c].0 != w.0) {
                chosen.push(i);
                if go(cycle, ws, chosen) {
                    return true;
                }
                chosen.pop();
            }
        }
        false
    }
    go(cycle, witnesses, &mut Vec::new())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lock_cycles_agree_with_brute_force(steps in prop::collection::vec((any::<u8>(), any::<u8>(), any::<bool>()), 0..12)) {
        let (t, locks, witnesses) = build(&steps);
        let (a, b, c) = (locks[0], locks[1], locks[2]);
        // Every elementary cycle over three nodes, starting at its smallest.
        let candidates: Vec<Vec<u32>> = vec![
            vec![a, b], vec![a, c], vec![b, c], vec![a, b, c], vec![a, c, b],
        ];
        let expected: BTreeSet<Vec<u32>> = candidates
            .into_iter()
            .filter(|cy| realisable(cy, &witnesses))
            .collect();
        let an = t.analyze();
        let found: BTreeSet<Vec<u32>> = an
            .deadlocks
            .iter()
            .map(|d| d.locks.iter().map(|l| l.obj.0).collect())
            .collect();
        prop_assert_eq!(found.len(), an.deadlocks.len(), "a cycle reported twice");
        prop_assert_eq!(found, expected);
        for d in &an.deadlocks {
            let actors: BTreeSet<ActorId> = d.edges.iter().map(|e| e.actor).collect();
            prop_assert_eq!(actors.len(), d.edges.len());
        }
    }
}
