//! Writes the demo traces bundled in `tests/data/`:
//!
//! - `lost_update.rtrace`: one run of `examples/lost_update.py` in which
//!   both workers read `counter.value` before either writes it back.
//! - `lock_order.rtrace`: one run of `examples/lock_order.py` that finished,
//!   although its two threads take `lock_a` and `lock_b` in opposite orders.
//!
//! The traces are synthetic (built event by event, with the locations of
//! the example programs), so they are byte-for-byte reproducible:
//!
//! ```text
//! cargo run -p racetrace-analyzer --example make_demo_traces -- tests/data
//! ```

use std::path::{Path, PathBuf};

use racetrace_formats::builder::TraceBuilder;
use racetrace_formats::{ActorId, MemberKind, ObjKind, Outcome};

const MAIN: ActorId = ActorId(0);

/// The lost update of `examples/lost_update.py`.
pub fn lost_update() -> Vec<u8> {
    let file = "examples/lost_update.py";
    let mut b = TraceBuilder::new(file);
    let start = b.loc(file, 33, "main");
    let join = b.loc(file, 35, "main");
    let result = b.loc(file, 36, "main");
    let loop_head = b.loc(file, 22, "worker");
    let read = b.loc(file, 17, "increment");
    let write = b.loc(file, 18, "increment");
    let counter = b.object(ObjKind::Instance, "Counter", "counter");
    let value = b.key(counter, MemberKind::Attr, "value");
    let init = b.loc(file, 14, "__init__");

    b.write(MAIN, value, init);
    let w0 = b.spawn(MAIN, "worker-0", start);
    let w1 = b.spawn(MAIN, "worker-1", start);
    b.start(w0, loop_head);
    b.read(w0, value, read);
    b.start(w1, loop_head);
    b.read(w1, value, read);
    b.write(w0, value, write);
    b.write(w1, value, write);
    b.exit(w0, loop_head);
    b.exit(w1, loop_head);
    b.join(MAIN, w0, join);
    b.join(MAIN, w1, join);
    b.read(MAIN, value, result);
    b.exit(MAIN, result);
    b.finish(&Outcome::Ok)
}

/// The opposite lock orders of `examples/lock_order.py`, in a run where
/// `transfer` released both locks before `audit` took them.
pub fn lock_order() -> Vec<u8> {
    let file = "examples/lock_order.py";
    let mut b = TraceBuilder::new(file);
    let start = b.loc(file, 36, "main");
    let join = b.loc(file, 38, "main");
    let lock_a = b.object(ObjKind::Lock, "_thread.lock", "lock_a");
    let lock_b = b.object(ObjKind::Lock, "_thread.lock", "lock_b");
    let balance = b.object(ObjKind::Dict, "dict", "balance");
    let bal_a = b.key(balance, MemberKind::Item, "'a'");
    let bal_b = b.key(balance, MemberKind::Item, "'b'");

    let transfer = b.spawn(MAIN, "transfer", start);
    let audit = b.spawn(MAIN, "audit", start);

    let t_a = b.loc(file, 17, "transfer");
    let t_b = b.loc(file, 18, "transfer");
    let t_sub = b.loc(file, 19, "transfer");
    let t_add = b.loc(file, 20, "transfer");
    b.start(transfer, t_a);
    b.acquire(transfer, lock_a, t_a);
    b.acquire(transfer, lock_b, t_b);
    b.read(transfer, bal_a, t_sub);
    b.write(transfer, bal_a, t_sub);
    b.read(transfer, bal_b, t_add);
    b.write(transfer, bal_b, t_add);
    b.release(transfer, lock_b, t_b);
    b.release(transfer, lock_a, t_a);
    b.exit(transfer, t_a);

    let a_b = b.loc(file, 24, "audit");
    let a_a = b.loc(file, 25, "audit");
    let a_sum = b.loc(file, 26, "audit");
    b.start(audit, a_b);
    b.acquire(audit, lock_b, a_b);
    b.acquire(audit, lock_a, a_a);
    b.read(audit, bal_a, a_sum);
    b.read(audit, bal_b, a_sum);
    b.release(audit, lock_a, a_a);
    b.release(audit, lock_b, a_b);
    b.exit(audit, a_b);

    b.join(MAIN, transfer, join);
    b.join(MAIN, audit, join);
    b.exit(MAIN, join);
    b.finish(&Outcome::Ok)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    if let Err(e) = std::fs::write(&path, bytes) {
        eprintln!("error: {}: {e}", path.display());
        std::process::exit(2);
    }
    println!("wrote {} ({} bytes)", path.display(), bytes.len());
}

fn main() {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("tests/data"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: {}: {e}", dir.display());
        std::process::exit(2);
    }
    write(&dir, "lost_update.rtrace", &lost_update());
    write(&dir, "lock_order.rtrace", &lock_order());
}
