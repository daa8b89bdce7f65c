// The C++ original (slick::SlickQueue, header-only) under the same protocol
// as the Rust harness (docs/spec/BENCH_PROTOCOL.md), for runs a, c, e, f, g.
//
// This file is ours; the header it measures is NOT in this repository. It is
// compiled only when SLICK_BENCH_CPP_INCLUDE names a directory holding
// `slick/queue.h` and its dependency `slick/shm/...` (bench/run does it:
// g++ -O3 -std=c++20 -I$SLICK_BENCH_CPP_INCLUDE bench/cpp/driver.cpp).
// `slick-bench run <run> cpp` then runs the binary and passes its result on.
//
//   slick-bench-cpp run <run> <count>          one measurement: RESULT {json}
//   slick-bench-cpp child <run> <base> <count> (internal) child of runs e, f
//
// Same shapes as bench/src: a queue of 2^16 u64 elements (1024 for f's two
// queues), producer pinned to CPU 0 and consumer to CPU 1, flow control via
// a cache-line-aligned `consumed` counter (window of half the ring), every
// value checked by the consumer, a 100,000-round-trip warm-up for f.

#include <slick/queue.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <immintrin.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr uint64_t kSize = 1u << 16;
constexpr uint32_t kPingSize = 1024;
constexpr uint64_t kWarmup = 100000;
using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& msg) {
    std::fprintf(stderr, "slick-bench-cpp: FAILED: %s\n", msg.c_str());
    std::exit(1);
}

void pin(int cpu) {
    if (std::thread::hardware_concurrency() <= static_cast<unsigned>(cpu)) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

// Spin, then yield after 1024 spins (as bench/src/common.rs `Spin`), and give
// up after 30 s without progress.
struct Spin {
    uint32_t spins = 0;
    Clock::time_point since{};
    void wait() {
        if (spins < 1024) {
            ++spins;
            _mm_pause();
            return;
        }
        std::this_thread::yield();
        if (since == Clock::time_point{}) {
            since = Clock::now();
        } else if (Clock::now() - since > std::chrono::seconds(30)) {
            fail("no progress for 30 s (stalled)");
        }
    }
    void reset() {
        spins = 0;
        since = {};
    }
};

struct alignas(128) Word {
    std::atomic<uint64_t> v{0};
};

// The control words: in a struct for the threads of run a/c, in a shared
// mapping of its own for runs e/f.
struct Control {
    Word consumed, ready, go;
};

// Producer-side flow control: the reservation ending at `last + k` must stay
// within half the ring of the consumer's cursor.
struct Window {
    std::atomic<uint64_t>* consumed;
    uint64_t cached = 0;
    int64_t half;
    Window(std::atomic<uint64_t>* c, uint64_t size) : consumed(c), half(static_cast<int64_t>(size / 2)) {}
    void wait(uint64_t last, uint64_t k) {
        uint64_t end = last + k;
        if (static_cast<int64_t>(end - cached) < half) return;
        Spin spin;
        for (;;) {
            cached = consumed->load(std::memory_order_acquire);
            if (static_cast<int64_t>(end - cached) < half) return;
            spin.wait();
        }
    }
};

void wait_go(std::atomic<uint64_t>& go) {
    Spin spin;
    while (go.load(std::memory_order_acquire) == 0) spin.wait();
}

double secs_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

void print_throughput(const char* run, uint64_t count, double secs, const char* note) {
    std::printf("RESULT {\"run\":\"%s\",\"impl\":\"cpp\",\"count\":%llu,\"secs\":%.9f,\"msgs_per_sec\":%.3f,\"note\":\"%s\"}\n",
                run, static_cast<unsigned long long>(count), secs, count / secs, note);
}

// ------------------------------------------------------------ runs a and c

double spsc_threads(uint64_t count, uint32_t k) {
    slick::SlickQueue<uint64_t> q(kSize);
    Control ctl;
    double secs = 0;
    std::thread producer([&] {
        pin(0);
        ctl.ready.v.store(1, std::memory_order_release);
        wait_go(ctl.go.v);
        Window w(&ctl.consumed.v, kSize);
        uint64_t last = 0;
        for (uint64_t s = 0; s < count; s += k) {
            w.wait(last, k);
            uint64_t i = q.reserve(k);
            for (uint32_t j = 0; j < k; ++j) *q[i + j] = s + j;
            q.publish(i, k);
            last = i;
        }
    });
    std::thread consumer([&] {
        pin(1);
        Spin spin;
        while (ctl.ready.v.load(std::memory_order_acquire) == 0) spin.wait();
        auto t0 = Clock::now();
        ctl.go.v.store(1, std::memory_order_release);
        uint64_t cursor = 0, next = 0;
        spin.reset();
        while (next < count) {
            auto [p, n] = q.read(cursor);
            if (p) {
                for (uint32_t j = 0; j < n; ++j) {
                    if (p[j] != next) fail("sequence: expected " + std::to_string(next) + ", got " + std::to_string(p[j]));
                    ++next;
                }
                ctl.consumed.v.store(cursor, std::memory_order_release);
                spin.reset();
            } else {
                spin.wait();
            }
        }
        secs = secs_since(t0);
    });
    producer.join();
    consumer.join();
    return secs;
}

// ------------------------------------------------------------ run g

double step(uint64_t count) {
    slick::SlickQueue<uint64_t> q(kSize);
    uint64_t cursor = 0;
    auto t0 = Clock::now();
    for (uint64_t s = 0; s < count; ++s) {
        uint64_t i = q.reserve(1);
        *q[i] = s;
        q.publish(i, 1);
        auto [p, n] = q.read(cursor);
        if (!p || n != 1 || *p != s) fail("step: read back a different value");
    }
    return secs_since(t0);
}

// ------------------------------------------------------------ runs e and f

std::string qname(const std::string& base, int i) { return base + "_q" + std::to_string(i); }

Control* map_control(const std::string& base, bool create) {
    std::string name = "/" + base + "_ctl";
    int fd = shm_open(name.c_str(), create ? (O_CREAT | O_EXCL | O_RDWR) : O_RDWR, 0600);
    if (fd < 0) fail("shm_open " + name);
    if (create && ftruncate(fd, sizeof(Control)) != 0) fail("ftruncate " + name);
    void* p = mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) fail("mmap " + name);
    if (create) return new (p) Control();
    return static_cast<Control*>(p);
}

