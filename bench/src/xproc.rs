//! Runs e (SPSC throughput across processes) and f (ping-pong round trip
//! across processes) for slick-queue over shared memory and for iceoryx2.
//!
//! The parent process is the consumer (run e, pinned to CPU 1) or the pinger
//! that measures (run f); it spawns this same executable as the child, which
//! opens everything by name and is pinned to CPU 0. Control words (the
//! `consumed` counter, the ready and go signals) live in shared-memory
//! objects of their own (page-aligned, so each on its own cache line).

use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use slick_queue::{Options, Queue, SharedCursor};

use crate::common::OrFail;
use crate::common::*;

/// Ping-pong queue size (two queues of 1024).
pub const PING_SIZE: u32 = 1024;
pub const WARMUP: u64 = 100_000;

/// Names of the shared objects of one run.
pub struct Names {
    pub base: String,
}

impl Names {
    pub fn fresh(run: &str) -> Names {
        let nonce = Instant::now().elapsed().subsec_nanos() ^ std::process::id();
        Names { base: format!("slickbench_{run}_{}_{nonce:x}", std::process::id()) }
    }
    pub fn q(&self, i: u32) -> String {
        format!("{}_q{i}", self.base)
    }
    pub fn word(&self, w: &str) -> String {
        format!("{}_{w}", self.base)
    }
}

/// The control words: consumed counter, ready and go signals.
pub struct Control {
    pub consumed: SharedCursor,
    pub ready: SharedCursor,
    pub go: SharedCursor,
}

impl Control {
    pub fn create(n: &Names) -> Control {
        let o = Options::new();
        let mk = |w: &str| SharedCursor::create_or_open(&n.word(w), &o).or_fail("control word");
        Control { consumed: mk("consumed"), ready: mk("ready"), go: mk("go") }
    }
    pub fn open(n: &Names) -> Control {
        let mk = |w: &str| SharedCursor::open(&n.word(w)).or_fail("control word");
        Control { consumed: mk("consumed"), ready: mk("ready"), go: mk("go") }
    }
    pub fn remove(n: &Names) {
        for w in ["consumed", "ready", "go"] {
            let _ = SharedCursor::remove(&n.word(w));
        }
    }
    /// Parent: waits for the child's ready signal, then starts the clock
    /// and the child.
    pub fn start(&self, child: &mut Child) -> Instant {
        let mut spin = Spin::new();
        while self.ready.load(Ordering::Acquire) == 0 {
            if let Ok(Some(st)) = child.try_wait() {
                fail(&format!("child exited before starting: {st}"));
            }
            spin.wait();
        }
        let t0 = Instant::now();
        self.go.store(1, Ordering::Release);
        t0
    }
    /// Child: signals ready and waits for go.
    pub fn child_ready(&self) {
        self.ready.store(1, Ordering::Release);
        wait_go(&self.go);
    }
}

fn spawn_child(run: &str, imp: &str, names: &Names, count: u64) -> Child {
    let exe = std::env::current_exe().or_fail("own executable");
    Command::new(exe).args(["child", run, imp, &names.base, &count.to_string()]).spawn().or_fail("spawn child process")
}

fn join_child(mut child: Child) {
    let st = child.wait().or_fail("wait for child");
    if !st.success() {
        fail(&format!("child process failed: {st}"));
    }
}

/// The options of a producing handle of `imp`.
pub fn slick_options(imp: &str) -> Options {
    match imp {
        "slick-nolast" => Options::new().read_last(false),
        "slick-excl" => Options::new().exclusive_producer(true),
        _ => Options::new(),
    }
}

/// The options of a handle that only reads: without the exclusive producer
/// (its lock belongs to the producing handle).
pub fn reader_options(imp: &str) -> Options {
    slick_options(imp).exclusive_producer(false)
}

// ------------------------------------------------------------------ e

/// Parent of run e for slick-queue: creates the queue, consumes.
pub fn e_slick(imp: &str, count: u64) -> Duration {
    let names = Names::fresh("e");
    let opts = reader_options(imp);
    let q = Queue::<u64>::create_or_open(&names.q(0), SIZE as u32, &opts).or_fail("create queue");
    let ctl = Control::create(&names);
    let mut child = spawn_child("e", imp, &names, count);
    pin(CONSUMER_CPU);
    let t0 = ctl.start(&mut child);
    let mut cursor = 0u64;
    let mut chk = SeqCheck::new(1);
    let mut spin = Spin::new();
    let mut got = 0;
    while got < count {
        match q.read(&mut cursor) {
            Some(r) => {
                chk.check(r.value());
                got += 1;
                mark_consumed(&ctl.consumed, cursor);
                spin.reset();
            }
            None => spin.wait(),
        }
    }
    let dt = t0.elapsed();
    join_child(child);
    let _ = q.remove_shm();
    Control::remove(&names);
    dt
}

