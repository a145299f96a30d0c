//! Race detection on small hand-built traces.

mod common;

use common::{Trace, MAIN};
use racetrace_analyzer::races::RaceClass;
use racetrace_analyzer::report::render_races;
use racetrace_formats::{ActorId, EventKind, KeyId, MemberKind, ObjKind};

/// Two workers each do `v = c.value; c.value = v + 1`.
fn lost_update(locked: bool) -> Trace {
    let mut t = Trace::new();
    let value = t.attr("Counter", "value");
    let lock = t.lock("lock");
    let l_spawn = t.line(1);
    let l_read = t.line(10);
    let l_write = t.line(11);
    let l_lock = t.line(9);
    let a = t.spawn(MAIN, "worker-1", l_spawn);
    let b = t.spawn(MAIN, "worker-2", l_spawn);
    // Interleaved: both read, then both write.
    for w in [a, b] {
        if locked {
            t.acquire(w, lock, l_lock);
        }
        t.read(w, value, l_read);
        if locked {
            t.write(w, value, l_write);
            t.release(w, lock, l_lock);
        }
    }
    if !locked {
        t.write(a, value, l_write);
        t.write(b, value, l_write);
    }
    t
}

#[test]
fn lost_update_is_one_race_group_naming_both_locations() {
    let t = lost_update(false);
    let an = t.analyze();
    assert_eq!(an.races.len(), 1, "{an:#?}");
    let g = &an.races[0];
    assert_eq!(g.key_name, "Counter.value");
    let locs: Vec<&str> = g
        .pairs
        .iter()
        .flat_map(|p| [p.first.location.as_str(), p.second.location.as_str()])
        .collect();
    assert!(locs.contains(&"app.py:10"), "{locs:?}");
    assert!(locs.contains(&"app.py:11"), "{locs:?}");
    for p in &g.pairs {
        assert_ne!(p.first.actor, p.second.actor);
        assert!(p.first.is_write() || p.second.is_write());
        assert!(p.first.event < p.second.event);
    }
    let text = render_races(&an, &t.tables, true);
    assert!(text.contains("Counter.value"), "{text}");
    assert!(
        text.contains("app.py:10") && text.contains("app.py:11"),
        "{text}"
    );
}

#[test]
fn lost_update_under_a_lock_is_not_a_race() {
    let an = lost_update(true).analyze();
    assert!(an.races.is_empty(), "{:#?}", an.races);
}

#[test]
fn spawn_and_join_order_parent_and_child() {
    let mut t = Trace::new();
    let k = t.attr("Config", "x");
    let l = t.line(1);
    t.write(MAIN, k, l);
    let c = t.spawn(MAIN, "child", l);
    t.write(c, k, l);
    t.exit(c, l);
    t.join(MAIN, c, l);
    t.read(MAIN, k, l);
    assert!(t.analyze().races.is_empty());

    // Without the join, the parent's read races with the child's write.
    let mut t = Trace::new();
    let k = t.attr("Config", "x");
    let l = t.line(1);
    let c = t.spawn(MAIN, "child", l);
    t.write(c, k, l);
    t.read(MAIN, k, l);
    assert_eq!(t.analyze().races.len(), 1);
}

/// A writer writes `data.x`, `sync` adds events of the writer and the
/// reader, then the reader reads `data.x`; returns the number of race groups.
fn publish(sync: impl Fn(&mut Trace, ActorId, ActorId)) -> usize {
    let mut t = Trace::new();
    let k = t.attr("data", "x");
    let l = t.line(1);
    let w = t.spawn(MAIN, "writer", l);
    let r = t.spawn(MAIN, "reader", l);
    t.write(w, k, l);
    sync(&mut t, w, r);
    let lr = t.line(3);
    t.read(r, k, lr);
    t.analyze().races.len()
}

