//! Run g with criterion: the cost of one step (reserve + write + publish +
//! read of one u64) in one thread, local mode, and the peers' equivalent
//! (push + pop, send + try_recv, publish + poll). Criterion's statistic over
//! many iterations complements the harness's 5 x 100M-step process runs.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use slick_queue::{Options, Queue};
use slick_queue_bench::common::SIZE;
use slick_queue_bench::inproc;

fn step(c: &mut Criterion) {
    let mut g = c.benchmark_group("g");
    for (name, opts) in [
        ("slick", Options::new()),
        ("slick-nolast", Options::new().read_last(false)),
        ("slick-excl", Options::new().exclusive_producer(true)),
    ] {
        let q = Queue::<u64>::with_options(SIZE as u32, &opts).expect("queue");
        let mut cursor = 0u64;
        let mut s = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                inproc::slick_step(&q, &mut cursor, black_box(s));
                s += 1;
            })
        });
    }
    let q = crossbeam_queue::ArrayQueue::<u64>::new(SIZE as usize);
    let mut s = 0u64;
    g.bench_function("crossbeam", |b| {
        b.iter(|| {
            inproc::crossbeam_step(&q, s);
            s += 1;
        })
    });
    let mut d = inproc::DisruptorStep::new();
    let mut s = 0u64;
    g.bench_function("disruptor", |b| {
        b.iter(|| {
            d.step(s);
            s += 1;
        })
    });
    let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(SIZE as usize);
    let mut s = 0u64;
    g.bench_function("mpsc", |b| {
        b.iter(|| {
            inproc::mpsc_step(&tx, &rx, s);
            s += 1;
        })
    });
    g.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
