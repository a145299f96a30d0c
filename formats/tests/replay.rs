//! A trace read as something to replay: the schedule and the step expected
//! at each point, in the words a divergence report uses.

use racetrace_formats::builder::TraceBuilder;
use racetrace_formats::*;

#[test]
fn a_trace_gives_its_schedule_and_the_expected_steps() {
    let mut b = TraceBuilder::new("tests/app.py");
    let main = ActorId(0);
    let l1 = b.loc("app.py", 10, "main");
    let l2 = b.loc("app.py", 11, "work");
    let counter = b.object(ObjKind::Instance, "Counter", "counter");
    let lock = b.object(ObjKind::Lock, "lock", "lock_a");
    let value = b.key(counter, MemberKind::Attr, "value");
    b.start(main, l1);
    let t1 = b.spawn(main, "worker-1", l1);
    b.start(t1, l2);
    b.acquire(t1, lock, l2);
    b.write(t1, value, l2);
    b.release(t1, lock, l2);
    b.exit(t1, l2);
    b.join(main, t1, l1);
    let trace = TraceFile::from_bytes(b.finish(&Outcome::Ok)).unwrap();
    let src = ReplaySource::of(&trace).unwrap();
    let actors: Vec<u32> = src.steps.iter().map(|a| a.0).collect();
    assert_eq!(actors, [0, 0, 1, 1, 1, 1, 1, 0]);
    assert_eq!(src.expected.len(), src.steps.len());
    let write = &src.expected[4];
    assert_eq!(write.kind, EventKind::Write);
    assert_eq!(
        (write.file.as_str(), write.line, write.function.as_str()),
        ("app.py", 11, "work")
    );
    assert_eq!(write.what, "counter.value");
    assert_eq!(src.expected[3].what, "lock_a");
    assert_eq!(src.expected[1].what, "T1 (worker-1)");
}

#[test]
fn a_missing_trace_is_an_error_naming_it() {
    let err = ReplaySource::open(std::path::Path::new("/nonexistent/x.rtrace")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/x.rtrace"), "{err}");
}
