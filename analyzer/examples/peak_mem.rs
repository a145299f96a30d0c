//! Peak memory and throughput of `analyze_file` on synthetic traces.
//!
//! Usage: `cargo run --release -p racetrace-analyzer --example peak_mem -- [EVENTS] [ACTORS] [noqueue]`
//!
//! Writes the synthetic mix (`racetrace_formats::synthetic`) to a temporary
//! file, then analyzes it in this process and prints the peak resident set
//! (`VmHWM`) before and after analysis. Run it once per size: the growth
//! beyond the memory-mapped file is what the analyzer itself holds, and it
//! should not grow with the number of events.

use std::io::BufWriter;
use std::time::Instant;

use racetrace_analyzer::Analyzer;
use racetrace_formats::synthetic::write_synthetic_mix;
use racetrace_formats::{EventKind, Header, Mode, Outcome, TraceFile, TraceWriter};

/// A `VmHWM`/`VmRSS` line of /proc/self/status, in KiB (0 where unavailable).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let events: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let actors: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(8);
    // `noqueue`: leave queue put/get events out of the analysis, to show that
    // without in-flight items the analyzer's memory does not grow.
    let no_queue = args.next().as_deref() == Some("noqueue");

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("synthetic.rtrace");
    {
        let file = BufWriter::new(std::fs::File::create(&path)?);
        let header = Header {
            seed: 7,
            ..Header::new(Mode::Synthetic, "synthetic mix")
        };
        let mut w = TraceWriter::new(file, &header)?;
        write_synthetic_mix(&mut w, events, actors, 7)?;
        w.finish(&Outcome::Ok)?;
    }
    let file_bytes = std::fs::metadata(&path)?.len();

    // Pass 1 decodes only: what the reader and the mapped file cost.
    let hwm_start = status_kib("VmHWM:");
    let trace = TraceFile::open(&path)?;
    let start = Instant::now();
    let mut decoded = 0u64;
    // Items put but never got stay in the analyzer's put->get matching (the
    // program still holds them), so report that backlog alongside memory.
    let mut backlog = 0i64;
    for ev in trace.events() {
        match ev?.kind {
            EventKind::QueuePut => backlog += 1,
            EventKind::QueueGet => backlog -= 1,
            _ => {}
        }
        decoded += 1;
    }
    let decode_s = start.elapsed().as_secs_f64();
    let hwm_decoded = status_kib("VmHWM:");

    // Pass 2 decodes and analyzes: the growth over pass 1 is the analyzer's.
    // (`Analyzer` push-style is what `analyze_file` does; it also lets us
    // skip queue events and read the in-flight item state.)
    let start = Instant::now();
    let mut analyzer = Analyzer::new(trace.tables());
    for ev in trace.events() {
        let ev = ev?;
        if no_queue && matches!(ev.kind, EventKind::QueuePut | EventKind::QueueGet) {
            continue;
        }
        analyzer.on_event(&ev);
    }
    let analysis = analyzer.finish(trace.tables());
    let analyze_s = start.elapsed().as_secs_f64();
    let hwm_analyzed = status_kib("VmHWM:");
    let (items, snapshots) = (
        analyzer.hb().items_in_flight(),
        analyzer.hb().item_snapshots(),
    );
    if !no_queue {
        assert_eq!(decoded, analysis.events);
    }

    println!(
        "events={} actors={} file_kib={} keys={} races={} deadlocks={} queue_backlog={}\n\
         decode_only: {:.3}s {:.1}M events/s\n\
         decode+analyze: {:.3}s {:.1}M events/s\n\
         VmHWM: start={} KiB, after decode={} KiB (+{}), after analyze={} KiB (analyzer +{} KiB)\n\
         analyzer state at the end: {} queue items in flight sharing {} clock snapshots",
        analysis.events,
        analysis.actors,
        file_bytes / 1024,
        trace.tables().keys.len(),
        analysis.races.len(),
        analysis.deadlocks.len(),
        backlog,
        decode_s,
        decoded as f64 / decode_s / 1e6,
        analyze_s,
        analysis.events as f64 / analyze_s / 1e6,
        hwm_start,
        hwm_decoded,
        hwm_decoded.saturating_sub(hwm_start),
        hwm_analyzed,
        hwm_analyzed.saturating_sub(hwm_decoded),
        items,
        snapshots,
    );
    Ok(())
}
