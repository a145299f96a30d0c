//! Vector clocks and epochs.
//!
//! Actors are numbered densely from 0, so a clock is a `Vec<u32>` indexed by
//! actor. Clocks grow on demand: an actor that a clock has never heard of is at
//! time 0 in it, which is exactly what a missing entry means.

use racetrace_formats::ActorId;

/// A vector clock. Entry `u` is the latest time of actor `u` that the owner
/// of this clock knows about (happens-after).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VClock {
    times: Vec<u32>,
}

impl VClock {
    /// The clock that knows nothing.
    pub const EMPTY: VClock = VClock { times: Vec::new() };

    pub fn new() -> Self {
        VClock { times: Vec::new() }
    }

    /// Time of `actor` in this clock (0 when never heard of).
    #[inline]
    pub fn get(&self, actor: u32) -> u32 {
        self.times.get(actor as usize).copied().unwrap_or(0)
    }

    #[inline]
    pub fn set(&mut self, actor: u32, time: u32) {
        let i = actor as usize;
        if i >= self.times.len() {
            self.times.resize(i + 1, 0);
        }
        self.times[i] = time;
    }

    /// Advances `actor`'s own entry by one (after a release-like operation, so
    /// that later accesses get an epoch the published clock does not cover).
    #[inline]
    pub fn tick(&mut self, actor: u32) {
        let t = self.get(actor);
        self.set(actor, t.saturating_add(1));
    }

    /// Pointwise maximum: afterwards `self` knows everything `other` knows.
    /// Returns whether `self` learnt anything.
    pub fn join(&mut self, other: &VClock) -> bool {
        if other.times.len() > self.times.len() {
            self.times.resize(other.times.len(), 0);
        }
        let mut changed = false;
        for (mine, theirs) in self.times.iter_mut().zip(&other.times) {
            if *theirs > *mine {
                *mine = *theirs;
                changed = true;
            }
        }
        changed
    }

    /// Forgets everything, keeping the allocation for reuse.
    pub fn clear(&mut self) {
        self.times.clear();
    }

    /// `self ⊑ other`: every entry of `self` is at most the one in `other`.
    pub fn leq(&self, other: &VClock) -> bool {
        self.times
            .iter()
            .enumerate()
            .all(|(u, &t)| t <= other.get(u as u32))
    }

    /// The entries, indexed by actor (trailing actors not known are absent).
    pub fn as_slice(&self) -> &[u32] {
        &self.times
    }
}

/// One event time of one actor: `(actor, clock)`. An epoch `e` happens before
/// a clock `V` iff `e.clock <= V[e.actor]`; that one comparison is what makes
/// FastTrack fast. Clock 0 is "no event" and happens before everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Epoch {
    pub actor: u32,
    pub clock: u32,
}

impl Epoch {
    /// The bottom epoch: before everything.
    pub const NONE: Epoch = Epoch { actor: 0, clock: 0 };

    #[inline]
    pub fn new(actor: ActorId, clock: u32) -> Self {
        Epoch {
            actor: actor.0,
            clock,
        }
    }

    #[inline]
    pub fn is_none(self) -> bool {
        self.clock == 0
    }

    /// Whether this epoch happens before (or is covered by) `clock`.
    #[inline]
    pub fn hb(self, clock: &VClock) -> bool {
        self.clock <= clock.get(self.actor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_grows_and_takes_max() {
        let mut a = VClock::new();
        a.set(0, 3);
        let mut b = VClock::new();
        b.set(0, 1);
        b.set(2, 5);
        a.join(&b);
        assert_eq!(a.as_slice(), &[3, 0, 5]);
        assert!(b.leq(&a));
        assert!(!a.leq(&b));
    }

    #[test]
    fn epoch_ordering() {
        let mut v = VClock::new();
        v.set(1, 4);
        assert!(Epoch::new(ActorId(1), 4).hb(&v));
        assert!(!Epoch::new(ActorId(1), 5).hb(&v));
        assert!(!Epoch::new(ActorId(7), 1).hb(&v));
        assert!(Epoch::NONE.hb(&v));
    }
}