#[test]
fn each_sync_kind_removes_the_race_it_should() {
    assert_eq!(publish(|_, _, _| {}), 1, "no sync: a race");

    assert_eq!(
        publish(|t, w, r| {
            let e = t.object(ObjKind::Event, "ready");
            let l = t.line(2);
            t.event(w, EventKind::EventSet, l, e.0, 0);
            t.event(r, EventKind::EventWait, l, e.0, 0);
        }),
        0,
        "set -> wait"
    );
    assert_eq!(
        publish(|t, w, r| {
            let e = t.object(ObjKind::Event, "ready");
            let l = t.line(2);
            t.event(w, EventKind::EventSet, l, e.0, 0);
            t.event(r, EventKind::EventWaitTimeout, l, e.0, 0);
        }),
        1,
        "a timed-out wait orders nothing"
    );
    assert_eq!(
        publish(|t, w, r| {
            let q = t.object(ObjKind::Queue, "q");
            let l = t.line(2);
            t.event(w, EventKind::QueuePut, l, q.0, 41);
            t.event(r, EventKind::QueueGet, l, q.0, 41);
        }),
        0,
        "put -> get"
    );
    assert_eq!(
        publish(|t, w, r| {
            let q = t.object(ObjKind::Queue, "q");
            let l = t.line(2);
            t.event(w, EventKind::QueuePut, l, q.0, 41);
            t.event(r, EventKind::QueueGet, l, q.0, 42);
        }),
        1,
        "getting another item orders nothing"
    );
    assert_eq!(
        publish(|t, w, r| {
            let b = t.object(ObjKind::Barrier, "b");
            let l = t.line(2);
            t.event(w, EventKind::BarrierArrive, l, b.0, 0);
            t.event(r, EventKind::BarrierArrive, l, b.0, 0);
            t.event(r, EventKind::BarrierLeave, l, b.0, 0);
            t.event(w, EventKind::BarrierLeave, l, b.0, 0);
        }),
        0,
        "barrier"
    );
    assert_eq!(
        publish(|t, w, r| {
            let c = t.object(ObjKind::Condition, "cond");
            let l = t.line(2);
            t.event(r, EventKind::CondWait, l, c.0, 0);
            t.event(w, EventKind::CondNotify, l, c.0, 1);
            t.event(r, EventKind::CondWake, l, c.0, 1);
        }),
        0,
        "notify -> wake"
    );
    assert_eq!(
        publish(|t, w, r| {
            let s = t.object(ObjKind::Semaphore, "sem");
            let l = t.line(2);
            t.event(w, EventKind::SemRelease, l, s.0, 0);
            t.event(r, EventKind::SemAcquire, l, s.0, 0);
        }),
        0,
        "semaphore release -> acquire"
    );
}

#[test]
fn tasks_create_and_await() {
    let mut t = Trace::new();
    let k = t.attr("state", "n");
    let l = t.line(1);
    t.write(MAIN, k, l);
    let task = ActorId(1);
    t.tables.actors.push(t.tables.actors[0]);
    t.event(MAIN, EventKind::TaskCreate, l, task.0, 0);
    t.event(MAIN, EventKind::TaskSwitch, l, MAIN.0, 0);
    t.write(task, k, l);
    t.event(task, EventKind::ActorExit, l, task.0, 0);
    t.event(MAIN, EventKind::TaskAwait, l, task.0, 0);
    t.read(MAIN, k, l);
    assert!(t.analyze().races.is_empty());
}