pid_t spawn_child(const char* self, const char* run, const std::string& base, uint64_t count) {
    pid_t pid = fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
        std::string c = std::to_string(count);
        execl(self, self, "child", run, base.c_str(), c.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    return pid;
}

void join_child(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("child process failed");
}

Clock::time_point start(Control* ctl, pid_t child) {
    Spin spin;
    while (ctl->ready.v.load(std::memory_order_acquire) == 0) {
        int st = 0;
        if (waitpid(child, &st, WNOHANG) == child) fail("child exited before starting");
        spin.wait();
    }
    auto t0 = Clock::now();
    ctl->go.v.store(1, std::memory_order_release);
    return t0;
}

std::string fresh_base(const char* run) {
    return "slickbench_cpp_" + std::string(run) + "_" + std::to_string(getpid()) + "_" +
           std::to_string(Clock::now().time_since_epoch().count() & 0xffffff);
}

double run_e(const char* self, uint64_t count) {
    std::string base = fresh_base("e");
    Control* ctl = map_control(base, true);
    double secs = 0;
    {
        slick::SlickQueue<uint64_t> q(kSize, qname(base, 0).c_str());  // creator: removes the object
        pid_t child = spawn_child(self, "e", base, count);
        pin(1);
        auto t0 = start(ctl, child);
        uint64_t cursor = 0, next = 0;
        Spin spin;
        while (next < count) {
            auto [p, n] = q.read(cursor);
            if (p) {
                if (*p != next) fail("sequence: expected " + std::to_string(next) + ", got " + std::to_string(*p));
                ++next;
                ctl->consumed.v.store(cursor, std::memory_order_release);
                spin.reset();
            } else {
                spin.wait();
            }
        }
        secs = secs_since(t0);
        join_child(child);
    }
    shm_unlink(("/" + base + "_ctl").c_str());
    return secs;
}

void child_e(const std::string& base, uint64_t count) {
    pin(0);
    Control* ctl = map_control(base, false);
    slick::SlickQueue<uint64_t> q(qname(base, 0).c_str());
    ctl->ready.v.store(1, std::memory_order_release);
    wait_go(ctl->go.v);
    Window w(&ctl->consumed.v, kSize);
    uint64_t last = 0;
    for (uint64_t s = 0; s < count; ++s) {
        w.wait(last, 1);
        uint64_t i = q.reserve(1);
        *q[i] = s;
        q.publish(i, 1);
        last = i;
    }
}

void run_f(const char* self, uint64_t count) {
    std::string base = fresh_base("f");
    Control* ctl = map_control(base, true);
    uint64_t total = kWarmup + count;
    std::vector<uint64_t> samples;
    samples.reserve(count);
    {
        slick::SlickQueue<uint64_t> ping(kPingSize, qname(base, 0).c_str());
        slick::SlickQueue<uint64_t> pong(kPingSize, qname(base, 1).c_str());
        pid_t child = spawn_child(self, "f", base, total);
        pin(1);
        start(ctl, child);
        uint64_t cursor = 0;
        auto t = Clock::now();
        for (uint64_t s = 0; s < total; ++s) {
            uint64_t i = ping.reserve(1);
            *ping[i] = s;
            ping.publish(i, 1);
            for (;;) {
                auto [p, n] = pong.read(cursor);
                if (p) {
                    if (*p != s) fail("ping-pong: sent " + std::to_string(s) + ", got " + std::to_string(*p));
                    break;
                }
                _mm_pause();
            }
            auto now = Clock::now();
            if (s >= kWarmup) samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(now - t).count());
            t = now;
        }
        join_child(child);
    }
    shm_unlink(("/" + base + "_ctl").c_str());
    std::sort(samples.begin(), samples.end());
    auto q = [&](double p) -> double {
        // The value at quantile p, as hdrhistogram's value_at_quantile (the
        // smallest value with at least p of the samples at or below it).
        size_t idx = static_cast<size_t>(std::ceil(p * samples.size()));
        idx = idx == 0 ? 0 : idx - 1;
        return static_cast<double>(samples[std::min(idx, samples.size() - 1)]);
    };
    double mean = 0;
    for (uint64_t v : samples) mean += static_cast<double>(v);
    mean /= static_cast<double>(samples.size());
    std::string curve;
    std::vector<double> ps;
    for (double tail = 1.0; tail > 1e-5; tail /= 2.0) ps.push_back(1.0 - tail);
    for (double p : {0.99, 0.999, 0.9999, 0.99999}) ps.push_back(p);
    std::sort(ps.begin(), ps.end());
    ps.erase(std::unique(ps.begin(), ps.end(), [](double a, double b) { return std::fabs(a - b) < 1e-11; }), ps.end());
    for (double p : ps) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s[%.6f,%.1f]", curve.empty() ? "" : ",", p * 100.0, q(p));
        curve += buf;
    }
    std::printf(
        "RESULT {\"run\":\"f\",\"impl\":\"cpp\",\"count\":%llu,\"secs\":0,\"latency_ns\":{\"p50\":%.1f,\"p90\":%.1f,"
        "\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f,\"curve\":[%s]},\"note\":\"ping-pong across "
        "processes, queues of 1024; C++ slick::SlickQueue (header supplied)\"}\n",
        static_cast<unsigned long long>(count), q(0.5), q(0.9), q(0.99), q(0.999), q(1.0), mean, curve.c_str());
}

