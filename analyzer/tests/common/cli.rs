//! What the end-to-end tests of the `racetrace` binary (`cli_*.rs`: output,
//! `--json` fields, and exit codes: 0 nothing found, 1 findings, 2 bad usage
//! or bad input) share: running it, reading its JSON, a temporary directory
//! for trace files, the traces they analyze (built with `TraceBuilder`), and
//! the check that an error is one line on stderr with exit code 2.

use std::path::{Path, PathBuf};
use std::process::Command;

use racetrace_formats::builder::TraceBuilder;
use racetrace_formats::{MemberKind, ObjKind, Outcome};
use serde_json::Value;

use super::MAIN;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn racetrace<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
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

pub fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", run.stdout))
}

pub struct Dir(pub tempfile::TempDir);

impl Dir {
    pub fn new() -> Dir {
        Dir(tempfile::tempdir().expect("tempdir"))
    }
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, bytes).expect("write trace");
        path
    }
}

/// Two workers run `tmp = c.value; c.value = tmp + 1`, optionally under a
/// lock. Without the lock both reads come before both writes: a lost update.
pub fn lost_update(locked: bool) -> TraceBuilder {
    lost_update_in(TraceBuilder::new("app.py"), locked)
}

/// Small chunks: one chunk every few events.
pub fn lost_update_small_chunks() -> TraceBuilder {
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
pub fn lock_order() -> TraceBuilder {
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
pub fn spawn_join() -> TraceBuilder {
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

pub fn trace_file(dir: &Dir, name: &str, b: TraceBuilder) -> PathBuf {
    dir.write(name, &b.finish(&Outcome::Ok))
}

pub fn assert_one_error_line(run: &Run, file: &Path, problem: &str) {
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
