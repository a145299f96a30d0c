//! Wakeup trees (Abdulla, Aronis, Jonsson, Sagonas: "Optimal Dynamic Partial
//! Order Reduction", POPL 2014): at each scheduling point of the current
//! execution, an ordered tree of event sequences still to be explored from
//! there. A race reversal is inserted only if no sequence already in the
//! tree (or already explored, the sleep set) starts the same Mazurkiewicz
//! class — which is what makes every class explored exactly once.
//!
//! All trees live in one arena with a free list; a scheduling point holds the
//! index of its first child. Taking the first child hands that child's
//! children to the next scheduling point.

use super::footprint::{dependent_in, Footprints};
use super::op::{Op, NONE};

#[derive(Clone, Copy, Debug)]
struct TNode {
    op: Op,
    first_child: u32,
    next_sibling: u32,
}

/// The arena of every wakeup tree of the current execution.
#[derive(Default)]
pub(crate) struct Forest {
    nodes: Vec<TNode>,
    free: Vec<u32>,
}

/// A sequence to insert, with happens-before inside it: `pred[x]` is the
/// set (bitset over positions) of earlier positions that happen before `x`.
#[derive(Default)]
pub(crate) struct Seq {
    pub ops: Vec<Op>,
    words: usize,
    pred: Vec<u64>,
    remaining: Vec<u64>,
}

impl Seq {
    /// Starts a sequence of `len` operations (filled by `push`).
    pub fn begin(&mut self, len: usize) {
        self.ops.clear();
        self.words = len.div_ceil(64).max(1);
        self.pred.clear();
        self.pred.resize(self.words * len, 0);
    }

    /// Appends an operation; `hb(y)` says whether position `y` happens
    /// before it.
    pub fn push(&mut self, op: Op, mut hb: impl FnMut(usize) -> bool) {
        let x = self.ops.len();
        let row = x * self.words;
        for y in 0..x {
            if hb(y) {
                self.pred[row + y / 64] |= 1 << (y % 64);
            }
        }
        self.ops.push(op);
    }

