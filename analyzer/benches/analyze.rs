//! Throughput of the analyzer on the synthetic mix
//! (`racetrace_formats::synthetic`: mostly attribute reads/writes, a few
//! percent sync, 8 actors, frequent switches).
//!
//! - `decode_only`: iterate the events of an in-memory trace (the baseline).
//! - `decode_analyze`: `analyze_file` (decode + happens-before + races +
//!   lock order), the end-to-end figure.
//! - `analyze_only`: `analyze` over already-decoded events.
//!
//! Run: `cargo bench -p racetrace-analyzer --bench analyze`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use racetrace_analyzer::{analyze, analyze_file};
use racetrace_formats::synthetic::synthetic_mix;
use racetrace_formats::{Event, TraceFile};

const ACTORS: u32 = 8;
const SEED: u64 = 7;

fn bench(c: &mut Criterion) {
    for (label, n) in [("1M", 1_000_000u64), ("10M", 10_000_000)] {
        let trace = TraceFile::from_bytes(synthetic_mix(n, ACTORS, SEED)).expect("valid trace");
        let events: Vec<Event> = trace.events().collect::<Result<_, _>>().expect("decodable");
        let mut g = c.benchmark_group(format!("synthetic_{label}"));
        g.throughput(Throughput::Elements(events.len() as u64));
        g.sample_size(10);
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(if n > 1_000_000 { 15 } else { 5 }));
        g.bench_function("decode_only", |b| {
            b.iter(|| {
                let mut n = 0u64;
                for ev in trace.events() {
                    black_box(ev.expect("decodable"));
                    n += 1;
                }
                n
            })
        });
        g.bench_function("decode_analyze", |b| {
            b.iter(|| analyze_file(black_box(&trace)).expect("decodable"))
        });
        g.bench_function("analyze_only", |b| {
            b.iter(|| analyze(trace.tables(), black_box(&events).iter().copied()))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
