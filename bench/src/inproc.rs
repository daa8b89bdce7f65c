//! Runs a, b, c, d (two roles in one process) and g (one thread) for
//! slick-queue and the in-process peers.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use slick_queue::{Options, Pod, Queue};

use crate::common::OrFail;
use crate::common::*;

/// An element type of a run: built from a tagged sequence number and
/// checked on the way out (every word must carry it, so a torn element
/// fails the run).
pub trait Elem: Pod + Send + Sync {
    fn make(v: u64) -> Self;
    fn seq(&self) -> u64;
}

impl Elem for u64 {
    #[inline]
    fn make(v: u64) -> u64 {
        v
    }
    #[inline]
    fn seq(&self) -> u64 {
        *self
    }
}

impl Elem for [u64; 8] {
    #[inline]
    fn make(v: u64) -> [u64; 8] {
        [v; 8]
    }
    #[inline]
    fn seq(&self) -> u64 {
        if self[7] != self[0] {
            fail(&format!("torn 64-byte element: {:#x} .. {:#x}", self[0], self[7]));
        }
        self[0]
    }
}

/// The words the roles of one run share.
pub struct Ctx {
    pub consumed: Padded<AtomicU64>,
    pub go: Padded<AtomicU64>,
    pub ready: Padded<AtomicU64>,
}

type Role<'a> = Box<dyn FnOnce(&Ctx, usize) + Send + 'a>;

/// Runs `producers` and `consumer` on their own threads (pinned to CPU 0
/// and 1 when `pinned`), starts them together and returns the time from the
/// start signal to the consumer's return (it returns after the last item).
fn two_roles<'a>(producers: Vec<Role<'a>>, consumer: Box<dyn FnOnce(&Ctx) + Send + 'a>, pinned: bool) -> Duration {
    let ctx =
        Ctx { consumed: Padded(AtomicU64::new(0)), go: Padded(AtomicU64::new(0)), ready: Padded(AtomicU64::new(0)) };
    let n = producers.len() as u64;
    let ctx = &ctx;
    std::thread::scope(|s| {
        for (i, p) in producers.into_iter().enumerate() {
            s.spawn(move || {
                if pinned {
                    pin(PRODUCER_CPU);
                }
                ctx.ready.fetch_add(1, Ordering::AcqRel);
                wait_go(&ctx.go);
                p(ctx, i);
            });
        }
        let h = s.spawn(move || {
            if pinned {
                pin(CONSUMER_CPU);
            }
            let mut spin = Spin::new();
            while ctx.ready.load(Ordering::Acquire) < n {
                spin.wait();
            }
            let t0 = Instant::now();
            ctx.go.store(1, Ordering::Release);
            consumer(ctx);
            t0.elapsed()
        });
        h.join().unwrap_or_else(|_| fail("the consumer thread panicked"))
    })
}

/// Shape of a throughput run.
#[derive(Clone, Copy)]
pub struct Shape {
    pub producers: usize,
    /// Items per producer.
    pub per_producer: u64,
    /// Items per reservation/record.
    pub batch: u64,
    pub pinned: bool,
}

impl Shape {
    pub fn total(&self) -> u64 {
        self.per_producer * self.producers as u64
    }
}

// ---------------------------------------------------------------- slick

pub fn slick<E: Elem>(shape: Shape, opts: &Options) -> Duration {
    let q = Queue::<E>::with_options(SIZE as u32, opts).or_fail("queue");
    let q = &q;
    let k = shape.batch;
    let producers: Vec<Role> = (0..shape.producers)
        .map(|_| {
            Box::new(move |ctx: &Ctx, p: usize| {
                let mut w = Window::new(&ctx.consumed, SIZE);
                let mut last = 0u64;
                let mut buf = vec![E::make(0); k as usize];
                let mut s = 0;
                while s < shape.per_producer {
                    w.wait(last, k);
                    let i = q.reserve(k as u32).or_fail("reserve");
                    if k == 1 {
                        q.write(i, E::make(tag(p, s))).or_fail("write");
                    } else {
                        for (j, e) in buf.iter_mut().enumerate() {
                            *e = E::make(tag(p, s + j as u64));
                        }
                        q.write_slice(i, &buf).or_fail("write");
                    }
                    q.publish(i, k as u32).or_fail("publish");
                    last = i;
                    s += k;
                }
            }) as Role
        })
        .collect();
    let total = shape.total();
    let np = shape.producers;
    let consumer = Box::new(move |ctx: &Ctx| {
        let mut cursor = 0u64;
        let mut chk = SeqCheck::new(np);
        let mut spin = Spin::new();
        let mut got = 0u64;
        let mut buf = vec![E::make(0); k as usize];
        while got < total {
            match q.read(&mut cursor) {
                Some(r) => {
                    if k == 1 {
                        chk.check(r.value().seq());
                        got += 1;
                    } else {
                        let n = r.copy_to(&mut buf);
                        for e in &buf[..n] {
                            chk.check(e.seq());
                        }
                        got += n as u64;
                    }
                    mark_consumed(&ctx.consumed, cursor);
                    spin.reset();
                }
                None => spin.wait(),
            }
        }
        if chk.total() != total || q.loss_count() != 0 {
            fail(&format!("slick: got {} of {total}, loss_count {}", chk.total(), q.loss_count()));
        }
    });
    two_roles(producers, consumer, shape.pinned)
}

