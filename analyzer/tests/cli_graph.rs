//! `racetrace graph`: the happens-before graph as DOT, JSON and Perfetto, to
//! stdout or a file, and a reader closing the pipe early.

mod common;

use std::process::Command;

use common::cli::{assert_one_error_line, json, lost_update, racetrace, trace_file, Dir};
use common::MAIN;
use racetrace_formats::builder::TraceBuilder;
use racetrace_formats::{MemberKind, ObjKind};

#[test]
fn graph_dot_starts_with_digraph() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let run = racetrace(&[
        "graph".as_ref(),
        path.as_os_str(),
        "--format".as_ref(),
        "dot".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("digraph"), "{}", run.stdout);
    assert!(run.stdout.trim_end().ends_with('}'));
    for needle in [
        "T0 (main)",
        "T1 (worker-1)",
        "T2 (worker-2)",
        "spawn",
        "join",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn graph_json_has_actors_nodes_and_edges() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let run = racetrace(&[
        "graph".as_ref(),
        path.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["events"], 12);
    assert_eq!(v["actors"].as_array().unwrap().len(), 3);
    let nodes = v["nodes"].as_array().unwrap();
    let edges = v["edges"].as_array().unwrap();
    assert!(!nodes.is_empty() && !edges.is_empty());
    for e in edges {
        let (from, to) = (e["from"].as_u64().unwrap(), e["to"].as_u64().unwrap());
        assert!(nodes.iter().any(|n| n["id"] == from) && nodes.iter().any(|n| n["id"] == to));
    }
}

#[test]
fn graph_perfetto_is_trace_event_json_with_one_thread_name_per_actor() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let run = racetrace(&[
        "graph".as_ref(),
        path.as_os_str(),
        "--format".as_ref(),
        "perfetto".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    let events = v["traceEvents"].as_array().expect("traceEvents array");
    let mut named: Vec<u64> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["tid"].as_u64().unwrap())
        .collect();
    named.sort();
    assert_eq!(named, vec![0, 1, 2]);
    // Every event is a well-formed trace event.
    for e in events {
        assert!(
            e["ph"].is_string() && e["pid"].is_u64() && e["tid"].is_u64(),
            "{e}"
        );
        assert!(e["ts"].is_u64() || e["ts"].is_f64(), "{e}");
    }
    let slices = events.iter().filter(|e| e["ph"] == "X").count();
    assert_eq!(slices, 12, "one slice per event");
}

#[test]
fn graph_output_file() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let out = dir.0.path().join("g.dot");
    let run = racetrace(&[
        "graph".as_ref(),
        path.as_os_str(),
        "-f".as_ref(),
        "dot".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty() && run.stderr.is_empty());
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .starts_with("digraph"));

    // An output file that cannot be created: one line, exit 2.
    let bad = dir.0.path().join("no-such-dir").join("g.json");
    let run = racetrace(&[
        "graph".as_ref(),
        path.as_os_str(),
        "-f".as_ref(),
        "json".as_ref(),
        "-o".as_ref(),
        bad.as_os_str(),
    ]);
    assert_one_error_line(&run, &bad, "cannot write output");
}

#[test]
fn closed_stdout_pipe_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    // Enough events for the export to outgrow a pipe buffer many times.
    let mut b = TraceBuilder::new("big.py");
    let loc = b.loc("big.py", 1, "f");
    let obj = b.object(ObjKind::Instance, "C", "c");
    let key = b.key(obj, MemberKind::Attr, "x");
    for _ in 0..50_000 {
        b.read(MAIN, key, loc);
        b.write(MAIN, key, loc);
    }
    let dir = Dir::new();
    let path = trace_file(&dir, "big.rtrace", b);
    let mut child = Command::new(env!("CARGO_BIN_EXE_racetrace"))
        .args([
            "graph".as_ref(),
            path.as_os_str(),
            "-f".as_ref(),
            "perfetto".as_ref(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone (like `racetrace graph ... | head -n 1`).
    assert!(first.starts_with('{'), "{first}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
