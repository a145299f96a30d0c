//! Throughput of the DPOR engine alone, on simulated programs (no Python):
//! complete explorations, counted in executions per second.
//!
//! - `engine`: the simulated program under the `Explorer` until the whole
//!   space is explored (one Mazurkiewicz class per execution).
//! - `baseline`: the same number of executions of the same program with a
//!   trivial scheduler (lowest enabled actor first) and no engine: the cost
//!   of the simulation itself, so `engine - baseline` is the engine's share.
//!
//! Run: `cargo bench -p racetrace-analyzer --bench dpor`

#[path = "../tests/dpor_sim/mod.rs"]
mod dpor_sim;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dpor_sim::{explore_count, MOp, Program, State};
use racetrace_analyzer::dpor::DporConfig;

use MOp::*;

const X: u32 = 0;
const Y: u32 = 1;
const L: u32 = 100;

fn programs() -> Vec<(&'static str, Program)> {
    vec![
        (
            // 4 actors, read-then-write of one attribute.
            "lost_update_4",
            Program {
                actors: (0..4).map(|_| vec![Read(X), Write(X)]).collect(),
            },
        ),
        (
            // 3 actors: a locked counter, then an unlocked one.
            "locked_and_racy_3",
            Program {
                actors: (0..3)
                    .map(|_| vec![Acquire(L), Read(X), Write(X), Release(L), Read(Y), Write(Y)])
                    .collect(),
            },
        ),
        (
            // A main actor starting three workers that race on X, joining
            // them, and reading X.
            "spawn_join_4",
            Program {
                actors: vec![vec![
                    Spawn(vec![Read(X), Write(X)]),
                    Spawn(vec![Read(X), Write(X)]),
                    Spawn(vec![Write(X), Read(Y)]),
                    Write(Y),
                    Join(0),
                    Join(1),
                    Join(2),
                    Read(X),
                ]],
            },
        ),
    ]
}

/// Runs `p` `n` times with the lowest enabled actor first.
fn baseline(p: &Program, n: u64) -> u64 {
    let (mut en, mut bl) = (Vec::new(), Vec::new());
    let mut steps = 0;
    for _ in 0..n {
        let mut st = State::new(p);
        loop {
            st.pending_all(&mut en, &mut bl);
            let Some(a) = en.iter().map(|e| e.actor).min() else {
                break;
            };
            black_box(st.step(a.0));
            steps += 1;
        }
    }
    steps
}

fn bench(c: &mut Criterion) {
    for (name, p) in programs() {
        let executions = explore_count(&p, DporConfig::default());
        eprintln!("{name}: {executions} executions (classes)");
        let mut g = c.benchmark_group(format!("dpor_{name}"));
        g.throughput(Throughput::Elements(executions));
        g.sample_size(20);
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(3));
        g.bench_function("engine", |b| {
            b.iter(|| explore_count(black_box(&p), DporConfig::default()))
        });
        g.bench_function("baseline", |b| {
            b.iter(|| baseline(black_box(&p), executions))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
