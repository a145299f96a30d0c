//! Wakeup trees (Abdulla, Aronis, Jonsson, Sagonas: "Optimal Dynamic Partial
//! Order Reduction", POPL 2014): at each scheduling point of the current
//! execution, an ordered tree of event sequences still to be explored from
//! there. A race reversal is inserted only if no sequence already in the
//! tree (or already explored, the sleep set) starts the same Mazurkiewicz
//! class — which is what makes every class explored exactly once.
//!
//! Atomic steps (an asyncio task's code between two awaits) make one
//! change to the paper's algorithm. A step reads, then may branch on what
//! it read, so a step moved before a step whose writes it read may touch
//! other things there: a reversal ends with it as a step of unknown
//! footprint (`Cell::Unknown`). The paper's coverage rules trust every
//! footprint of a tree; a step of unknown footprint cannot be judged
//! independent of anything, and the sequences added after passing one (it
//! might have been a weak initial of them) might be covered once it is
//! known. Such nodes are *unsure*: they are followed only as the very event
//! of their actor that a sequence has next, and an unsure leaf covers only
//! the same sequence (what a longer one adds is added below it), so that
//! nothing counts on a node whose sequence the known footprint might show
//! was covered (the sleep sets of its exploration would then hide what the
//! other sequence needs). An unknown step is given its footprint, and made
//! sure, when a sequence brings the known event it stands for and nothing
//! before it could then have covered it (`refine`). This costs a few
//! executions of a class run twice, never a class missed; generated
//! programs whose steps branch on what they read check both against a brute
//! force (`tests/dpor_steps.rs`).
//!
//! All trees live in one arena with a free list; a scheduling point holds the
//! index of its first child. Taking the first child hands that child's
//! children to the next scheduling point.

use super::footprint::{dependent_in, Footprints};
use super::op::{Cell, Op, NONE};

#[derive(Clone, Copy, Debug)]
struct TNode {
    op: Op,
    first_child: u32,
    next_sibling: u32,
    /// Nothing may count on this node to cover a sequence: it stands for a
    /// step of unknown footprint, or it was added after passing one (or
    /// another such node) whose known footprint might have covered it.
    unsure: bool,
}

/// The arena of every wakeup tree of the current execution.
#[derive(Default)]
pub(crate) struct Forest {
    nodes: Vec<TNode>,
    free: Vec<u32>,
    /// The nodes an insertion followed, each with the first node of its
    /// level (see `refine`).
    path: Vec<(u32, u32)>,
    scratch: Vec<Op>,
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
        // A step of unknown footprint (one not run yet where it stands)
        // is only known to be its actor's next step: it can stand for
        // that actor's event, never for being independent of the rest.
        let mut independent = op.cell != Cell::Unknown;
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
    fn alloc(&mut self, op: Op, unsure: bool) -> u32 {
        let n = TNode {
            op,
            first_child: NONE,
            next_sibling: NONE,
            unsure: unsure || op.cell == Cell::Unknown,
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
        let n = self.alloc(op, false);
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
    pub fn insert(&mut self, fp: &Footprints, head: &mut u32, seq: &mut Seq, sleep: &[Op]) -> bool {
        seq.reset_remaining();
        // `parent == NONE` stands for the scheduling point's own list.
        let mut parent = NONE;
        // Passed a node that might have been a weak initial of the sequence
        // had its footprint been known: what is added is unsure.
        let mut unsure = false;
        self.path.clear();
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
            // The node followed, the event of the sequence it stands for,
            // and whether it may be counted on.
            let mut matched = None;
            while c != NONE {
                let n = self.nodes[c as usize];
                match (seq.weak_initial(fp, &n.op), n.unsure) {
                    (Some(pos), false) => {
                        matched = Some((c, pos, true));
                        break;
                    }
                    // An unsure node is followed only as the very event of
                    // its actor that the sequence has next (that event and
                    // the node are the same step): then what the sequence
                    // adds below it is what gets explored. A node of
                    // unknown footprint takes the event's and becomes sure
                    // if nothing before it could then have covered it.
                    (Some(Some(x)), true) => {
                        let sure = n.op.cell == Cell::Unknown
                            && seq.ops[x].cell != Cell::Unknown
                            && !unsure
                            && self.refine(fp, c, seq.ops[x], first, sleep);
                        matched = Some((c, Some(x), sure));
                        break;
                    }
                    _ => {}
                }
                unsure |= n.unsure;
                last = c;
                c = n.next_sibling;
            }
            match matched {
                Some((c, pos, sure)) => {
                    if let Some(x) = pos {
                        seq.remaining[x / 64] &= !(1 << (x % 64));
                    }
                    self.path.push((first, c));
                    let leaf = self.nodes[c as usize].first_child == NONE;
                    if leaf && (sure || !seq.any_remaining()) {
                        // A sure leaf covers what starts like it; an
                        // unsure one, only the very same sequence (below
                        // it, what remains is added: it leads on to it).
                        return false;
                    }
                    unsure |= !sure;
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
                        let n = self.alloc(seq.ops[x], unsure);
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

    /// A node of unknown footprint (a leaf: nothing is matched through an
    /// unsure node), found to be the step `op` (its actor's next step where
    /// the node stands): gives it that footprint and returns true, unless
    /// with it the node's sequence would not have been added — a sleeper
    /// of the scheduling point or a branch before it on its path is a weak
    /// initial of it. Such a node explores nothing new; counting on it to
    /// cover a sequence would lose that sequence (the sleep sets of its
    /// exploration hide it). Judged conservatively: a sleeper or an earlier
    /// branch of an actor of the path, or an earlier branch that is itself
    /// unsure, counts as covering.
    fn refine(&mut self, fp: &Footprints, node: u32, op: Op, first: u32, sleep: &[Op]) -> bool {
        let mut ops = std::mem::take(&mut self.scratch);
        ops.clear();
        ops.extend(self.path.iter().map(|&(_, n)| self.nodes[n as usize].op));
        ops.push(op);
        let covers = |s: &Op, from: usize| {
            s.cell == Cell::Unknown
                || ops[from..]
                    .iter()
                    .all(|o| o.actor != s.actor && !dependent_in(fp, o, s))
                || ops[from..].iter().any(|o| o.actor == s.actor)
        };
        let mut covered = sleep.iter().any(|s| covers(s, 0));
        // The branches before the path's node at each level, and before
        // this node at its own.
        let levels = self.path.iter().copied().chain([(first, node)]);
        for (level, (mut b, stop)) in levels.enumerate() {
            while !covered && b != stop {
                let n = &self.nodes[b as usize];
                covered = n.unsure || covers(&n.op, level);
                b = n.next_sibling;
            }
        }
        self.scratch = ops;
        if !covered {
            let n = &mut self.nodes[node as usize];
            n.op = op;
            n.unsure = false;
        }
        !covered
    }
}
