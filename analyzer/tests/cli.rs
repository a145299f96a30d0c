//! End-to-end tests of the `racetrace` binary on traces built with
//! `TraceBuilder`: output, `--json` fields, and exit codes
//! (0 nothing found, 1 findings, 2 bad usage or bad input).

use std::path::{Path, PathBuf};
use std::process::Command;

use racetrace_formats::builder::TraceBuilder;
use racetrace_formats::{ActorId, MemberKind, ObjKind, Outcome, TraceFile};
use serde_json::Value;

const MAIN: ActorId = ActorId(0);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn racetrace<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_racetrace"))
        .args(args)
        .output()
        .expect("run racetrace");
    Run {
        code: out.status.code().expect("racetrace exited by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", run.stdout))
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().expect("tempdir"))
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, bytes).expect("write trace");
        path
    }
}

/// Two workers run `tmp = c.value; c.value = tmp + 1`, optionally under a
/// lock. Without the lock both reads come before both writes: a lost update.
fn lost_update(locked: bool) -> TraceBuilder {
    lost_update_in(TraceBuilder::new("app.py"), locked)
}

/// Small chunks: one chunk every few events.
fn lost_update_small_chunks() -> TraceBuilder {
    lost_update_in(TraceBuilder::new("app.py").with_chunk_size(8), false)
}

fn lost_update_in(mut b: TraceBuilder, locked: bool) -> TraceBuilder {
    let spawn = b.loc("app.py", 20, "main");
    let join = b.loc("app.py", 22, "main");
    let body = b.loc("app.py", 9, "worker");
    let with = b.loc("app.py", 9, "worker");
    let read = b.loc("app.py", 10, "worker");
    let write = b.loc("app.py", 11, "worker");
    let counter = b.object(ObjKind::Instance, "Counter", "c");
    let value = b.key(counter, MemberKind::Attr, "value");
    let lock = b.object(ObjKind::Lock, "_thread.lock", "lock");
    let t1 = b.spawn(MAIN, "worker-1", spawn);
    let t2 = b.spawn(MAIN, "worker-2", spawn);
    b.start(t1, body);
    b.start(t2, body);
    if locked {
        for t in [t1, t2] {
            b.acquire(t, lock, with);
            b.read(t, value, read);
            b.write(t, value, write);
            b.release(t, lock, with);
        }
    } else {
        b.read(t1, value, read);
        b.read(t2, value, read);
        b.write(t1, value, write);
        b.write(t2, value, write);
    }
    b.exit(t1, body);
    b.exit(t2, body);
    b.join(MAIN, t1, join);
    b.join(MAIN, t2, join);
    b
}

/// Two threads take locks A and B in opposite orders, one after the other
/// (released in between), so the run finishes.
fn lock_order() -> TraceBuilder {
    let mut b = TraceBuilder::new("bank.py");
    let spawn = b.loc("bank.py", 30, "main");
    let join = b.loc("bank.py", 31, "main");
    let a = b.object(ObjKind::Lock, "_thread.lock", "lock_a");
    let bb = b.object(ObjKind::Lock, "_thread.lock", "lock_b");
    let t1 = b.spawn(MAIN, "transfer", spawn);
    let t2 = b.spawn(MAIN, "audit", spawn);
    let t1_a = b.loc("bank.py", 10, "transfer");
    let t1_b = b.loc("bank.py", 11, "transfer");
    let t2_b = b.loc("bank.py", 20, "audit");
    let t2_a = b.loc("bank.py", 21, "audit");
    b.start(t1, t1_a);
    b.acquire(t1, a, t1_a);
    b.acquire(t1, bb, t1_b);
    b.release(t1, bb, t1_b);
    b.release(t1, a, t1_a);
    b.exit(t1, t1_a);
    b.start(t2, t2_b);
    b.acquire(t2, bb, t2_b);
    b.acquire(t2, a, t2_a);
    b.release(t2, a, t2_a);
    b.release(t2, bb, t2_b);
    b.exit(t2, t2_b);
    b.join(MAIN, t1, join);
    b.join(MAIN, t2, join);
    b
}