    /// Appends the last operation, whose predecessors are derived from
    /// dependency (it did not run at this place, so no clock says them),
    /// and from `waker`: whether position `y` holds a step that must come
    /// first (what made an atomic step resuming a task ready).
    pub fn push_last(&mut self, fp: &Footprints, op: Op, waker: impl Fn(usize) -> bool) {
        let x = self.ops.len();
        let row = x * self.words;
        for y in 0..x {
            let o = &self.ops[y];
            if o.actor == op.actor || waker(y) || dependent_in(fp, o, &op) {
                self.pred[row + y / 64] |= 1 << (y % 64);
                for w in 0..self.words {
                    let p = self.pred[y * self.words + w];
                    self.pred[row + w] |= p;
                }
            }
        }
        self.ops.push(op);
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    fn reset_remaining(&mut self) {
        self.remaining.clear();
        self.remaining.resize(self.words, 0);
        for x in 0..self.ops.len() {
            self.remaining[x / 64] |= 1 << (x % 64);
        }
    }

    #[inline]
    fn is_remaining(&self, x: usize) -> bool {
        self.remaining[x / 64] >> (x % 64) & 1 == 1
    }

    fn any_remaining(&self) -> bool {
        self.remaining.iter().any(|&w| w != 0)
    }

    /// Weak initials: can an actor whose next operation is `op` go first
    /// and still lead to the class of the remaining sequence? Yes if its
    /// first remaining event has no remaining predecessor (returns that
    /// position), or if it has none in the sequence and `op` is independent
    /// of all of it.
    fn weak_initial(&self, fp: &Footprints, op: &Op) -> Option<Option<usize>> {
        let mut independent = true;
        for x in 0..self.ops.len() {
            if !self.is_remaining(x) {
                continue;
            }
            let o = &self.ops[x];
            if o.actor == op.actor {
                let row = &self.pred[x * self.words..(x + 1) * self.words];
                let blocked = row.iter().zip(&self.remaining).any(|(p, r)| p & r != 0);
                return if blocked { None } else { Some(Some(x)) };
            }
            if independent && dependent_in(fp, o, op) {
                independent = false;
            }
        }
        independent.then_some(None)
    }

    /// Whether some sleeping actor (its next operation `op`) can start this
    /// sequence's class: then the class was explored already.
    pub fn covered_by_sleeper(&mut self, fp: &Footprints, sleep: &[Op]) -> bool {
        self.reset_remaining();
        sleep.iter().any(|op| self.weak_initial(fp, op).is_some())
    }
}

impl Forest {
    fn alloc(&mut self, op: Op) -> u32 {
        let n = TNode {
            op,
            first_child: NONE,
            next_sibling: NONE,
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = n;
                i
            }
            None => {
                self.nodes.push(n);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Removes the first child of `head`: returns its operation and its
    /// children (the wakeup tree of the next scheduling point).
    pub fn take_first(&mut self, head: &mut u32) -> Option<(Op, u32)> {
        if *head == NONE {
            return None;
        }
        let i = *head;
        let n = self.nodes[i as usize];
        *head = n.next_sibling;
        self.free.push(i);
        Some((n.op, n.first_child))
    }

    /// Frees a whole list of subtrees.
    pub fn free_list(&mut self, head: u32) {
        let mut stack = vec![head];
        while let Some(mut i) = stack.pop() {
            while i != NONE {
                let n = self.nodes[i as usize];
                if n.first_child != NONE {
                    stack.push(n.first_child);
                }
                self.free.push(i);
                i = n.next_sibling;
            }
        }
    }

    /// Appends `op` as a last branch of the list at `*head`, whatever the
    /// branches before it (a fully expanded point explores every actor).
    pub fn push_branch(&mut self, head: &mut u32, op: Op) {
        let n = self.alloc(op);
        let mut i = *head;
        if i == NONE {
            *head = n;
            return;
        }
        while self.nodes[i as usize].next_sibling != NONE {
            i = self.nodes[i as usize].next_sibling;
        }
        self.nodes[i as usize].next_sibling = n;
    }

    /// Number of first-level branches in the list starting at `head`.
    pub fn branches(&self, head: u32) -> u64 {
        let (mut count, mut i) = (0, head);
        while i != NONE {
            count += 1;
            i = self.nodes[i as usize].next_sibling;
        }
        count
    }

    /// Number of leaves below `head` (sequences waiting to be explored).
    pub fn leaves(&self, head: u32) -> u64 {
        let mut count = 0;
        let mut stack = vec![head];
        while let Some(mut i) = stack.pop() {
            while i != NONE {
                let n = &self.nodes[i as usize];
                if n.first_child == NONE {
                    count += 1;
                } else {
                    stack.push(n.first_child);
                }
                i = n.next_sibling;
            }
        }
        count
    }

    /// Inserts `seq` into the tree whose child list starts at `*head`, unless
    /// a sequence of the tree already leads to its class. Walks down: at
    /// each level the first child that is a weak initial of what remains is
    /// followed (its event removed from the sequence); reaching a leaf, or
    /// using up the sequence, means it is covered. Otherwise what remains is
    /// added as a new last branch. Returns whether something was added.
    pub fn insert(&mut self, fp: &Footprints, head: &mut u32, seq: &mut Seq) -> bool {
        seq.reset_remaining();
        // `parent == NONE` stands for the scheduling point's own list.
        let mut parent = NONE;
        loop {
            if !seq.any_remaining() {
                return false;
            }
            let first = if parent == NONE {
                *head
            } else {
                self.nodes[parent as usize].first_child
            };
            let mut c = first;
            let mut last = NONE;
            let mut matched = None;
            while c != NONE {
                let n = &self.nodes[c as usize];
                if let Some(pos) = seq.weak_initial(fp, &n.op) {
                    matched = Some((c, pos));
                    break;
                }
                last = c;
                c = n.next_sibling;
            }
            match matched {
                Some((c, pos)) => {
                    if let Some(x) = pos {
                        seq.remaining[x / 64] &= !(1 << (x % 64));
                    }
                    if self.nodes[c as usize].first_child == NONE {
                        return false;
                    }
                    parent = c;
                }
                None => {
                    // A chain of what remains, hung after `last`.
                    let mut top = NONE;
                    let mut prev = NONE;
                    for x in 0..seq.ops.len() {
                        if !seq.is_remaining(x) {
                            continue;
                        }
                        let n = self.alloc(seq.ops[x]);
                        if prev == NONE {
                            top = n;
                        } else {
                            self.nodes[prev as usize].first_child = n;
                        }
                        prev = n;
                    }
                    if last != NONE {
                        self.nodes[last as usize].next_sibling = top;
                    } else if parent == NONE {
                        *head = top;
                    } else {
                        self.nodes[parent as usize].first_child = top;
                    }
                    return true;
                }
            }
        }
    }
}
