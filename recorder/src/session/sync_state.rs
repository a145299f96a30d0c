//! What a session keeps of the synchronization objects it has seen, to
//! write their events' `aux`: each lock's depth (an RLock's levels), each
//! barrier's generation, each queue's items as tokens (so that a get is
//! matched with the put of the same item).

use racetrace_formats::ObjId;

use super::Session;

impl Session {
    /// Depth of a lock after one more acquire (always 1 for plain locks).
    pub fn lock_acquired(&mut self, lock: ObjId, reentrant: bool) -> u32 {
        let d = self.lock_depth.entry(lock.0).or_insert(0);
        *d = if reentrant { *d + 1 } else { 1 };
        *d
    }

    /// The depth an acquire would record (`lock_acquired`), without taking
    /// it: the turn of the acquire is taken with its real event.
    pub fn lock_depth_after_acquire(&self, lock: ObjId, reentrant: bool) -> u32 {
        match self.lock_depth.get(&lock.0) {
            Some(&d) if reentrant => d + 1,
            _ => 1,
        }
    }

    /// The depth a release would record (`lock_released`), unchanged.
    pub fn lock_depth_before_release(&self, lock: ObjId) -> u32 {
        self.lock_depth.get(&lock.0).copied().unwrap_or(1).max(1)
    }

    /// Depth before a release; the depth drops by one.
    pub fn lock_released(&mut self, lock: ObjId) -> u32 {
        let d = self.lock_depth.entry(lock.0).or_insert(1);
        let before = (*d).max(1);
        *d = before - 1;
        before
    }

    /// Releases every level (a condition wait); returns the saved depth.
    pub fn lock_released_fully(&mut self, lock: ObjId) -> u32 {
        self.lock_depth.insert(lock.0, 0).unwrap_or(1).max(1)
    }

    pub fn lock_restore(&mut self, lock: ObjId, depth: u32) {
        self.lock_depth.insert(lock.0, depth.max(1));
    }

    /// Generation of the next arrival at a barrier with `parties` parties.
    pub fn barrier_arrive(&mut self, barrier: ObjId, parties: u64) -> u64 {
        let n = self.barrier_arrivals.entry(barrier.0).or_insert(0);
        let generation = *n / parties.max(1);
        *n += 1;
        generation
    }

    pub fn queue_put(&mut self, queue: ObjId, item: usize) -> u64 {
        let token = self.next_token;
        self.next_token += 1;
        self.queue_tokens
            .entry((queue.0, item))
            .or_default()
            .push_back(token);
        token
    }

    /// Whether the items of `queue` are known (see `queue_seen`).
    pub fn queue_known(&self, queue: ObjId) -> bool {
        self.queue_initial.contains_key(&queue.0)
    }

    /// The items `queue` holds when first seen (put before the recording
    /// or the run began): they get tokens, as if put then, so that their
    /// gets are matched.
    pub fn queue_seen(&mut self, queue: ObjId, items: &[usize]) {
        if self.queue_known(queue) {
            return;
        }
        for &item in items {
            self.queue_put(queue, item);
        }
        self.queue_initial.insert(queue.0, items.len() as u32);
    }

    /// How many items `queue` held when first seen (0 if never seen).
    pub fn queue_initial_len(&self, queue: ObjId) -> u32 {
        self.queue_initial.get(&queue.0).copied().unwrap_or(0)
    }

    pub fn queue_get(&mut self, queue: ObjId, item: usize) -> Option<u64> {
        let q = self.queue_tokens.get_mut(&(queue.0, item))?;
        let t = q.pop_front();
        if q.is_empty() {
            self.queue_tokens.remove(&(queue.0, item));
        }
        t
    }
}
