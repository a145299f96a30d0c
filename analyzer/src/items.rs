//! Vector clocks of queue items in flight (put, not yet got).
//!
//! A put→get edge needs the putter's clock at the put until the get, so
//! items in flight are the one analysis state that can grow with a trace
//! (as long as the program leaves items in its queues). To keep that small,
//! items share clock snapshots: between two acquires an actor's clock only
//! changes in its own entry, so every put in that stretch stores a reference
//! to one snapshot plus its own time — 12 bytes per item instead of a whole
//! clock.

use racetrace_formats::{ActorId, ObjId};

use crate::clock::VClock;
use crate::fasthash::IdMap;

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Item {
    snap: u32,
    actor: u32,
    /// The putter's own time at the put (the snapshot may be older).
    time: u32,
}

struct Snap {
    clock: VClock,
    /// Items referring to it.
    refs: u32,
}

#[derive(Default)]
pub struct ItemClocks {
    items: IdMap<(u32, u64), Item>,
    snaps: Vec<Snap>,
    free: Vec<u32>,
    /// Per actor, the snapshot its puts can share (`NONE` once its clock has
    /// taken in something new).
    current: Vec<u32>,
}

impl ItemClocks {
    pub fn new() -> Self {
        Self::default()
    }

    /// The actor's clock took in another's (acquire, join, start): its next
    /// put needs a fresh snapshot.
    #[inline]
    pub fn invalidate(&mut self, actor: ActorId) {
        if let Some(cur) = self.current.get_mut(actor.index()) {
            let s = std::mem::replace(cur, NONE);
            if s != NONE && self.snaps[s as usize].refs == 0 {
                self.free.push(s);
            }
        }
    }

    /// Records the put of item `token` into `queue` by `actor`, whose clock
    /// is `clock` (before its release tick).
    pub fn put(&mut self, queue: ObjId, token: u64, actor: ActorId, clock: &VClock) {
        let a = actor.index();
        if a >= self.current.len() {
            self.current.resize(a + 1, NONE);
        }
        let snap = match self.current[a] {
            NONE => {
                let s = match self.free.pop() {
                    Some(s) => {
                        let slot = &mut self.snaps[s as usize];
                        slot.clock.clear();
                        slot.clock.join(clock);
                        s
                    }
                    None => {
                        self.snaps.push(Snap {
                            clock: clock.clone(),
                            refs: 0,
                        });
                        self.snaps.len() as u32 - 1
                    }
                };
                self.current[a] = s;
                s
            }
            s => s,
        };
        self.snaps[snap as usize].refs += 1;
        let item = Item {
            snap,
            actor: actor.0,
            time: clock.get(actor.0),
        };
        if let Some(old) = self.items.insert((queue.0, token), item) {
            // The same token put twice (malformed input): forget the first.
            self.release(old.snap);
        }
    }

    /// The get of item `token` from `queue`: joins the put's clock into
    /// `into`. An item never put contributes nothing. Returns whether `into`
    /// changed.
    pub fn get(&mut self, queue: ObjId, token: u64, into: &mut VClock) -> bool {
        let Some(item) = self.items.remove(&(queue.0, token)) else {
            return false;
        };
        let mut changed = into.join(&self.snaps[item.snap as usize].clock);
        if into.get(item.actor) < item.time {
            into.set(item.actor, item.time);
            changed = true;
        }
        self.release(item.snap);
        changed
    }

    /// Snapshots alive (shared by the items in flight).
    pub fn snapshots(&self) -> usize {
        self.snaps.len() - self.free.len()
    }

    fn release(&mut self, snap: u32) {
        let s = &mut self.snaps[snap as usize];
        s.refs -= 1;
        if s.refs == 0 && !self.current.contains(&snap) {
            self.free.push(snap);
        }
    }

    /// Items in flight.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(entries: &[u32]) -> VClock {
        let mut c = VClock::new();
        for (i, &t) in entries.iter().enumerate() {
            c.set(i as u32, t);
        }
        c
    }

    #[test]
    fn puts_between_acquires_share_a_snapshot() {
        let mut items = ItemClocks::new();
        let q = ObjId(3);
        items.put(q, 1, ActorId(0), &clock(&[1, 4]));
        items.put(q, 2, ActorId(0), &clock(&[2, 4]));
        assert_eq!(items.snaps.len(), 1);
        let mut got = clock(&[0, 0, 9]);
        items.get(q, 2, &mut got);
        assert_eq!(got.as_slice(), &[2, 4, 9]);
        let mut got = VClock::new();
        items.get(q, 1, &mut got);
        assert_eq!(got.as_slice(), &[1, 4]);
        assert!(items.is_empty());

        // After an acquire the actor's next put takes a new snapshot; the
        // old one is reused once nothing refers to it.
        items.put(q, 3, ActorId(0), &clock(&[3, 4]));
        items.invalidate(ActorId(0));
        items.put(q, 4, ActorId(0), &clock(&[4, 7]));
        assert_eq!(items.snaps.len(), 2);
        let mut got = VClock::new();
        items.get(q, 3, &mut got);
        assert_eq!(got.as_slice(), &[3, 4]);
        items.invalidate(ActorId(0));
        items.put(q, 5, ActorId(0), &clock(&[5, 8]));
        assert_eq!(items.snaps.len(), 2);
        let mut got = VClock::new();
        items.get(q, 5, &mut got);
        assert_eq!(got.as_slice(), &[5, 8]);
        let mut got = VClock::new();
        items.get(q, 4, &mut got);
        assert_eq!(got.as_slice(), &[4, 7]);
    }
}
