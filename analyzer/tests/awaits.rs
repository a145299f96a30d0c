//! Atomicity violations across an await, between asyncio tasks, on small
//! hand-built traces; and no data race between the steps of tasks.

mod common;

use common::{Trace, MAIN};
use racetrace_formats::{ActorDesc, ActorId, ActorKind, EventKind, LocId};

fn task(t: &mut Trace, name: &str, loc: LocId) -> ActorId {
    let child = ActorId(t.tables.actors.len() as u32);
    let name = t.str(name);
    t.tables.actors.push(ActorDesc {
        kind: ActorKind::Task,
        name,
        parent: Some(MAIN),
        created_by_event: Some(t.events.len() as u64),
    });
    t.event(MAIN, EventKind::TaskCreate, loc, child.0, 0);
    child
}

/// A step of `a` begins on the main thread's loop.
fn switch(t: &mut Trace, a: ActorId, loc: LocId) {
    t.event(a, EventKind::TaskSwitch, loc, a.0, u64::from(MAIN.0) + 1);
}

/// Two tasks `v = c.value; [await]; c.value = v + 1`, interleaved at the
/// await when `split` (both read, then both write); without it each runs
/// its read and write in one step.
fn increments(split: bool) -> Trace {
    let mut t = Trace::new();
    let value = t.attr("Counter", "value");
    let (l_def, l_read, l_await, l_write) = (t.line(7), t.line(8), t.line(9), t.line(10));
    let a = task(&mut t, "task-1", l_def);
    let b = task(&mut t, "task-2", l_def);
    if split {
        for w in [a, b] {
            switch(&mut t, w, l_def);
            t.read(w, value, l_read);
        }
        for w in [a, b] {
            switch(&mut t, w, l_await);
            t.write(w, value, l_write);
        }
    } else {
        for w in [a, b] {
            switch(&mut t, w, l_def);
            t.read(w, value, l_read);
            t.write(w, value, l_write);
        }
    }
    t
}

#[test]
fn a_read_and_a_write_split_by_an_await_are_reported_with_the_await() {
    let an = increments(true).analyze();
    assert_eq!(an.await_violations.len(), 1, "{:?}", an.await_violations);
    let v = &an.await_violations[0];
    assert_eq!(v.key_name, "Counter.value");
    assert_eq!(v.actor_name, "T2 (task-2)");
    assert_eq!(v.other_name, "T1 (task-1)");
    assert!(v.read_location.ends_with(":8") && v.await_location.ends_with(":9"));
    assert!(v.other_location.ends_with(":10") && v.write_location.ends_with(":10"));
    assert!(v.read_event < v.other_event && v.other_event < v.write_event);
    // Steps of one loop never overlap: no data race between the tasks.
    assert!(an.races.is_empty(), "{:?}", an.races);
    assert!(an.has_findings());
}

#[test]
fn no_await_between_the_read_and_the_write_is_no_finding() {
    let an = increments(false).analyze();
    assert!(an.await_violations.is_empty());
    assert!(an.races.is_empty());
    assert!(!an.has_findings());
}

#[test]
fn threads_still_race_with_each_other() {
    // The same accesses by threads (no task switches) are a data race.
    let mut t = Trace::new();
    let value = t.attr("Counter", "value");
    let l = t.line(1);
    let a = t.spawn(MAIN, "w1", l);
    let b = t.spawn(MAIN, "w2", l);
    for w in [a, b] {
        t.read(w, value, l);
    }
    for w in [a, b] {
        t.write(w, value, l);
    }
    let an = t.analyze();
    assert!(!an.races.is_empty());
    assert!(an.await_violations.is_empty());
}
