//! Prints every event of a trace, one per line, with resolved names:
//! `cargo run -p racetrace-recorder --example dump_trace -- TRACE`.
//! A debugging aid for the recorder.

use std::path::Path;

use racetrace_formats::{ActorId, KeyId, ObjId, TargetKind, TraceFile};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: dump_trace TRACE")?;
    let trace = TraceFile::open(Path::new(&path))?;
    let t = trace.tables();
    let mut n = 0u64;
    trace.events().try_for_each_event(|ev| {
        let target = match ev.kind.target_kind() {
            TargetKind::Key => t.key_display(KeyId(ev.target)),
            TargetKind::Obj => t.object_display(ObjId(ev.target)),
            TargetKind::Actor => t.actor_display(ActorId(ev.target)),
        };
        println!(
            "{n:>6} T{} {:<14} {:<40} aux={:<4} {}",
            ev.actor.0,
            ev.kind.name(),
            target,
            ev.aux,
            t.loc_display(ev.loc)
        );
        n += 1;
    })?;
    Ok(())
}