/// Child of run e for slick-queue: opens the queue by name, produces.
pub fn e_slick_child(imp: &str, names: &Names, count: u64) {
    pin(PRODUCER_CPU);
    let q = Queue::<u64>::open(&names.q(0), &slick_options(imp)).or_fail("open queue");
    let ctl = Control::open(&names_ref(names));
    ctl.child_ready();
    let mut w = Window::new(&ctl.consumed, SIZE);
    let mut last = 0;
    for s in 0..count {
        w.wait(last, 1);
        let i = q.reserve(1).or_fail("reserve");
        q.write(i, s).or_fail("write");
        q.publish(i, 1).or_fail("publish");
        last = i;
    }
}

fn names_ref(n: &Names) -> Names {
    Names { base: n.base.clone() }
}

// ------------------------------------------------------------------ f

/// Parent of run f for slick-queue: pings on q0, waits for the echo on q1.
pub fn f_slick(imp: &str, count: u64) -> hdrhistogram::Histogram<u64> {
    let names = Names::fresh("f");
    // This process produces on ping and only reads pong.
    let ping = Queue::<u64>::create_or_open(&names.q(0), PING_SIZE, &slick_options(imp)).or_fail("create queue");
    let pong = Queue::<u64>::create_or_open(&names.q(1), PING_SIZE, &reader_options(imp)).or_fail("create queue");
    let ctl = Control::create(&names);
    let total = WARMUP + count;
    let mut child = spawn_child("f", imp, &names, total);
    pin(CONSUMER_CPU);
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).or_fail("histogram");
    ctl.start(&mut child);
    let mut cursor = 0u64;
    let mut t = Instant::now();
    for s in 0..total {
        ping.push(s).or_fail("push");
        loop {
            // Pure spin: no yield, no backoff.
            if let Some(r) = pong.read(&mut cursor) {
                if r.value() != s {
                    fail(&format!("ping-pong: sent {s}, got {}", r.value()));
                }
                break;
            }
            std::hint::spin_loop();
        }
        let now = Instant::now();
        if s >= WARMUP {
            h.record((now - t).as_nanos() as u64).or_fail("record");
        }
        t = now;
    }
    join_child(child);
    let _ = ping.remove_shm();
    let _ = pong.remove_shm();
    Control::remove(&names);
    h
}

/// Child of run f for slick-queue: echoes every value from q0 to q1.
pub fn f_slick_child(imp: &str, names: &Names, total: u64) {
    pin(PRODUCER_CPU);
    // This process reads ping and produces on pong.
    let ping = Queue::<u64>::open(&names.q(0), &reader_options(imp)).or_fail("open queue");
    let pong = Queue::<u64>::open(&names.q(1), &slick_options(imp)).or_fail("open queue");
    let ctl = Control::open(&names_ref(names));
    ctl.child_ready();
    let mut cursor = 0u64;
    let mut s = 0;
    while s < total {
        if let Some(r) = ping.read(&mut cursor) {
            let v = r.value();
            pong.push(v).or_fail("push");
            s += 1;
        } else {
            std::hint::spin_loop();
        }
    }
}

// ------------------------------------------------------------ iceoryx2

#[cfg(feature = "iceoryx2")]
pub mod ice {
    //! iceoryx2 publish/subscribe (zero-copy: loan, write, send; receive).
    use super::*;
    use iceoryx2::prelude::*;

    fn node() -> Node<ipc::Service> {
        set_log_level(LogLevel::Error);
        NodeBuilder::new().create::<ipc::Service>().or_fail("iceoryx2 node")
    }

    type PortFactory = iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, u64, ()>;

    fn service(node: &Node<ipc::Service>, name: &str, buffer: usize) -> PortFactory {
        let name: ServiceName = name.try_into().or_fail("service name");
        node.service_builder(&name)
            .publish_subscribe::<u64>()
            .max_publishers(1)
            .max_subscribers(1)
            .history_size(0)
            .subscriber_max_buffer_size(buffer)
            .enable_safe_overflow(false)
            .open_or_create()
            .or_fail("iceoryx2 service")
    }

