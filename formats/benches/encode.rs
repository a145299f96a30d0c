//! Trace encoding and decoding speed and size on the synthetic realistic
//! mix (`formats::synthetic`): 10M events, 6 actors.
//!
//! `cargo bench -p racetrace-formats --bench encode`
//!
//! Besides criterion's timings it prints (stderr) one summary line with
//! bytes/event, set against two baselines computed in the same run: the
//! in-memory `Event` (24 bytes) and a naive encoding with one varint per
//! field (actor, kind, loc, target, aux).

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use racetrace_formats::synthetic::SyntheticMix;
use racetrace_formats::{Event, Header, Mode, Outcome, TraceFile, TraceWriter};

const EVENTS: u64 = 10_000_000;
const ACTORS: u32 = 6;
const SEED: u64 = 1;

fn header() -> Header {
    Header {
        seed: SEED,
        ..Header::new(Mode::Synthetic, "synthetic mix")
    }
}

/// The events of the mix after its opening events (which
/// `SyntheticMix::start` writes along with the tables), generated once so
/// that encoding is timed alone.
fn generate() -> Vec<Event> {
    let mut scratch = TraceWriter::new(std::io::sink(), &header()).unwrap();
    let mut mix = SyntheticMix::start(&mut scratch, EVENTS, ACTORS, SEED).unwrap();
    let mut events = Vec::with_capacity(EVENTS as usize);
    while let Some(e) = mix.next_event() {
        events.push(e);
    }
    events
}

/// Encodes the mix: tables (as `SyntheticMix::start` defines them, which
/// also writes its opening events) and then `events`.
fn encode(events: &[Event], capacity: usize) -> Vec<u8> {
    let mut w = TraceWriter::new(Vec::with_capacity(capacity), &header()).unwrap();
    let mix = SyntheticMix::start(&mut w, EVENTS, ACTORS, SEED).unwrap();
    drop(mix);
    for e in events {
        w.event(e).unwrap();
    }
    w.finish(&Outcome::Ok).unwrap()
}

fn decode(f: &TraceFile) -> u64 {
    let mut acc = 0u64;
    for e in f.events() {
        let e = e.unwrap();
        acc = acc.wrapping_add(u64::from(e.target) ^ u64::from(e.loc.0));
    }
    acc
}

/// The same through `try_for_each_event` (the iterator's internal loop).
fn decode_streamed(f: &TraceFile) -> u64 {
    let mut acc = 0u64;
    f.events()
        .try_for_each_event(|e| acc = acc.wrapping_add(u64::from(e.target) ^ u64::from(e.loc.0)))
        .unwrap();
    acc
}

fn varint_len(v: u64) -> usize {
    (64 - v.max(1).leading_zeros() as usize).div_ceil(7)
}

fn naive_varint_size(events: &[Event]) -> usize {
    events
        .iter()
        .map(|e| {
            varint_len(e.actor.0.into())
                + 1
                + varint_len(e.loc.0.into())
                + varint_len(e.target.into())
                + varint_len(e.aux)
        })
        .sum()
}

fn benches(c: &mut Criterion) {
    let events = generate();

    // One timed pass of each, for the summary line.
    let t = Instant::now();
    let bytes = encode(&events, 0);
    let encode_s = t.elapsed().as_secs_f64();
    assert_eq!(
        TraceFile::from_bytes(bytes.clone()).unwrap().event_count(),
        EVENTS
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mix.rtrace");
    std::fs::write(&path, &bytes).unwrap();
    let t = Instant::now();
    let f = TraceFile::open(&path).unwrap();
    let open_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    black_box(decode(&f));
    let decode_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    black_box(decode_streamed(&f));
    let streamed_s = t.elapsed().as_secs_f64();
    let n = EVENTS as f64;
    let naive = naive_varint_size(&events) as f64 / n;
    eprintln!(
        "formats summary: {EVENTS} events, {ACTORS} actors: {:.3} bytes/event \
         ({} bytes, {} chunks; baselines: in-memory Event {} bytes/event, naive varint-per-field {naive:.3} bytes/event); \
         encode {:.1} M events/s, open {:.1} ms, decode {:.1} M events/s (for loop), {:.1} M events/s (try_for_each_event)",
        bytes.len() as f64 / n,
        bytes.len(),
        f.chunk_count(),
        std::mem::size_of::<Event>(),
        n / encode_s / 1e6,
        open_s * 1e3,
        n / decode_s / 1e6,
        n / streamed_s / 1e6,
    );

    let mut g = c.benchmark_group("trace_10M_events");
    g.sample_size(10);
    g.throughput(Throughput::Elements(EVENTS));
    g.bench_function("encode", |b| {
        b.iter_with_large_drop(|| encode(black_box(&events), bytes.len() + 4096))
    });
    g.bench_function("decode", |b| b.iter(|| decode(black_box(&f))));
    g.bench_function("decode_try_for_each_event", |b| {
        b.iter(|| decode_streamed(black_box(&f)))
    });
    g.bench_function("open_mmap", |b| {
        b.iter(|| TraceFile::open(black_box(&path)).unwrap())
    });
    // Baseline in the same run: just walking the pre-generated events.
    g.bench_function("baseline_iterate_in_memory_events", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for e in black_box(&events) {
                acc = acc.wrapping_add(u64::from(e.target) ^ u64::from(e.loc.0));
            }
            acc
        })
    });
    g.finish();
}

criterion_group!(encode_benches, benches);
criterion_main!(encode_benches);
