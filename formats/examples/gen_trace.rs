//! Writes the synthetic benchmark trace to a file and prints its size.
//!
//! `cargo run --release -p racetrace-formats --example gen_trace -- OUT [EVENTS] [ACTORS] [SEED]`
//! (defaults: 10 000 000 events, 6 actors, seed 1).

use std::time::Instant;

use racetrace_formats::synthetic::synthetic_mix;
use racetrace_formats::TraceFile;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: gen_trace OUT [EVENTS] [ACTORS] [SEED]");
        std::process::exit(2);
    };
    let arg = |i: usize, default: u64| -> u64 {
        args.get(i).map_or(default, |s| {
            s.replace('_', "").parse().unwrap_or_else(|_| {
                eprintln!("not a number: {s}");
                std::process::exit(2)
            })
        })
    };
    let (events, actors, seed) = (arg(1, 10_000_000), arg(2, 6), arg(3, 1));
    let t = Instant::now();
    let bytes = synthetic_mix(events, actors as u32, seed);
    let gen = t.elapsed();
    std::fs::write(out, &bytes).unwrap_or_else(|e| {
        eprintln!("{out}: {e}");
        std::process::exit(1)
    });
    let t = Instant::now();
    let f = TraceFile::open(std::path::Path::new(out)).expect("the trace reads back");
    let mut n = 0u64;
    for e in f.events() {
        e.expect("valid event");
        n += 1;
    }
    let dec = t.elapsed();
    println!(
        "{out}: {n} events, {} bytes, {:.3} bytes/event; generated+encoded in {:.2?}, opened+decoded in {:.2?} ({:.1} M events/s)",
        bytes.len(),
        bytes.len() as f64 / n as f64,
        gen,
        dec,
        n as f64 / dec.as_secs_f64() / 1e6
    );
}