/// main writes, starts a child that writes, joins it, writes again: every
/// access is ordered by the spawn and join edges.
fn spawn_join() -> TraceBuilder {
    let mut b = TraceBuilder::new("seq.py");
    let w_main = b.loc("seq.py", 5, "main");
    let spawn = b.loc("seq.py", 6, "main");
    let join = b.loc("seq.py", 7, "main");
    let w_child = b.loc("seq.py", 2, "child");
    let obj = b.object(ObjKind::Module, "module", "module seq");
    let key = b.key(obj, MemberKind::Global, "total");
    b.write(MAIN, key, w_main);
    let child = b.spawn(MAIN, "child", spawn);
    b.start(child, w_child);
    b.read(child, key, w_child);
    b.write(child, key, w_child);
    b.exit(child, w_child);
    b.join(MAIN, child, join);
    b.read(MAIN, key, join);
    b.write(MAIN, key, join);
    b
}

fn trace_file(dir: &Dir, name: &str, b: TraceBuilder) -> PathBuf {
    dir.write(name, &b.finish(&Outcome::Ok))
}

fn assert_one_error_line(run: &Run, file: &Path, problem: &str) {
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one stderr line, got: {:?}",
        run.stderr
    );
    let line = lines[0];
    assert!(
        line.contains(&file.display().to_string()),
        "no file name in {line:?}"
    );
    assert!(line.contains(problem), "no {problem:?} in {line:?}");
}

// ---------------------------------------------------------------- usage

#[test]
fn help_documents_exit_codes_and_exits_0() {
    let run = racetrace(&["--help"]);
    assert_eq!(run.code, 0);
    for needle in [
        "Exit codes",
        "0  nothing found",
        "1  findings",
        "2  bad usage",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in:\n{}",
            run.stdout
        );
    }
    for sub in ["info", "races", "deadlocks", "graph"] {
        assert!(run.stdout.contains(sub), "{sub} not in --help");
    }
}