// ------------------------------------------------------------- crossbeam

pub fn crossbeam<E: Elem>(shape: Shape) -> Duration {
    assert_eq!(shape.batch, 1, "crossbeam ArrayQueue has no batch API");
    let q = crossbeam_queue::ArrayQueue::<E>::new(SIZE as usize);
    let q = &q;
    let producers: Vec<Role> = (0..shape.producers)
        .map(|_| {
            Box::new(move |ctx: &Ctx, p: usize| {
                let mut w = Window::new(&ctx.consumed, SIZE);
                for s in 0..shape.per_producer {
                    w.wait(s, 1);
                    let mut v = E::make(tag(p, s));
                    let mut spin = Spin::new();
                    while let Err(back) = q.push(v) {
                        v = back;
                        spin.wait();
                    }
                }
            }) as Role
        })
        .collect();
    let total = shape.total();
    let np = shape.producers;
    let consumer = Box::new(move |ctx: &Ctx| {
        let mut chk = SeqCheck::new(np);
        let mut spin = Spin::new();
        let mut got = 0u64;
        while got < total {
            match q.pop() {
                Some(v) => {
                    chk.check(v.seq());
                    got += 1;
                    mark_consumed(&ctx.consumed, got);
                    spin.reset();
                }
                None => spin.wait(),
            }
        }
    });
    two_roles(producers, consumer, shape.pinned)
}

// ------------------------------------------------------------ std mpsc

