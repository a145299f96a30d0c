//! Lock-order analysis on small hand-built traces.

mod common;

use common::{Trace, MAIN};
use racetrace_analyzer::report::render_deadlocks;
use racetrace_formats::EventKind;

#[test]
fn ab_ba_in_two_threads_is_one_potential_deadlock() {
    let mut t = Trace::new();
    let a = t.lock("lock_a");
    let b = t.lock("lock_b");
    let l = t.line(1);
    let (t1a, t1b, t2b, t2a) = (t.line(10), t.line(11), t.line(20), t.line(21));
    let w1 = t.spawn(MAIN, "w1", l);
    let w2 = t.spawn(MAIN, "w2", l);
    // The run completes: w1 finishes before w2 starts taking locks.
    t.acquire(w1, a, t1a);
    t.acquire(w1, b, t1b);
    t.release(w1, b, t1b);
    t.release(w1, a, t1a);
    t.acquire(w2, b, t2b);
    t.acquire(w2, a, t2a);
    t.release(w2, a, t2a);
    t.release(w2, b, t2b);
    let an = t.analyze();
    assert_eq!(an.deadlocks.len(), 1, "{an:#?}");
    let d = &an.deadlocks[0];
    assert_eq!(d.edges.len(), 2);
    let names: Vec<&str> = d.locks.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["lock_a", "lock_b"]);
    assert_eq!(d.edges[0].actor, w1);
    assert_eq!(d.edges[0].held_location, "app.py:10");
    assert_eq!(d.edges[0].acquire_location, "app.py:11");
    assert_eq!(d.edges[1].actor, w2);
    assert_eq!(d.edges[1].held_location, "app.py:20");
    assert_eq!(d.edges[1].acquire_location, "app.py:21");
    let text = render_deadlocks(&an, &t.tables);
    assert!(text.contains("lock_a -> lock_b -> lock_a"), "{text}");
}

#[test]
fn same_actor_inversion_is_not_reported() {
    let mut t = Trace::new();
    let a = t.lock("lock_a");
    let b = t.lock("lock_b");
    let l = t.line(1);
    t.acquire(MAIN, a, l);
    t.acquire(MAIN, b, l);
    t.release(MAIN, b, l);
    t.release(MAIN, a, l);
    t.acquire(MAIN, b, l);
    t.acquire(MAIN, a, l);
    t.release(MAIN, a, l);
    t.release(MAIN, b, l);
    assert!(t.analyze().deadlocks.is_empty());
}

#[test]
fn gate_locked_inversion_is_not_reported() {
    let mut t = Trace::new();
    let g = t.lock("gate");
    let a = t.lock("lock_a");
    let b = t.lock("lock_b");
    let l = t.line(1);
    let w1 = t.spawn(MAIN, "w1", l);
    let w2 = t.spawn(MAIN, "w2", l);
    for (w, first, second) in [(w1, a, b), (w2, b, a)] {
        t.acquire(w, g, l);
        t.acquire(w, first, l);
        t.acquire(w, second, l);
        t.release(w, second, l);
        t.release(w, first, l);
        t.release(w, g, l);
    }
    let an = t.analyze();
    assert!(an.deadlocks.is_empty(), "{:#?}", an.deadlocks);

    // A "gate" taken after the first lock does not protect: reported.
    let mut t = Trace::new();
    let g = t.lock("gate");
    let a = t.lock("lock_a");
    let b = t.lock("lock_b");
    let l = t.line(1);
    let w1 = t.spawn(MAIN, "w1", l);
    let w2 = t.spawn(MAIN, "w2", l);
    for (w, first, second) in [(w1, a, b), (w2, b, a)] {
        t.acquire(w, first, l);
        t.acquire(w, g, l);
        t.release(w, g, l);
        t.acquire(w, second, l);
        t.release(w, second, l);
        t.release(w, first, l);
    }
    assert!(!t.analyze().deadlocks.is_empty());
}

#[test]
fn rlock_reentry_is_not_an_acquire() {
    let mut t = Trace::new();
    let a = t.lock("lock_a");
    let r = t.lock("rlock");
    let l = t.line(1);
    let w1 = t.spawn(MAIN, "w1", l);
    let w2 = t.spawn(MAIN, "w2", l);
    // w1: rlock, a (while holding rlock). w2: a, then re-enters... nothing
    // new: it takes the rlock once (depth 1) before a, and re-enters it
    // (depth 2) while holding a — not an a -> rlock edge.
    t.acquire(w1, r, l);
    t.acquire(w1, a, l);
    t.release(w1, a, l);
    t.release(w1, r, l);
    t.acquire(w2, r, l);
    t.acquire(w2, a, l);
    t.event(w2, EventKind::LockAcquire, l, r.0, 2);
    t.event(w2, EventKind::LockRelease, l, r.0, 2);
    t.release(w2, a, l);
    t.release(w2, r, l);
    assert!(t.analyze().deadlocks.is_empty());
}

#[test]
fn three_way_cycle_is_found_once() {
    let mut t = Trace::new();
    let locks = [t.lock("a"), t.lock("b"), t.lock("c")];
    let l = t.line(1);
    let ws: Vec<_> = (0..3).map(|i| t.spawn(MAIN, &format!("w{i}"), l)).collect();
    for i in 0..3 {
        let (x, y) = (locks[i], locks[(i + 1) % 3]);
        t.acquire(ws[i], x, l);
        t.acquire(ws[i], y, l);
        t.release(ws[i], y, l);
        t.release(ws[i], x, l);
    }
    let an = t.analyze();
    assert_eq!(an.deadlocks.len(), 1, "{:#?}", an.deadlocks);
    assert_eq!(an.deadlocks[0].edges.len(), 3);
}

#[test]
fn inversion_between_threads_ordered_by_start_and_join_is_not_reported() {
    // t1.start(); t1.join(); t2.start(): t1 and t2 never run together.
    let mut t = Trace::new();
    let a = t.lock("lock_a");
    let b = t.lock("lock_b");
    let l = t.line(1);
    let w1 = t.spawn(MAIN, "w1", l);
    t.acquire(w1, a, l);
    t.acquire(w1, b, l);
    t.release(w1, b, l);
    t.release(w1, a, l);
    t.exit(w1, l);
    t.join(MAIN, w1, l);
    let w2 = t.spawn(MAIN, "w2", l);
    t.acquire(w2, b, l);
    t.acquire(w2, a, l);
    t.release(w2, a, l);
    t.release(w2, b, l);
    assert!(t.analyze().deadlocks.is_empty());

    // The main thread inverting the order after joining w1: same.
    let mut t = Trace::new();
    let a = t.lock("lock_a");
    let b = t.lock("lock_b");
    let l = t.line(1);
    let w1 = t.spawn(MAIN, "w1", l);
    t.acquire(w1, a, l);
    t.acquire(w1, b, l);
    t.release(w1, b, l);
    t.release(w1, a, l);
    t.exit(w1, l);
    t.join(MAIN, w1, l);
    t.acquire(MAIN, b, l);
    t.acquire(MAIN, a, l);
    assert!(t.analyze().deadlocks.is_empty());

    // But main inverting it while w1 may still run: reported.
    let mut t = Trace::new();
    let a = t.lock("lock_a");
    let b = t.lock("lock_b");
    let l = t.line(1);
    let w1 = t.spawn(MAIN, "w1", l);
    t.acquire(w1, a, l);
    t.acquire(w1, b, l);
    t.release(w1, b, l);
    t.release(w1, a, l);
    t.acquire(MAIN, b, l);
    t.acquire(MAIN, a, l);
    assert_eq!(t.analyze().deadlocks.len(), 1);
}
