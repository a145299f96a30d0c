//! Preemption-bounded reversals (Coons, Musuvathi, McKinley, "Bounded
//! partial-order reduction", OOPSLA 2013): a race reversal that would need
//! more preemptions than the bound is tried where it costs none.

use super::Explorer;
use crate::dpor::op::{Op, NONE};

impl Explorer {
    /// With a preemption bound, a reversal at `i` that needs too many
    /// preemptions is tried where it costs none (as in bounded partial-order
    /// reduction, Coons, Musuvathi, McKinley, OOPSLA 2013): at the last point
    /// at or before `i` where the previous actor could not go on, the later
    /// event's actor runs its events of this execution from there, up to the
    /// racing one and on while they cannot block.
    pub(super) fn reverse_bounded(
        &mut self,
        i: usize,
        bound: u32,
        later: Op,
        later_idx: Option<usize>,
    ) {
        let k = (0..=i)
            .rev()
            .find(|&k| k == 0 || !self.points[k].prev_enabled)
            .unwrap_or(0);
        if self.points[k].preemptions > bound {
            return;
        }
        let q = later.actor;
        let recs = &self.exec.recs;
        let Some(first) = (k..recs.len()).find(|&x| recs[x].op.actor == q) else {
            return;
        };
        // The actor must exist at `k` and, if its next operation can block,
        // not wait for anything done since `k`.
        let pre = recs[first].pre;
        if pre != NONE && pre as usize >= k {
            return;
        }
        if recs[first].op.may_block()
            && (k..first).any(|x| recs[x].op.actor != q && self.exec.hb(x, first))
        {
            return;
        }
        let end = later_idx.unwrap_or(recs.len());
        let mut ops = std::mem::take(&mut self.sleepers);
        ops.clear();
        ops.extend(
            recs.iter()
                .enumerate()
                .skip(first)
                .filter(|(_, r)| r.op.actor == q)
                .take_while(|&(x, r)| x <= end || !r.op.may_block())
                // Moved to `k`, an atomic step may touch other things.
                .map(|(_, r)| if r.atomic { Op::unknown(q) } else { r.op }),
        );
        self.seq.begin(ops.len() + usize::from(later_idx.is_none()));
        for op in &ops {
            self.seq.push(*op, |_| true);
        }
        self.sleepers = ops;
        if later_idx.is_none() {
            self.seq.push(later, |_| true);
        }
        self.schedule_seq(k);
    }

    /// Preemptions of the schedule "steps before `i`, then the sequence":
    /// exact for the prefix; for the sequence, a switch away from an actor
    /// counts unless that actor has finished or its next operation may block
    /// (the guess only filters; `choose` enforces the bound exactly).
    pub(super) fn guess_preemptions(&self, i: usize) -> u32 {
        let p = &self.points[i];
        let mut count = p.preemptions;
        let mut prev = if i == 0 {
            NONE
        } else {
            self.points[i - 1].actor
        };
        let mut prev_enabled = p.prev_enabled;
        let recs = &self.exec.recs;
        for (pos, op) in self.seq.ops.iter().enumerate() {
            if prev != NONE && op.actor != prev && prev_enabled {
                count += 1;
            }
            prev = op.actor;
            // Is `prev` able to go on after this event? Its next event in
            // this execution tells.
            let idx = if pos < self.notdep.len() {
                self.notdep[pos] as usize
            } else {
                usize::MAX
            };
            prev_enabled = idx != usize::MAX
                && recs[idx + 1..]
                    .iter()
                    .find(|r| r.op.actor == prev)
                    .is_some_and(|r| !r.op.may_block());
        }
        count
    }
}
