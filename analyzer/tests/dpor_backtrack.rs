//! Offline backtrack points: for a recorded execution, the schedule prefix
//! that reverses each reversible race.

mod dpor_sim;

use dpor_sim::{MOp, Program, State};
use racetrace_analyzer::dpor::backtrack_points;
use racetrace_formats::builder::TraceBuilder;
use racetrace_formats::{ActorId, Event, EventKind, MemberKind, ObjKind, Outcome, TraceFile};

use MOp::*;

#[test]
fn lost_update_trace_gives_the_prefix_that_reverses_the_race() {
    let mut b = TraceBuilder::new("counter.py");
    let main = ActorId(0);
    let l_spawn = b.loc("counter.py", 10, "main");
    let l_read = b.loc("counter.py", 4, "incr");
    let l_write = b.loc("counter.py", 5, "incr");
    let l_join = b.loc("counter.py", 12, "main");
    let counter = b.object(ObjKind::Instance, "Counter", "counter");
    let value = b.key(counter, MemberKind::Attr, "value");
    let worker = b.spawn(main, "worker", l_spawn); // 0
    b.start(worker, l_read); // 1
    b.read(worker, value, l_read); // 2
    b.write(worker, value, l_write); // 3
    b.read(main, value, l_read); // 4
    b.write(main, value, l_write); // 5
    b.exit(worker, l_write); // 6
    b.join(main, worker, l_join); // 7
    let trace = TraceFile::from_bytes(b.finish(&Outcome::Ok)).expect("valid trace");
    let events: Vec<Event> = trace.events().collect::<Result<_, _>>().expect("events");

    let points = backtrack_points(trace.tables(), &events);
    assert_eq!(points.len(), 1, "{points:?}");
    let p = &points[0];
    // The worker's write, then main's read: reversed, main reads the old
    // value before the worker writes — the lost update.
    assert_eq!((p.first, p.second), (3, 4));
    assert_eq!((p.first_actor, p.second_actor), (worker, main));
    assert_eq!(
        (p.first_kind, p.second_kind),
        (EventKind::Write, EventKind::Read)
    );
    assert_eq!(trace.tables().loc_display(p.first_loc), "counter.py:5");
    assert_eq!(trace.tables().loc_display(p.second_loc), "counter.py:4");
    assert_eq!(p.prefix.to_text(), "rts1:0,1*2,0");
}

#[test]
fn a_write_then_a_read_of_another_actor() {
    let mut b = TraceBuilder::new("t.py");
    let loc = b.loc("t.py", 1, "f");
    let o = b.object(ObjKind::Instance, "C", "c");
    let k1 = b.key(o, MemberKind::Attr, "a");
    let k2 = b.key(o, MemberKind::Attr, "b");
    let w = b.spawn(ActorId(0), "w", loc);
    b.write(w, k1, loc);
    b.write(ActorId(0), k2, loc);
    b.read(w, k2, loc);
    let trace = TraceFile::from_bytes(b.finish(&Outcome::Ok)).expect("valid trace");
    let events: Vec<Event> = trace.events().collect::<Result<_, _>>().expect("events");
    // The writes touch different keys; the write and the read of `b` race:
    // run the worker's read before main's write.
    let points = backtrack_points(trace.tables(), &events);
    assert_eq!(points.len(), 1);
    assert_eq!((points[0].first, points[0].second), (2, 3));
    assert_eq!(points[0].prefix.to_text(), "rts1:0,1*2");
}

/// Runs `p` with `schedule` (then lowest enabled actor first) and returns
/// the events.
fn run(p: &Program, schedule: &[ActorId]) -> Vec<Event> {
    let mut st = State::new(p);
    let (mut en, mut bl) = (Vec::new(), Vec::new());
    let mut events = Vec::new();
    let mut i = 0;
    loop {
        st.pending_all(&mut en, &mut bl);
        if en.is_empty() {
            return events;
        }
        let a = match schedule.get(i) {
            Some(&a) => {
                assert!(
                    en.iter().any(|e| e.actor == a),
                    "prefix step {i} not enabled"
                );
                a
            }
            None => en.iter().map(|e| e.actor).min().expect("enabled"),
        };
        events.push(st.step(a.0));
        i += 1;
    }
}

#[test]
fn every_prefix_is_feasible_and_reverses_its_race() {
    let programs = [
        Program {
            actors: vec![
                vec![Read(0), Write(0)],
                vec![Read(0), Write(0)],
                vec![Write(1), Read(0)],
            ],
        },
        Program {
            actors: vec![
                vec![Acquire(100), Write(0), Release(100), Read(1)],
                vec![Write(1), Acquire(100), Read(0), Release(100)],
            ],
        },
        Program {
            actors: vec![
                vec![Write(0), Set(200), Put(300)],
                vec![Wait(200), Read(0), Get(300)],
            ],
        },
    ];
    let tables = dpor_sim::tables();
    let mut total = 0;
    for p in &programs {
        let events = run(p, &[]);
        let points = backtrack_points(&tables, &events);
        total += points.len();
        for bt in &points {
            let replayed = run(p, &bt.prefix.steps);
            // After the prefix, the later event's operation has run and the
            // earlier one's has not: its actor is still before it.
            let n = bt.prefix.len();
            let count = |evs: &[Event], a: ActorId| evs.iter().filter(|e| e.actor == a).count();
            let first_nth = count(&events[..bt.first], bt.first_actor);
            assert!(count(&replayed[..n], bt.first_actor) <= first_nth, "{bt:?}");
            let second_nth = count(&events[..bt.second], bt.second_actor);
            let second = replayed[..n]
                .iter()
                .filter(|e| e.actor == bt.second_actor)
                .nth(second_nth)
                .expect("the later event ran within the prefix");
            assert_eq!(second.kind, bt.second_kind);
        }
    }
    assert!(total >= 3, "{total}");
}