    fn service_name(names: &Names, i: u32) -> String {
        format!("slickbench/{}", names.q(i))
    }

    /// Run e, parent: subscriber, consumes.
    pub fn e(count: u64) -> Duration {
        let names = Names::fresh("e");
        let node = node();
        let svc = service(&node, &service_name(&names, 0), SIZE as usize);
        let sub = svc.subscriber_builder().buffer_size(SIZE as usize).create().or_fail("subscriber");
        let ctl = Control::create(&names);
        let mut child = spawn_child("e", "iceoryx2", &names, count);
        pin(CONSUMER_CPU);
        let t0 = ctl.start(&mut child);
        let mut chk = SeqCheck::new(1);
        let mut spin = Spin::new();
        let mut got = 0;
        while got < count {
            match sub.receive().or_fail("receive") {
                Some(sample) => {
                    chk.check(*sample);
                    got += 1;
                    mark_consumed(&ctl.consumed, got);
                    spin.reset();
                }
                None => spin.wait(),
            }
        }
        let dt = t0.elapsed();
        join_child(child);
        Control::remove(&names);
        dt
    }

    /// Run e, child: publisher, produces.
    pub fn e_child(names: &Names, count: u64) {
        pin(PRODUCER_CPU);
        let node = node();
        let svc = service(&node, &service_name(names, 0), SIZE as usize);
        let publisher = svc.publisher_builder().create().or_fail("publisher");
        let ctl = Control::open(&names_ref(names));
        ctl.child_ready();
        let mut w = Window::new(&ctl.consumed, SIZE);
        for s in 0..count {
            w.wait(s, 1);
            let sample = publisher.loan_uninit().or_fail("loan");
            sample.write_payload(s).send().or_fail("send");
        }
    }

    /// Run f, parent: pings on service 0, waits for the echo on service 1.
    pub fn f(count: u64) -> hdrhistogram::Histogram<u64> {
        let names = Names::fresh("f");
        let node = node();
        let ping = service(&node, &service_name(&names, 0), PING_SIZE as usize);
        let pong = service(&node, &service_name(&names, 1), PING_SIZE as usize);
        let sub = pong.subscriber_builder().create().or_fail("subscriber");
        let ctl = Control::create(&names);
        let total = WARMUP + count;
        let mut child = spawn_child("f", "iceoryx2", &names, total);
        // The child's subscriber must exist before the first ping.
        let mut spin = Spin::new();
        while ctl.ready.load(Ordering::Acquire) == 0 {
            spin.wait();
        }
        let publisher = ping.publisher_builder().create().or_fail("publisher");
        pin(CONSUMER_CPU);
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).or_fail("histogram");
        ctl.start(&mut child);
        let mut t = Instant::now();
        for s in 0..total {
            publisher.loan_uninit().or_fail("loan").write_payload(s).send().or_fail("send");
            loop {
                if let Some(sample) = sub.receive().or_fail("receive") {
                    if *sample != s {
                        fail(&format!("ping-pong: sent {s}, got {}", *sample));
                    }
                    break;
                }
                std::hint::spin_loop();
            }
            let now = Instant::now();
            if s >= WARMUP {
                h.record((now - t).as_nanos() as u64).or_fail("record");
            }
            t = now;
        }
        join_child(child);
        Control::remove(&names);
        h
    }

    /// Run f, child: echoes.
    pub fn f_child(names: &Names, total: u64) {
        pin(PRODUCER_CPU);
        let node = node();
        let ping = service(&node, &service_name(names, 0), PING_SIZE as usize);
        let pong = service(&node, &service_name(names, 1), PING_SIZE as usize);
        let sub = ping.subscriber_builder().create().or_fail("subscriber");
        let publisher = pong.publisher_builder().create().or_fail("publisher");
        let ctl = Control::open(&names_ref(names));
        ctl.child_ready();
        let mut s = 0;
        while s < total {
            if let Some(sample) = sub.receive().or_fail("receive") {
                let v = *sample;
                drop(sample);
                publisher.loan_uninit().or_fail("loan").write_payload(v).send().or_fail("send");
                s += 1;
            } else {
                std::hint::spin_loop();
            }
        }
    }
}