pub fn mpsc<E: Elem>(shape: Shape) -> Duration {
    assert_eq!(shape.batch, 1, "std::sync::mpsc has no batch API");
    let (tx, rx) = std::sync::mpsc::sync_channel::<E>(SIZE as usize);
    let producers: Vec<Role> = (0..shape.producers)
        .map(|_| {
            let tx = tx.clone();
            Box::new(move |ctx: &Ctx, p: usize| {
                let mut w = Window::new(&ctx.consumed, SIZE);
                for s in 0..shape.per_producer {
                    w.wait(s, 1);
                    tx.send(E::make(tag(p, s))).or_fail("send");
                }
            }) as Role
        })
        .collect();
    drop(tx);
    let total = shape.total();
    let np = shape.producers;
    let consumer = Box::new(move |ctx: &Ctx| {
        let mut chk = SeqCheck::new(np);
        let mut spin = Spin::new();
        let mut got = 0u64;
        while got < total {
            match rx.try_recv() {
                Ok(v) => {
                    chk.check(v.seq());
                    got += 1;
                    mark_consumed(&ctx.consumed, got);
                    spin.reset();
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => spin.wait(),
                Err(e) => fail(&format!("mpsc: {e}")),
            }
        }
    });
    two_roles(producers, consumer, shape.pinned)
}

// ------------------------------------------------------------ disruptor

pub fn disruptor<E: Elem>(shape: Shape) -> Duration {
    use disruptor::{BusySpin, Polling, Producer};
    let k = shape.batch;
    let total = shape.total();
    let np = shape.producers;
    let factory = || E::make(0);
    // (The poller's barrier bound is private to the crate: a macro, not a fn.)
    macro_rules! consume {
        ($ctx:expr, $poller:expr) => {{
            let ctx: &Ctx = $ctx;
            let mut chk = SeqCheck::new(np);
            let mut spin = Spin::new();
            let mut got = 0u64;
            while got < total {
                match $poller.poll() {
                    Ok(mut events) => {
                        for e in &mut events {
                            chk.check(e.seq());
                            got += 1;
                            mark_consumed(&ctx.consumed, got);
                        }
                        spin.reset();
                    }
                    Err(Polling::NoEvents) => spin.wait(),
                    Err(Polling::Shutdown) => fail("disruptor shut down early"),
                }
            }
        }};
    }
    fn produce<E: Elem, P: Producer<E>>(ctx: &Ctx, producer: &mut P, p: usize, per: u64, k: u64) {
        let mut w = Window::new(&ctx.consumed, SIZE);
        let mut s = 0;
        while s < per {
            w.wait(s, k);
            if k == 1 {
                producer.publish(|e| *e = E::make(tag(p, s)));
            } else {
                producer.batch_publish(k as usize, |iter| {
                    for (j, e) in iter.enumerate() {
                        *e = E::make(tag(p, s + j as u64));
                    }
                });
            }
            s += k;
        }
    }
    if shape.producers == 1 {
        let builder = disruptor::build_single_producer(SIZE as usize, factory, BusySpin);
        let (mut poller, builder) = builder.new_event_poller();
        let mut producer = builder.build();
        let producers: Vec<Role> =
            vec![Box::new(move |ctx: &Ctx, p: usize| produce(ctx, &mut producer, p, shape.per_producer, k))];
        two_roles(producers, Box::new(move |ctx: &Ctx| consume!(ctx, poller)), shape.pinned)
    } else {
        let builder = disruptor::build_multi_producer(SIZE as usize, factory, BusySpin);
        let (mut poller, builder) = builder.new_event_poller();
        let producer = builder.build();
        let producers: Vec<Role> = (0..shape.producers)
            .map(|_| {
                let mut producer = producer.clone();
                Box::new(move |ctx: &Ctx, p: usize| produce(ctx, &mut producer, p, shape.per_producer, k)) as Role
            })
            .collect();
        drop(producer);
        two_roles(producers, Box::new(move |ctx: &Ctx| consume!(ctx, poller)), shape.pinned)
    }
}

// ------------------------------------------------- run g: one thread

/// Run g for slick-queue: reserve + write + publish + read, `count` steps.
pub fn step_slick(count: u64, opts: &Options) -> Duration {
    let q = Queue::<u64>::with_options(SIZE as u32, opts).or_fail("queue");
    let mut cursor = 0u64;
    let t0 = Instant::now();
    for s in 0..count {
        slick_step(&q, &mut cursor, s);
    }
    t0.elapsed()
}

/// One step of run g (also used by the criterion bench).
#[inline]
pub fn slick_step(q: &Queue<u64>, cursor: &mut u64, s: u64) {
    let i = q.reserve(1).or_fail("reserve");
    q.write(i, s).or_fail("write");
    q.publish(i, 1).or_fail("publish");
    match q.read(cursor) {
        Some(r) if r.value() == s => {}
        _ => fail("step: read back a different value"),
    }
}

pub fn step_crossbeam(count: u64) -> Duration {
    let q = crossbeam_queue::ArrayQueue::<u64>::new(SIZE as usize);
    let t0 = Instant::now();
    for s in 0..count {
        crossbeam_step(&q, s);
    }
    t0.elapsed()
}

#[inline]
pub fn crossbeam_step(q: &crossbeam_queue::ArrayQueue<u64>, s: u64) {
    if q.push(black_box(s)).is_err() || q.pop() != Some(s) {
        fail("step: crossbeam");
    }
}

pub fn step_mpsc(count: u64) -> Duration {
    let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(SIZE as usize);
    let t0 = Instant::now();
    for s in 0..count {
        mpsc_step(&tx, &rx, s);
    }
    t0.elapsed()
}

#[inline]
pub fn mpsc_step(tx: &std::sync::mpsc::SyncSender<u64>, rx: &std::sync::mpsc::Receiver<u64>, s: u64) {
    if tx.try_send(black_box(s)).is_err() || rx.try_recv() != Ok(s) {
        fail("step: mpsc");
    }
}

/// The disruptor in one thread: publish, then poll with an event poller.
pub struct DisruptorStep {
    producer: disruptor::SingleProducer<u64, disruptor::SingleConsumerBarrier>,
    poller: disruptor::EventPoller<u64, disruptor::SingleProducerBarrier>,
}

impl Default for DisruptorStep {
    fn default() -> Self {
        DisruptorStep::new()
    }
}

impl DisruptorStep {
    pub fn new() -> DisruptorStep {
        let builder = disruptor::build_single_producer(SIZE as usize, || 0u64, disruptor::BusySpin);
        let (poller, builder) = builder.new_event_poller();
        DisruptorStep { producer: builder.build(), poller }
    }

    #[inline]
    pub fn step(&mut self, s: u64) {
        use disruptor::Producer;
        self.producer.publish(|e| *e = black_box(s));
        let mut got = None;
        if let Ok(mut events) = self.poller.poll() {
            for e in &mut events {
                got = Some(*e);
            }
        }
        if got != Some(s) {
            fail("step: disruptor");
        }
    }
}

pub fn step_disruptor(count: u64) -> Duration {
    let mut d = DisruptorStep::new();
    let t0 = Instant::now();
    for s in 0..count {
        d.step(s);
    }
    t0.elapsed()
}
