//! The analyses over real trace files (written by `TraceBuilder`, read back
//! by `TraceFile`).

use racetrace_analyzer::analyze_file;
use racetrace_analyzer::export::write_perfetto_file;
use racetrace_analyzer::graph::HbGraph;
use racetrace_analyzer::report::{render_deadlocks, render_races, render_summary};
use racetrace_formats::builder::TraceBuilder;
use racetrace_formats::{ActorId, MemberKind, ObjKind, Outcome, TraceFile};

fn lost_update(b: &mut TraceBuilder) {
    let counter = b.object(ObjKind::Instance, "Counter", "Counter");
    let value = b.key(counter, MemberKind::Attr, "value");
    let spawn = b.loc("app.py", 20, "main");
    let read = b.loc("app.py", 10, "bump");
    let write = b.loc("app.py", 11, "bump");
    let main = ActorId(0);
    let t1 = b.spawn(main, "worker-1", spawn);
    let t2 = b.spawn(main, "worker-2", spawn);
    b.start(t1, spawn);
    b.start(t2, spawn);
    b.read(t1, value, read);
    b.read(t2, value, read);
    b.write(t1, value, write);
    b.write(t2, value, write);
    b.exit(t1, write);
    b.exit(t2, write);
    b.join(main, t1, spawn);
    b.join(main, t2, spawn);
}

#[test]
fn lost_update_from_a_file() {
    let mut b = TraceBuilder::new("lost_update.py");
    lost_update(&mut b);
    let file = TraceFile::from_bytes(b.finish(&Outcome::Ok)).unwrap();
    let an = analyze_file(&file).unwrap();
    assert_eq!(an.events, 12);
    assert_eq!(an.actors, 3);
    assert_eq!(an.races.len(), 1);
    let text = render_races(&an, file.tables(), true);
    assert!(text.contains("Data race on Counter.value"), "{text}");
    assert!(
        text.contains("T1 (worker-1)") && text.contains("T2 (worker-2)"),
        "{text}"
    );
    assert!(
        text.contains("app.py:10") && text.contains("app.py:11"),
        "{text}"
    );
    assert!(render_deadlocks(&an, file.tables()).contains("No potential deadlocks"));
    assert!(render_summary(&an).contains("1 data race "));

    let json = serde_json::to_value(&an).unwrap();
    assert_eq!(json["races"][0]["key_name"], "Counter.value");
    assert_eq!(
        json["races"][0]["pairs"][0]["first"]["location"],
        "app.py:10"
    );
    assert_eq!(json["races"][0]["pairs"][0]["first"]["kind"], "read");

    let graph = HbGraph::build_file(&file).unwrap();
    let mut out = Vec::new();
    write_perfetto_file(&mut out, &file, Some(&graph)).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(doc["traceEvents"].as_array().unwrap().len() > 12);
}

#[test]
fn truncated_file_is_analyzed_up_to_its_last_complete_chunk() {
    let mut b = TraceBuilder::new("lost_update.py").with_chunk_size(64);
    lost_update(&mut b);
    let file = TraceFile::from_bytes(b.finish_truncated()).unwrap();
    assert!(file.truncation().is_some());
    let an = analyze_file(&file).unwrap();
    assert!(an.events <= 12);
    assert_eq!(an.events, file.events().count() as u64);
}

#[test]
fn lock_order_inversion_from_a_file() {
    let mut b = TraceBuilder::new("lock_order.py");
    let la = b.object(ObjKind::Lock, "Lock", "lock_a");
    let lb = b.object(ObjKind::Lock, "Lock", "lock_b");
    let l = b.loc("app.py", 1, "main");
    let (a1, b1) = (b.loc("app.py", 10, "one"), b.loc("app.py", 11, "one"));
    let (b2, a2) = (b.loc("app.py", 20, "two"), b.loc("app.py", 21, "two"));
    let main = ActorId(0);
    let t1 = b.spawn(main, "one", l);
    let t2 = b.spawn(main, "two", l);
    b.acquire(t1, la, a1);
    b.acquire(t1, lb, b1);
    b.release(t1, lb, b1);
    b.release(t1, la, a1);
    b.acquire(t2, lb, b2);
    b.acquire(t2, la, a2);
    b.release(t2, la, a2);
    b.release(t2, lb, b2);
    let file = TraceFile::from_bytes(b.finish(&Outcome::Ok)).unwrap();
    let an = analyze_file(&file).unwrap();
    assert_eq!(an.deadlocks.len(), 1);
    let text = render_deadlocks(&an, file.tables());
    assert!(text.contains("lock_a -> lock_b -> lock_a"), "{text}");
    assert!(
        text.contains("app.py:10") && text.contains("app.py:21"),
        "{text}"
    );
}
