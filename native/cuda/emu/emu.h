// A tiny single-threaded CUDA emulator, just enough to run row_stats_kernels.cuh on a machine
// without a GPU: every CUDA thread of a block is a ucontext fiber, blocks run one after another.
// Fibers switch only inside barriers, so shared-memory atomics are trivially atomic and every run
// is deterministic. It checks the kernels' logic (indexing, barriers, warp-collective protocol,
// radix select, merges), not their speed, and not the GPU's floating-point details (__expf is
// exact here; ex2.approx on the device).
//
// Supported: threadIdx.x / blockIdx.x (1-D), __syncthreads, and the full-warp collectives the
// kernels use (__shfl_xor_sync, __shfl_down_sync, __shfl_sync, __ballot_sync, __match_any_sync),
// which must be called by all 32 lanes of a warp: the emulator aborts on a deadlock (a barrier
// that some thread never reaches), which is how a divergent collective shows up here.
#pragma once

#include <ucontext.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static // one block at a time: a static is the block's shared memory

struct alignas(16) float4 {
    float x, y, z, w;
};

namespace emu {

struct Dim {
    unsigned x = 0;
};

struct Fiber {
    ucontext_t ctx{};
    std::vector<char> stack;
    Dim tid;
    bool done = false;
};

struct State {
    std::vector<Fiber> fibers;
    ucontext_t sched{};
    int cur = -1;
    int live = 0;
    Dim block;
    std::function<void()> body;
    // barriers: arrivals, releases (a generation counter) and the progress counter of the scheduler
    int block_arrived = 0;
    unsigned long block_gen = 0;
    std::vector<int> warp_arrived, warp_live;
    std::vector<unsigned long> warp_gen;
    std::vector<std::array<uint64_t, 32>> warp_slot;
    unsigned long events = 0;
};

inline State & st() {
    static State s;
    return s;
}

inline void yield() {
    State & s = st();
    swapcontext(&s.fibers[static_cast<size_t>(s.cur)].ctx, &s.sched);
}

inline unsigned tid() { return st().fibers[static_cast<size_t>(st().cur)].tid.x; }
inline int lane() { return static_cast<int>(tid() & 31u); }
inline int warp() { return static_cast<int>(tid() >> 5); }

inline void sync_block() {
    State & s = st();
    const unsigned long gen = s.block_gen;
    ++s.events;
    if (++s.block_arrived == s.live) {
        s.block_arrived = 0;
        ++s.block_gen;
        return;
    }
    while (s.block_gen == gen) yield();
}

inline void sync_warp() {
    State & s = st();
    const size_t w = static_cast<size_t>(warp());
    const unsigned long gen = s.warp_gen[w];
    ++s.events;
    if (++s.warp_arrived[w] == s.warp_live[w]) {
        s.warp_arrived[w] = 0;
        ++s.warp_gen[w];
        return;
    }
    while (s.warp_gen[w] == gen) yield();
}

inline void trampoline() {
    State & s = st();
    s.body();
    Fiber & f = s.fibers[static_cast<size_t>(s.cur)];
    f.done = true;
    ++s.events;
    // An exited thread no longer takes part in barriers; release any it was holding up.
    --s.live;
    if (s.block_arrived > 0 && s.block_arrived == s.live) { s.block_arrived = 0; ++s.block_gen; }
    const size_t w = f.tid.x >> 5;
    --s.warp_live[w];
    if (s.warp_arrived[w] > 0 && s.warp_arrived[w] == s.warp_live[w]) { s.warp_arrived[w] = 0; ++s.warp_gen[w]; }
    // returning resumes uc_link, the scheduler
}

template <typename T> uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <typename T> T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}

template <typename T> T exchange(T v, int src) {
    State & s = st();
    const size_t w = static_cast<size_t>(warp());
    s.warp_slot[w][static_cast<size_t>(lane())] = to_bits(v);
    sync_warp();
    const T r = from_bits<T>(s.warp_slot[w][static_cast<size_t>(src)]);
    sync_warp(); // nobody overwrites a slot before every lane has read
    return r;
}

inline void check_mask(unsigned mask) {
    if (mask != 0xffffffffu) {
        std::fprintf(stderr, "emu: only full-warp collectives are emulated (mask %08x)\n", mask);
        std::abort();
    }
}