#[test]
fn version_exits_0() {
    let run = racetrace(&["--version"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("racetrace "), "{}", run.stdout);
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        vec!["--no-such-flag"],
        vec!["no-such-command"],
        vec!["races"],
        vec!["graph", "t.rtrace", "--format", "png"],
    ] {
        let run = racetrace(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(run.stderr.contains("error"), "{args:?}: {}", run.stderr);
    }
    // No subcommand at all is bad usage too.
    let none: [&str; 0] = [];
    assert_eq!(racetrace(&none).code, 2);
}

// ---------------------------------------------------------------- bad input

#[test]
fn missing_file_is_one_line_exit_2() {
    let dir = Dir::new();
    let path = dir.0.path().join("nope.rtrace");
    for cmd in ["info", "races", "deadlocks"] {
        let run = racetrace(&[cmd.as_ref(), path.as_os_str()]);
        assert_one_error_line(&run, &path, "cannot open");
    }
}

#[test]
fn corrupt_chunk_is_one_line_naming_file_offset_and_problem() {
    let dir = Dir::new();
    let good = lost_update(false).finish(&Outcome::Ok);
    let good_path = dir.write("good.rtrace", &good);
    let chunk = TraceFile::open(&good_path).unwrap().chunks()[0];
    // A byte in the middle of the first chunk's body.
    let mut bad = good.clone();
    let at = chunk.offset as usize + racetrace_formats::codec::CHUNK_FRAME_LEN + 2;
    bad[at] ^= 0x55;
    let path = dir.write("corrupt.rtrace", &bad);
    for cmd in ["info", "races", "deadlocks", "graph"] {
        let mut args: Vec<&std::ffi::OsStr> = vec![cmd.as_ref(), path.as_os_str()];
        if cmd == "graph" {
            args.extend([
                std::ffi::OsStr::new("--format"),
                std::ffi::OsStr::new("dot"),
            ]);
        }
        let run = racetrace(&args);
        assert_one_error_line(&run, &path, "corrupt chunk");
        let offset = format!("offset {}", chunk.offset);
        assert!(
            run.stderr.contains(&offset),
            "{offset:?} not in {}",
            run.stderr
        );
    }
}

#[test]
fn bad_magic_is_one_line_exit_2() {
    let dir = Dir::new();
    let path = dir.write(
        "notes.txt",
        b"these are not the bytes you are looking for\n",
    );
    for cmd in ["info", "races"] {
        let run = racetrace(&[cmd.as_ref(), path.as_os_str()]);
        assert_one_error_line(&run, &path, "bad magic");
        assert!(run.stderr.contains("offset 0"), "{}", run.stderr);
    }
}

#[test]
fn unknown_version_is_one_line_exit_2() {
    let dir = Dir::new();
    let mut bytes = lost_update(false).finish(&Outcome::Ok);
    // The format version follows the 8 magic bytes.
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    let path = dir.write("future.rtrace", &bytes);
    let run = racetrace(&["info".as_ref(), path.as_os_str()]);
    assert_one_error_line(&run, &path, "unsupported format version 99");
    assert!(run.stderr.contains("offset 8"), "{}", run.stderr);
}

#[test]
fn empty_file_is_one_line_exit_2() {
    let dir = Dir::new();
    let path = dir.write("empty.rtrace", b"");
    let run = racetrace(&["races".as_ref(), path.as_os_str()]);
    assert_one_error_line(&run, &path, "offset 0");
}

// ---------------------------------------------------------------- info

#[test]
fn info_shows_header_actors_and_outcome() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let run = racetrace(&["info".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    for needle in [
        "program:    app.py",
        "mode:       synthetic",
        "events:     12",
        "chunks:     1",
        "outcome:    ok",
        "T1 (worker-1)",
        "parent T0 (main)",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn info_json_fields() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let run = racetrace(&["info".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["program"], "app.py");
    assert_eq!(v["mode"], "synthetic");
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["event_count"], 12);
    assert_eq!(v["chunk_count"], 1);
    assert_eq!(v["outcome"]["kind"], "ok");
    assert!(v["truncated"].is_null());
    let actors = v["actors"].as_array().unwrap();
    assert_eq!(actors.len(), 3);
    assert_eq!(actors[0]["name"], "main");
    assert!(actors[0]["parent"].is_null());
    assert_eq!(actors[1]["name"], "worker-1");
    assert_eq!(actors[1]["parent"], 0);
    assert_eq!(actors[1]["kind"], "thread");
    // main: 2 spawns + 2 joins; each worker: start, read, write, exit.
    assert_eq!(actors[0]["events"], 4);
    assert_eq!(actors[1]["events"], 4);
}

#[test]
fn info_reports_exception_outcome() {
    let dir = Dir::new();
    let outcome = Outcome::Exception {
        actor: ActorId(1),
        type_name: "AssertionError".into(),
        message: "expected 2, got 1".into(),
        traceback: "Traceback (most recent call last):\n  File \"app.py\", line 11\n".into(),
    };
    let path = dir.write("exc.rtrace", &lost_update(false).finish(&outcome));
    let run = racetrace(&["info".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .contains("outcome:    exception in T1 (worker-1): AssertionError: expected 2, got 1"),
        "{}",
        run.stdout
    );
    let run = racetrace(&["info".as_ref(), "--json".as_ref(), path.as_os_str()]);
    let v = json(&run);
    assert_eq!(v["outcome"]["kind"], "exception");
    assert_eq!(v["outcome"]["actor"], 1);
    assert_eq!(v["outcome"]["type_name"], "AssertionError");
}

#[test]
fn truncated_trace_info_says_truncated_and_exits_0() {
    let dir = Dir::new();
    let b = lost_update_small_chunks();
    let path = dir.write("killed.rtrace", &b.finish_truncated());
    let run = racetrace(&["info".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("outcome:    TRUNCATED at offset "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("complete chunk"), "{}", run.stdout);
    let warnings: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(warnings[0].starts_with("warning: "), "{}", run.stderr);
    assert!(warnings[0].contains("truncated"), "{}", run.stderr);

    let run = racetrace(&["info".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0);
    let v = json(&run);
    assert!(v["outcome"].is_null());
    assert!(v["truncated"]["offset"].as_u64().unwrap() > 0);
    assert!(v["truncated"]["complete_chunks"].as_u64().unwrap() >= 1);
}

#[test]
fn trace_cut_mid_chunk_is_analyzed_with_a_warning() {
    let dir = Dir::new();
    let full = lost_update_small_chunks().finish(&Outcome::Ok);
    let full_path = dir.write("full.rtrace", &full);
    let chunks = TraceFile::open(&full_path).unwrap().chunks().to_vec();
    assert!(
        chunks.len() >= 3,
        "want several chunks, got {}",
        chunks.len()
    );
    // Cut in the middle of the last chunk: what a killed recorder leaves.
    let cut = chunks[chunks.len() - 1].offset as usize + 5;
    let path = dir.write("cut.rtrace", &full[..cut]);
    let run = racetrace(&["races".as_ref(), path.as_os_str()]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("warning: "), "{}", run.stderr);
    // Everything from the partial chunk on is lost; the rest is analyzed.
    let last = chunks[chunks.len() - 1].offset;
    let lost = format!("truncated at offset {last}");
    assert!(run.stderr.contains(&lost), "{lost:?} not in {}", run.stderr);
    let kept = format!("{} complete chunks", chunks.len() - 1);
    assert!(run.stderr.contains(&kept), "{kept:?} not in {}", run.stderr);
}

// ---------------------------------------------------------------- races

#[test]
fn lost_update_is_one_race_naming_both_locations() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let run = racetrace(&["races".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(
        run.stdout.starts_with("1 data race found"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("Data race on c.value").count(), 1);
    for needle in ["app.py:10", "app.py:11", "T1 (worker-1)", "T2 (worker-2)"] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in:\n{}",
            run.stdout
        );
    }
    for kind in ["read ", "write "] {
        assert!(
            run.stdout.contains(kind),
            "{kind:?} not in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn races_json_fields() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let run = racetrace(&["races".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["file"], path.display().to_string());
    assert_eq!(v["truncated"], false);
    assert_eq!(v["events"], 12);
    assert_eq!(v["race_count"], 1);
    let races = v["races"].as_array().unwrap();
    assert_eq!(races.len(), 1);
    assert_eq!(races[0]["key_name"], "c.value");
    assert_eq!(races[0]["object_name"], "c");
    let mut locations = Vec::new();
    let mut actors = Vec::new();
    for pair in races[0]["pairs"].as_array().unwrap() {
        for side in ["first", "second"] {
            let a = &pair[side];
            assert!(a["kind"] == "read" || a["kind"] == "write", "{a}");
            assert!(a["event"].is_u64());
            assert_eq!(a["function"], "worker");
            locations.push(a["location"].as_str().unwrap().to_string());
            actors.push(a["actor"].as_u64().unwrap());
        }
        assert_ne!(pair["first"]["actor"], pair["second"]["actor"]);
    }
    assert!(
        locations.contains(&"app.py:10".to_string()),
        "{locations:?}"
    );
    assert!(
        locations.contains(&"app.py:11".to_string()),
        "{locations:?}"
    );
    assert!(actors.contains(&1) && actors.contains(&2), "{actors:?}");
}

#[test]
fn lost_update_under_a_lock_is_no_race() {
    let dir = Dir::new();
    let path = trace_file(&dir, "locked.rtrace", lost_update(true));
    let run = racetrace(&["races".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "No data races found.\n");
    let run = racetrace(&["races".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0);
    let v = json(&run);
    assert_eq!(v["race_count"], 0);
    assert_eq!(v["races"].as_array().unwrap().len(), 0);
}

#[test]
fn spawn_and_join_order_parent_and_child() {
    let dir = Dir::new();
    let path = trace_file(&dir, "seq.rtrace", spawn_join());
    let run = racetrace(&["races".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "No data races found.\n");
}

// ---------------------------------------------------------------- deadlocks

#[test]
fn opposite_lock_orders_are_one_potential_deadlock() {
    let dir = Dir::new();
    let path = trace_file(&dir, "bank.rtrace", lock_order());
    // The run itself finished fine.
    let info = racetrace(&["info".as_ref(), path.as_os_str()]);
    assert!(info.stdout.contains("outcome:    ok"), "{}", info.stdout);

    let run = racetrace(&["deadlocks".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("1 potential deadlock"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("Potential deadlock #").count(), 1);
    for needle in [
        "lock_a",
        "lock_b",
        "T1 (transfer)",
        "T2 (audit)",
        "bank.py:10",
        "bank.py:11",
        "bank.py:20",
        "bank.py:21",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in:\n{}",
            run.stdout
        );
    }
    // No shared data, so no races.
    assert_eq!(racetrace(&["races".as_ref(), path.as_os_str()]).code, 0);
}

#[test]
fn deadlocks_json_fields() {
    let dir = Dir::new();
    let path = trace_file(&dir, "bank.rtrace", lock_order());
    let run = racetrace(&["deadlocks".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["deadlock_count"], 1);
    let d = &v["deadlocks"][0];
    let locks: Vec<&str> = d["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(locks.len(), 2);
    assert!(locks.contains(&"lock_a") && locks.contains(&"lock_b"));
    let edges = d["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    for e in edges {
        for field in [
            "actor",
            "actor_name",
            "held",
            "acquired",
            "held_location",
            "acquire_location",
        ] {
            assert!(!e[field].is_null(), "{field} missing in {e}");
        }
    }
}

#[test]
fn consistent_lock_order_is_no_deadlock() {
    let dir = Dir::new();
    let path = trace_file(&dir, "locked.rtrace", lost_update(true));
    let run = racetrace(&["deadlocks".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "No potential deadlocks found.\n");
}

// ---------------------------------------------------------------- graph

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

// ---------------------------------------------------------------- documented fields

/// Every field the README documents for `--json` is present.
#[test]
fn json_has_every_documented_field() {
    let dir = Dir::new();
    let lost = trace_file(&dir, "lost.rtrace", lost_update(false));
    let info = json(&racetrace(&[
        "info".as_ref(),
        "--json".as_ref(),
        lost.as_os_str(),
    ]));
    for field in [
        "file",
        "format_version",
        "python_version",
        "racetrace_version",
        "mode",
        "program",
        "seed",
        "started_at",
        "event_count",
        "chunk_count",
        "actors",
        "outcome",
        "truncated",
    ] {
        assert!(info.get(field).is_some(), "info: no {field}");
    }
    for field in ["id", "name", "kind", "parent", "created_by_event", "events"] {
        assert!(
            info["actors"][1].get(field).is_some(),
            "info actors: no {field}"
        );
    }

    let races = json(&racetrace(&[
        "races".as_ref(),
        "--json".as_ref(),
        lost.as_os_str(),
    ]));
    for field in [
        "file",
        "truncated",
        "events",
        "actors",
        "race_count",
        "race_detections",
        "races",
    ] {
        assert!(races.get(field).is_some(), "races: no {field}");
    }
    let group = &races["races"][0];
    for field in ["key_name", "object_name", "occurrences", "pairs"] {
        assert!(group.get(field).is_some(), "race group: no {field}");
    }
    for field in [
        "actor",
        "actor_name",
        "kind",
        "location",
        "function",
        "event",
    ] {
        assert!(
            group["pairs"][0]["first"].get(field).is_some(),
            "race access: no {field}"
        );
        assert!(
            group["pairs"][0]["second"].get(field).is_some(),
            "race access: no {field}"
        );
    }

    let bank = trace_file(&dir, "bank.rtrace", lock_order());
    let dl = json(&racetrace(&[
        "deadlocks".as_ref(),
        "--json".as_ref(),
        bank.as_os_str(),
    ]));
    for field in [
        "file",
        "truncated",
        "events",
        "actors",
        "deadlock_count",
        "lock_order_edges",
        "deadlocks",
    ] {
        assert!(dl.get(field).is_some(), "deadlocks: no {field}");
    }
    assert!(dl["deadlocks"][0]["locks"][0].get("name").is_some());
    for field in [
        "actor",
        "actor_name",
        "held",
        "acquired",
        "held_location",
        "acquire_location",
    ] {
        assert!(
            dl["deadlocks"][0]["edges"][0].get(field).is_some(),
            "edge: no {field}"
        );
    }
}

#[test]
fn info_json_outcome_kinds() {
    let dir = Dir::new();
    let cases = [
        (
            Outcome::Deadlock {
                description: "T1 waits for lock_b held by T2".into(),
            },
            "deadlock",
            "description",
            "deadlock: T1 waits for lock_b held by T2",
        ),
        (
            Outcome::Aborted {
                reason: "timeout after 5 s".into(),
            },
            "aborted",
            "reason",
            "aborted: timeout after 5 s",
        ),
    ];
    for (outcome, kind, field, line) in cases {
        let path = dir.write("o.rtrace", &lost_update(false).finish(&outcome));
        let v = json(&racetrace(&[
            "info".as_ref(),
            "--json".as_ref(),
            path.as_os_str(),
        ]));
        assert_eq!(v["outcome"]["kind"], kind);
        assert!(v["outcome"][field].is_string(), "{v}");
        let run = racetrace(&["info".as_ref(), path.as_os_str()]);
        assert!(
            run.stdout.contains(&format!("outcome:    {line}")),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn subcommand_help_exits_0() {
    for sub in ["info", "races", "deadlocks", "graph"] {
        let run = racetrace(&[sub, "--help"]);
        assert_eq!(run.code, 0, "{sub}");
        assert!(
            run.stdout.contains("Usage: racetrace"),
            "{sub}: {}",
            run.stdout
        );
        assert!(run.stdout.contains("Exit codes"), "{sub}: {}", run.stdout);
    }
    let run = racetrace(&["graph", "--help"]);
    for fmt in ["dot", "json", "perfetto", "--output"] {
        assert!(run.stdout.contains(fmt), "{fmt:?} not in graph --help");
    }
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