void child_f(const std::string& base, uint64_t total) {
    pin(0);
    Control* ctl = map_control(base, false);
    slick::SlickQueue<uint64_t> ping(qname(base, 0).c_str());
    slick::SlickQueue<uint64_t> pong(qname(base, 1).c_str());
    ctl->ready.v.store(1, std::memory_order_release);
    wait_go(ctl->go.v);
    uint64_t cursor = 0;
    uint64_t s = 0;
    while (s < total) {
        auto [p, n] = ping.read(cursor);
        if (p) {
            uint64_t v = *p;
            uint64_t i = pong.reserve(1);
            *pong[i] = v;
            pong.publish(i, 1);
            ++s;
        } else {
            _mm_pause();
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc == 4 && std::strcmp(argv[1], "run") == 0) {
            std::string run = argv[2];
            uint64_t count = std::strtoull(argv[3], nullptr, 10);
            if (run == "a") {
                print_throughput("a", count, spsc_threads(count, 1), "SPSC, u64, 1 per publish; C++ slick::SlickQueue (header supplied)");
            } else if (run == "c") {
                count -= count % 16;
                print_throughput("c", count, spsc_threads(count, 16), "SPSC, u64, batches of 16; C++ slick::SlickQueue (header supplied)");
            } else if (run == "e") {
                print_throughput("e", count, run_e(argv[0], count), "SPSC across processes, u64; C++ slick::SlickQueue (header supplied)");
            } else if (run == "f") {
                run_f(argv[0], count);
            } else if (run == "g") {
                double secs = step(count);
                std::printf("RESULT {\"run\":\"g\",\"impl\":\"cpp\",\"count\":%llu,\"secs\":%.9f,\"ns_per_step\":%.4f,"
                            "\"note\":\"one thread: reserve+write+publish+read; C++ slick::SlickQueue (header supplied)\"}\n",
                            static_cast<unsigned long long>(count), secs, secs * 1e9 / count);
            } else {
                fail("unknown run " + run);
            }
            return 0;
        }
        if (argc == 5 && std::strcmp(argv[1], "child") == 0) {
            std::string run = argv[2];
            uint64_t count = std::strtoull(argv[4], nullptr, 10);
            if (run == "e") child_e(argv[3], count);
            else if (run == "f") child_f(argv[3], count);
            else fail("unknown child run " + run);
            return 0;
        }
    } catch (const std::exception& e) {
        fail(e.what());
    }
    std::fprintf(stderr, "usage: slick-bench-cpp run <a|c|e|f|g> <count> | child <e|f> <base> <count>\n");
    return 64;
}