// Runs kernel(args...) on a grid of `grid` blocks of `block` threads (block a multiple of 32).
template <typename Kernel, typename... Args> void launch(Kernel kernel, unsigned grid, unsigned block, Args... args) {
    State & s = st();
    if (block == 0 || block % 32 != 0 || block > 1024) {
        std::fprintf(stderr, "emu: block size %u must be a multiple of 32 up to 1024\n", block);
        std::abort();
    }
    s.body = [&] { kernel(args...); };
    constexpr size_t STACK = 64 * 1024;
    if (s.fibers.size() < block) s.fibers.resize(block);
    const size_t n_warps = block / 32;
    for (unsigned b = 0; b < grid; ++b) {
        s.block.x = b;
        s.live = static_cast<int>(block);
        s.block_arrived = 0;
        s.warp_arrived.assign(n_warps, 0);
        s.warp_live.assign(n_warps, 32);
        s.warp_gen.assign(n_warps, 0);
        s.warp_slot.assign(n_warps, {});
        for (unsigned t = 0; t < block; ++t) {
            Fiber & f = s.fibers[t];
            if (f.stack.size() != STACK) f.stack.assign(STACK, 0);
            getcontext(&f.ctx);
            f.ctx.uc_stack.ss_sp = f.stack.data();
            f.ctx.uc_stack.ss_size = STACK;
            f.ctx.uc_link = &s.sched;
            makecontext(&f.ctx, trampoline, 0);
            f.tid.x = t;
            f.done = false;
        }
        // Round-robin until every fiber has returned; a round without any arrival, release or exit
        // means some barrier can never complete.
        while (s.live > 0) {
            const unsigned long before = s.events;
            const unsigned long gens = s.block_gen;
            for (unsigned t = 0; t < block; ++t) {
                if (s.fibers[t].done) continue;
                s.cur = static_cast<int>(t);
                swapcontext(&s.sched, &s.fibers[t].ctx);
            }
            if (s.live > 0 && s.events == before && s.block_gen == gens) {
                std::fprintf(stderr, "emu: deadlock in block %u (%d threads stuck at a barrier)\n", b, s.live);
                std::abort();
            }
        }
        s.cur = -1;
    }
}

} // namespace emu

#define threadIdx (emu::st().fibers[static_cast<size_t>(emu::st().cur)].tid)
#define blockIdx (emu::st().block)

inline void __syncthreads() { emu::sync_block(); }

template <typename T> T __shfl_xor_sync(unsigned mask, T v, int offset) {
    emu::check_mask(mask);
    return emu::exchange(v, emu::lane() ^ offset);
}
template <typename T> T __shfl_down_sync(unsigned mask, T v, int offset) {
    emu::check_mask(mask);
    const int src = emu::lane() + offset;
    return emu::exchange(v, src < 32 ? src : emu::lane());
}
template <typename T> T __shfl_sync(unsigned mask, T v, int src) {
    emu::check_mask(mask);
    return emu::exchange(v, src & 31);
}
inline unsigned __ballot_sync(unsigned mask, bool pred) {
    emu::check_mask(mask);
    emu::State & s = emu::st();
    const size_t w = static_cast<size_t>(emu::warp());
    s.warp_slot[w][static_cast<size_t>(emu::lane())] = pred ? 1 : 0;
    emu::sync_warp();
    unsigned r = 0;
    for (unsigned l = 0; l < 32; ++l) r |= s.warp_slot[w][l] ? 1u << l : 0u;
    emu::sync_warp();
    return r;
}
inline unsigned __match_any_sync(unsigned mask, unsigned v) {
    emu::check_mask(mask);
    emu::State & s = emu::st();
    const size_t w = static_cast<size_t>(emu::warp());
    s.warp_slot[w][static_cast<size_t>(emu::lane())] = v;
    emu::sync_warp();
    unsigned r = 0;
    for (unsigned l = 0; l < 32; ++l) r |= s.warp_slot[w][l] == v ? 1u << l : 0u;
    emu::sync_warp();
    return r;
}

template <typename T> T __ldg(const T * p) { return *p; }
inline unsigned atomicAdd(unsigned * p, unsigned v) {
    const unsigned old = *p;
    *p = old + v;
    return old;
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __ffs(unsigned v) { return __builtin_ffs(static_cast<int>(v)); }
inline unsigned __float_as_uint(float f) {
    unsigned u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
inline float __fmul_rn(float a, float b) {
    volatile float p = a * b;
    return p;
}
inline float __expf(float x) { return std::exp(x); }
template <typename T> T min(T a, T b) { return b < a ? b : a; }
