//! The segment graph and its exports.

mod common;

use common::{Trace, MAIN};
use racetrace_analyzer::export::{to_dot, to_json, write_perfetto};
use racetrace_analyzer::graph::HbGraph;
use racetrace_analyzer::sync::EdgeKind;

/// main writes, spawns a worker, the worker takes a lock and writes, main
/// takes the lock after it, joins it and reads.
fn trace() -> Trace {
    let mut t = Trace::new();
    let k = t.attr("Counter", "value");
    let lock = t.lock("lock");
    let l = t.line(1);
    t.write(MAIN, k, l); // 0
    let w = t.spawn(MAIN, "worker", l); // 1 spawn, 2 start
    t.acquire(w, lock, l); // 3
    t.write(w, k, l); // 4
    t.release(w, lock, l); // 5
    t.acquire(MAIN, lock, l); // 6
    t.read(MAIN, k, l); // 7
    t.release(MAIN, lock, l); // 8
    t.exit(w, l); // 9
    t.join(MAIN, w, l); // 10
    t.read(MAIN, k, l); // 11
    t
}

#[test]
fn segments_and_sync_edges() {
    let t = trace();
    let g = HbGraph::build(t.events.iter().copied());
    assert_eq!(g.events, 12);
    let main = |i| g.segment_of(MAIN, i).unwrap();
    let worker = |i| g.segment_of(racetrace_formats::ActorId(1), i).unwrap();
    // main: [write, spawn] [acquire, read, release] [join, read]
    assert_eq!(main(0), main(1));
    assert_ne!(main(1), main(6));
    assert_eq!(main(6), main(8));
    assert_eq!(main(10), main(11));
    // worker: [start] [acquire, write, release] [exit]
    assert_ne!(worker(2), worker(3));
    assert_eq!(worker(3), worker(5));
    assert_ne!(worker(5), worker(9));

    let kinds: Vec<(EdgeKind, u64, u64)> = g
        .graph
        .edge_weights()
        .filter(|e| e.kind != EdgeKind::ProgramOrder)
        .map(|e| (e.kind, e.from_event, e.to_event))
        .collect();
    assert!(kinds.contains(&(EdgeKind::Spawn, 1, 2)), "{kinds:?}");
    assert!(
        kinds.contains(&(EdgeKind::ReleaseAcquire, 5, 6)),
        "{kinds:?}"
    );
    assert!(kinds.contains(&(EdgeKind::Join, 9, 10)), "{kinds:?}");
    assert_eq!(kinds.len(), 3);

    assert!(g.happens_before(main(0), worker(3)));
    assert!(g.happens_before(worker(3), main(11)));
    assert!(!g.happens_before(main(6), worker(3)));
}

#[test]
fn dot_and_json_exports() {
    let t = trace();
    let g = HbGraph::build(t.events.iter().copied());
    let dot = to_dot(&g, &t.tables);
    assert!(dot.starts_with("digraph hb {"));
    assert!(dot.contains("release-acquire"));
    assert!(dot.contains("T1 (worker)"));

    let json = serde_json::to_value(to_json(&g, &t.tables)).unwrap();
    let nodes = json["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), g.segments());
    assert_eq!(nodes[0]["first_location"], "app.py:1");
    let edges = json["edges"].as_array().unwrap();
    assert!(edges.iter().any(|e| e["kind"] == "join"));
    assert!(edges.iter().any(|e| e["kind"] == "program-order"));
}

#[test]
fn perfetto_export_has_tracks_slices_and_flows() {
    let t = trace();
    let g = HbGraph::build(t.events.iter().copied());
    let mut out = Vec::new();
    write_perfetto(&mut out, &t.tables, t.events.iter().copied(), Some(&g)).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let evs = doc["traceEvents"].as_array().unwrap();
    let threads: Vec<&str> = evs
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(threads, ["T0 (main)", "T1 (worker)"]);
    let slices: Vec<&serde_json::Value> = evs.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(slices.len(), t.events.len());
    assert_eq!(slices[0]["name"], "write Counter.value");
    assert_eq!(slices[0]["args"]["location"], "app.py:1");
    assert_eq!(slices[3]["tid"], 1);
    assert_eq!(slices[3]["ts"], 3);
    let starts = evs.iter().filter(|e| e["ph"] == "s").count();
    let finishes = evs.iter().filter(|e| e["ph"] == "f").count();
    assert_eq!((starts, finishes), (3, 3));
}
