//! The writer's and the reader's per-event paths must not allocate: the
//! recorder calls `event` for every visible operation of a Python program,
//! and the analyzer streams tens of millions of events.
//!
//! A counting global allocator measures it; this file is its own test
//! binary so nothing else runs concurrently with the counting.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use racetrace_formats::synthetic::{synthetic_mix, SyntheticMix};
use racetrace_formats::{Header, Mode, Outcome, TraceFile, TraceWriter};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: delegates every call to the system allocator unchanged; the
// counter is a relaxed atomic and does not affect the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

#[test]
fn writer_and_reader_do_not_allocate_per_event() {
    const N: u64 = 300_000;
    // Pre-generate the events so only the writer runs while counting.
    let header = Header::new(Mode::Synthetic, "alloc test");
    let mut scratch = TraceWriter::new(Vec::new(), &header).unwrap();
    let mut mix = SyntheticMix::start(&mut scratch, N, 6, 3).unwrap();
    let mut events = Vec::with_capacity(N as usize);
    while let Some(e) = mix.next_event() {
        events.push(e);
    }

    let mut w = TraceWriter::new(std::io::sink(), &header).unwrap();
    SyntheticMix::start(&mut w, N, 6, 3).unwrap();
    let before = allocations();
    for e in &events {
        w.event(e).unwrap();
    }
    let during = allocations() - before;
    let chunks = (N * 2) / (64 * 1024) + 2;
    // Only the chunk index grows (amortized, per chunk, not per event).
    assert!(
        during <= chunks,
        "{during} allocations while writing {N} events"
    );
    w.finish(&Outcome::Ok).unwrap();

    let f = TraceFile::from_bytes(synthetic_mix(N, 6, 3)).unwrap();
    let before = allocations();
    let mut n = 0u64;
    for e in f.events() {
        e.unwrap();
        n += 1;
    }
    let during = allocations() - before;
    assert_eq!(n, N);
    // One allocation: the per-location prediction table of the iterator.
    assert!(during <= 1, "{during} allocations while reading {N} events");
}