#[test]
fn whole_container_operation_races_with_member_access() {
    let mut t = Trace::new();
    let items = t.object(ObjKind::List, "items");
    let whole = t.key(items, MemberKind::Whole, "");
    let first = t.key(items, MemberKind::Item, "0");
    let l_append = t.line(5);
    let l_set = t.line(6);
    let l = t.line(1);
    let a = t.spawn(MAIN, "a", l);
    let b = t.spawn(MAIN, "b", l);
    t.write(a, whole, l_append);
    t.read(b, first, l_set);
    let an = t.analyze();
    assert_eq!(an.races.len(), 1, "{an:#?}");
    assert_eq!(an.races[0].key, whole);
    let p = &an.races[0].pairs[0];
    assert_eq!((p.first.key, p.second.key), (whole, first));
    assert_eq!(p.first.location, "app.py:5");
    assert_eq!(p.second.location, "app.py:6");

    // Member first, whole second: also found.
    let mut t2 = Trace::new();
    let items = t2.object(ObjKind::List, "items");
    let whole = t2.key(items, MemberKind::Whole, "");
    let first = t2.key(items, MemberKind::Item, "0");
    let l = t2.line(1);
    let a = t2.spawn(MAIN, "a", l);
    let b = t2.spawn(MAIN, "b", l);
    t2.write(a, first, l);
    t2.read(b, whole, l);
    assert_eq!(t2.analyze().races.len(), 1);

    // Two reads never race, whole or not.
    let mut t3 = Trace::new();
    let items = t3.object(ObjKind::List, "items");
    let whole = t3.key(items, MemberKind::Whole, "");
    let first = t3.key(items, MemberKind::Item, "0");
    let l = t3.line(1);
    let a = t3.spawn(MAIN, "a", l);
    let b = t3.spawn(MAIN, "b", l);
    t3.read(a, first, l);
    t3.read(b, whole, l);
    t3.read(a, whole, l);
    assert!(t3.analyze().races.is_empty());
}

#[test]
fn same_location_pair_is_reported_once() {
    let mut t = Trace::new();
    let k = t.attr("Counter", "value");
    let l = t.line(1);
    let lw = t.line(2);
    let a = t.spawn(MAIN, "a", l);
    let b = t.spawn(MAIN, "b", l);
    for _ in 0..50 {
        t.write(a, k, lw);
        t.write(b, k, lw);
    }
    let an = t.analyze();
    assert_eq!(an.races.len(), 1);
    assert_eq!(an.races[0].pairs.len(), 1);
    assert_eq!(an.races[0].pairs[0].occurrences, 99);
}

#[test]
fn a_lost_update_is_an_atomicity_violation() {
    let an = lost_update(false).analyze();
    let g = &an.races[0];
    assert_eq!(g.class, RaceClass::AtomicityViolation);
    // Its read-write pair is what makes it one.
    assert!(g
        .pairs
        .iter()
        .any(|p| p.class == RaceClass::AtomicityViolation
            && !(p.first.is_write() && p.second.is_write())));
}

/// Two actors append to one list, and one of them also checks its length
/// before appending to another list.
fn appends() -> (Trace, KeyId, KeyId) {
    let mut t = Trace::new();
    let items = t.object(ObjKind::List, "items");
    let whole = t.key(items, MemberKind::Whole, "");
    let log = t.object(ObjKind::List, "log");
    let log_whole = t.key(log, MemberKind::Whole, "");
    let l = t.line(20);
    let a = t.spawn(MAIN, "a", l);
    let b = t.spawn(MAIN, "b", l);
    let lines: Vec<_> = (21..25).map(|n| t.line(n)).collect();
    t.write(a, whole, lines[0]);
    t.write(b, whole, lines[1]);
    t.read(a, log_whole, lines[2]);
    t.write(b, log_whole, lines[3]);
    (t, whole, log_whole)
}

#[test]
fn two_appends_are_order_only_and_a_check_against_an_append_is_not() {
    let (t, whole, log_whole) = appends();
    let an = t.analyze();
    assert_eq!(an.races.len(), 2, "{:#?}", an.races);
    // Atomicity violations come first, whatever the order of detection.
    assert_eq!(an.races[0].key, log_whole);
    assert_eq!(an.races[0].class, RaceClass::AtomicityViolation);
    assert_eq!(an.races[1].key, whole);
    assert_eq!(an.races[1].class, RaceClass::OrderOnly);
    let shown = render_races(&an, &t.tables, false);
    assert!(
        shown.contains("2 data races found: 1 atomicity violation, 1 order-only"),
        "{shown}"
    );
    assert!(
        shown.contains("log (whole)") && !shown.contains("items (whole)"),
        "{shown}"
    );
    let all = render_races(&an, &t.tables, true);
    assert!(
        all.contains("Data race on items (whole), order-only"),
        "{all}"
    );
}
