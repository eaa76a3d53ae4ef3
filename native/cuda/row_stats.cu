// The host side of the CUDA reduction (panscore::cuda::reduce_rows, declared in
// native/src/device_stats.h): argument checks, per-thread streams and scratch buffers, the two
// kernel launches of row_stats_kernels.cuh, one copy back and the scatter of the results by
// destination. Every CUDA error becomes a status and a message; nothing throws.
//
// Stream: llama.cpp's CUDA backend computes on streams of its own, and its scheduler calls the
// eval callback only after ggml_backend_synchronize() on that backend, so the logits are complete
// and visible to any stream. We therefore use our own non-blocking stream (no need to reach into
// ggml for its stream) and synchronise it before returning, because the scheduler may reuse the
// logits' memory for the next micro-batch as soon as the callback returns.
#include "device_stats.h"
#include "errors.h"
#include "row_stats_kernels.cuh"

#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace panscore {
namespace cuda {
namespace {

int32_t cuda_fail(cudaError_t err, const char * what) {
    return fail(PS_ERR_BACKEND, "CUDA error in %s: %s (%s)", what, cudaGetErrorName(err), cudaGetErrorString(err));
}

#define PS_CUDA_TRY(call)                                     \
    do {                                                      \
        const cudaError_t ps_err_ = (call);                   \
        if (ps_err_ != cudaSuccess) return cuda_fail(ps_err_, #call); \
    } while (0)

size_t align_up(size_t n) { return (n + 255) & ~static_cast<size_t>(255); }

// One thread's resources on one device: a stream and grow-only scratch buffers (device memory
// and pinned host memory, so the copies are truly asynchronous and need one synchronisation).
// Growth happens only between calls, when nothing is in flight on the stream.
struct DeviceScratch {
    int device = -1;
    cudaStream_t stream = nullptr;
    char * d_buf = nullptr;
    size_t d_cap = 0;
    char * h_buf = nullptr;
    size_t h_cap = 0;

    DeviceScratch() = default;
    DeviceScratch(const DeviceScratch &) = delete;
    DeviceScratch & operator=(const DeviceScratch &) = delete;
    ~DeviceScratch() { release(); }

    // Errors are ignored: at process exit the CUDA runtime may already be unloading
    // (cudaErrorCudartUnloading), and there is nobody left to report to.
    void release() noexcept {
        int previous = -1;
        const bool switched = device >= 0 && cudaGetDevice(&previous) == cudaSuccess && previous != device &&
                              cudaSetDevice(device) == cudaSuccess;
        if (stream) cudaStreamSynchronize(stream);
        if (d_buf) cudaFree(d_buf);
        if (h_buf) cudaFreeHost(h_buf);
        if (stream) cudaStreamDestroy(stream);
        if (switched) cudaSetDevice(previous);
        stream = nullptr;
        d_buf = nullptr;
        h_buf = nullptr;
        d_cap = h_cap = 0;
    }

    int32_t ensure(size_t d_need, size_t h_need) {
        if (stream == nullptr) {
            // Non-blocking: no implicit ordering with the legacy default stream or ggml's streams.
            // Ordering is not needed: the logits are complete before we are called.
            PS_CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
        }
        if (d_need > d_cap) {
            const size_t cap = std::max(d_need, d_cap * 2);
            if (d_buf) cudaFree(d_buf);
            d_buf = nullptr;
            d_cap = 0;
            const cudaError_t err = cudaMalloc(&d_buf, cap);
            if (err != cudaSuccess) {
                d_buf = nullptr;
                cudaGetLastError(); // an allocation failure is not sticky; clear it
                return fail(err == cudaErrorMemoryAllocation ? PS_ERR_OUT_OF_MEMORY : PS_ERR_BACKEND,
                            "CUDA error in cudaMalloc(%zu bytes) for the reduction's scratch: %s (%s)", cap,
                            cudaGetErrorName(err), cudaGetErrorString(err));
            }
            d_cap = cap;
        }
        if (h_need > h_cap) {
            const size_t cap = std::max(h_need, h_cap * 2);
            if (h_buf) cudaFreeHost(h_buf);
            h_buf = nullptr;
            h_cap = 0;
            const cudaError_t err = cudaMallocHost(&h_buf, cap);
            if (err != cudaSuccess) {
                h_buf = nullptr;
                cudaGetLastError();
                return fail(err == cudaErrorMemoryAllocation ? PS_ERR_OUT_OF_MEMORY : PS_ERR_BACKEND,
                            "CUDA error in cudaMallocHost(%zu bytes) for the reduction's scratch: %s (%s)", cap,
                            cudaGetErrorName(err), cudaGetErrorString(err));
            }
            h_cap = cap;
        }
        return PS_OK;
    }
};

// Per thread, so engines on different threads never share a stream or a buffer (no locks), and a
// thread's resources go away with it.
struct ThreadCache {
    std::vector<std::unique_ptr<DeviceScratch>> by_device;

    DeviceScratch & on(int device) {
        if (static_cast<size_t>(device) >= by_device.size()) by_device.resize(static_cast<size_t>(device) + 1);
        auto & slot = by_device[static_cast<size_t>(device)];
        if (!slot) {
            slot = std::make_unique<DeviceScratch>();
            slot->device = device;
        }
        return *slot;
    }
};
thread_local ThreadCache t_cache;

// Makes `device` current for the scope and restores the caller's device (ggml sets its own before
// every operation, but other code on this thread may rely on the current device).
class DeviceScope {
public:
    DeviceScope() = default;
    DeviceScope(const DeviceScope &) = delete;
    DeviceScope & operator=(const DeviceScope &) = delete;
    int32_t enter(int device) {
        PS_CUDA_TRY(cudaGetDevice(&previous_));
        if (previous_ != device) {
            PS_CUDA_TRY(cudaSetDevice(device));
            switched_ = true;
        }
        return PS_OK;
    }
    ~DeviceScope() {
        if (switched_) cudaSetDevice(previous_);
    }

private:
    int previous_ = 0;
    bool switched_ = false;
};

// Where each piece lives in the scratch buffers. The outputs are contiguous and in the same order
// on both sides, so one copy brings them back.
struct Layout {
    size_t targets, logz, out_begin, status, stats, ids, lps, out_end; // device offsets
    size_t h_targets, h_out;                                            // host offsets
    size_t d_size, h_size;

    Layout(size_t n, size_t k) {
        size_t o = 0;
        targets = o; o = align_up(o + n * sizeof(int32_t));
        logz = o;    o = align_up(o + n * sizeof(double));
        out_begin = o;
        status = o;  o = align_up(o + n * sizeof(int32_t));
        stats = o;   o = align_up(o + n * sizeof(ps_token_stats));
        ids = o;     o = align_up(o + n * k * sizeof(int32_t));
        lps = o;     o = align_up(o + n * k * sizeof(float));
        out_end = o;
        d_size = o;
        h_targets = 0;
        h_out = align_up(n * sizeof(int32_t));
        h_size = h_out + (out_end - out_begin);
    }
};

int32_t reduce_rows_impl(const float * d_logits, int64_t row_stride_bytes, int32_t n_rows, int32_t n_vocab,
                         const int32_t * h_targets, const int64_t * h_dest, float inv_t, int32_t top_k,
                         ps_token_stats * h_out_stats, int32_t * h_topk_ids, float * h_topk_logprobs,
                         int32_t * bad_row) {
    if (bad_row) *bad_row = -1;
    if (n_rows < 0 || n_vocab <= 0 || n_vocab > INT_MAX - 4 * STATS_THREADS) {
        return fail(PS_ERR_INVALID_ARGUMENT, "cuda::reduce_rows: bad sizes (n_rows %d, n_vocab %d)", n_rows, n_vocab);
    }
    if (top_k < 0 || top_k > MAX_TOP_K) {
        return fail(PS_ERR_INVALID_ARGUMENT,
                    "top_k %d is not supported by the CUDA reduction (at most %d per position); "
                    "ask for fewer, or score on the CPU", top_k, MAX_TOP_K);
    }
    if (n_rows == 0) return PS_OK;
    if (d_logits == nullptr || h_targets == nullptr || h_dest == nullptr || h_out_stats == nullptr ||
        (top_k > 0 && (h_topk_ids == nullptr || h_topk_logprobs == nullptr))) {
        return fail(PS_ERR_INVALID_ARGUMENT, "cuda::reduce_rows: NULL array");
    }
    if (row_stride_bytes < static_cast<int64_t>(n_vocab) * 4 || row_stride_bytes % 4 != 0 ||
        reinterpret_cast<uintptr_t>(d_logits) % 4 != 0) {
        return fail(PS_ERR_INVALID_ARGUMENT, "cuda::reduce_rows: row stride %lld is not a 4-byte multiple >= 4 * n_vocab, "
                    "or the rows are not float-aligned", static_cast<long long>(row_stride_bytes));
    }
    for (int32_t r = 0; r < n_rows; ++r) {
        if (h_targets[r] < 0 || h_targets[r] >= n_vocab) {
            return fail(PS_ERR_TOKEN_OUT_OF_RANGE, "target %d of row %d is outside the vocabulary [0, %d)", h_targets[r],
                        r, n_vocab);
        }
        if (h_dest[r] < 0) return fail(PS_ERR_INVALID_ARGUMENT, "cuda::reduce_rows: negative destination for row %d", r);
    }

    // A stale, non-sticky error left by someone else must not be blamed on us (nor hide ours).
    cudaGetLastError();

    // Which device holds the logits (with several GPUs, llama.cpp may put the output layer on any).
    cudaPointerAttributes attr{};
    const cudaError_t perr = cudaPointerGetAttributes(&attr, d_logits);
    if (perr != cudaSuccess) return cuda_fail(perr, "cudaPointerGetAttributes(logits)");
    if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged) {
        return fail(PS_ERR_BACKEND, "the logits tensor is not in CUDA device memory (pointer type %d)",
                    static_cast<int>(attr.type));
    }
    int device = attr.device;
    if (device < 0) PS_CUDA_TRY(cudaGetDevice(&device));
    DeviceScope scope;
    int32_t st = scope.enter(device);
    if (st != PS_OK) return st;

    const size_t n = static_cast<size_t>(n_rows), k = static_cast<size_t>(top_k);
    const Layout L(n, k);
    DeviceScratch & sc = t_cache.on(device);
    st = sc.ensure(L.d_size, L.h_size);
    if (st != PS_OK) return st;

    char * d = sc.d_buf;
    char * h = sc.h_buf;
    std::memcpy(h + L.h_targets, h_targets, n * sizeof(int32_t));
    const char * logits = reinterpret_cast<const char *>(d_logits);
    const long long stride = static_cast<long long>(row_stride_bytes);
    auto * d_status = reinterpret_cast<int *>(d + L.status);
    auto * d_logz = reinterpret_cast<double *>(d + L.logz);
    auto enqueue = [&]() -> int32_t {
        PS_CUDA_TRY(cudaMemcpyAsync(d + L.targets, h + L.h_targets, n * sizeof(int32_t), cudaMemcpyHostToDevice,
                                    sc.stream));
        row_stats_kernel<<<n_rows, STATS_THREADS, 0, sc.stream>>>(
            logits, stride, n_vocab, reinterpret_cast<const int *>(d + L.targets), inv_t,
            reinterpret_cast<ps_token_stats *>(d + L.stats), d_logz, d_status);
        PS_CUDA_TRY(cudaGetLastError());
        if (top_k > 0) {
            topk_kernel<<<n_rows, TOPK_THREADS, 0, sc.stream>>>(logits, stride, n_vocab, inv_t, top_k, d_logz, d_status,
                                                                reinterpret_cast<int *>(d + L.ids),
                                                                reinterpret_cast<float *>(d + L.lps));
            PS_CUDA_TRY(cudaGetLastError());
        }
        PS_CUDA_TRY(cudaMemcpyAsync(h + L.h_out, d + L.out_begin, L.out_end - L.out_begin, cudaMemcpyDeviceToHost,
                                    sc.stream));
        // Wait here: the caller (llama.cpp's scheduler) may overwrite the logits once we return.
        PS_CUDA_TRY(cudaStreamSynchronize(sc.stream));
        return PS_OK;
    };
    st = enqueue();
    if (st != PS_OK) {
        // Whatever was queued must finish before the scratch buffers are reused or freed.
        cudaStreamSynchronize(sc.stream);
        return st;
    }

    const char * out = h + L.h_out;
    const auto * status = reinterpret_cast<const int32_t *>(out + (L.status - L.out_begin));
    const auto * stats = reinterpret_cast<const ps_token_stats *>(out + (L.stats - L.out_begin));
    const auto * ids = reinterpret_cast<const int32_t *>(out + (L.ids - L.out_begin));
    const auto * lps = reinterpret_cast<const float *>(out + (L.lps - L.out_begin));
    int32_t result = PS_OK, first_bad = -1;
    for (size_t r = 0; r < n; ++r) {
        if (status[r] != ROW_OK) {
            if (result == PS_OK) {
                result = status[r];
                first_bad = static_cast<int32_t>(r);
            }
            continue;
        }
        const size_t dest = static_cast<size_t>(h_dest[r]);
        h_out_stats[dest] = stats[r];
        if (k) {
            std::memcpy(h_topk_ids + dest * k, ids + r * k, k * sizeof(int32_t));
            std::memcpy(h_topk_logprobs + dest * k, lps + r * k, k * sizeof(float));
        }
    }
    if (result != PS_OK) {
        if (bad_row) *bad_row = first_bad;
        return fail(result, "logits row %d holds a NaN or +inf, or no finite logit", first_bad);
    }
    return PS_OK;
}

} // namespace

int32_t reduce_rows(const float * d_logits, int64_t row_stride_bytes, int32_t n_rows, int32_t n_vocab,
                    const int32_t * h_targets, const int64_t * h_dest, float inv_temperature, int32_t top_k,
                    ps_token_stats * h_out_stats, int32_t * h_topk_ids, float * h_topk_logprobs,
                    int32_t * bad_row) noexcept {
    try {
        return reduce_rows_impl(d_logits, row_stride_bytes, n_rows, n_vocab, h_targets, h_dest, inv_temperature, top_k,
                                h_out_stats, h_topk_ids, h_topk_logprobs, bad_row);
    } catch (const std::bad_alloc &) {
        return fail(PS_ERR_OUT_OF_MEMORY, "cuda::reduce_rows: out of host memory");
    } catch (...) {
        return fail(PS_ERR_INTERNAL, "cuda::reduce_rows: unexpected C++ exception");
    }
}

void release_thread_cache() noexcept {
    t_cache.by_device.clear(); // each DeviceScratch frees its stream and buffers
}

} // namespace cuda
} // namespace panscore

