// reins-bench-engine: a replaced global operator new that counts live bytes
// and blocks of every C++ allocation, to tell what an idle service keeps on
// the heap. With REINS_BENCH_SITES set in the environment at exec (the --run
// sites mode), each block also carries a 16-byte header naming its
// allocation site: the first caller inside this executable, found with
// backtrace(), so that a std::string growing inside libstdc++ is charged to
// the reins function that made it.
#include "counting_allocator.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include <execinfo.h>
#include <malloc.h>

#include "measure.hpp"

extern "C" char __executable_start;  // linker-defined: the first byte of this executable
extern "C" char etext;               // …and the end of its text

namespace {
std::atomic<long long> g_live_bytes{0};
std::atomic<long long> g_live_blocks{0};

int g_sites = -1;  // -1: not looked up yet (getenv does not allocate)

constexpr int site_depth = 4;  // frames inside this executable kept per site

struct Site {
    uintptr_t pc[site_depth] = {};  // return addresses inside this executable, innermost first (0: none)
    long long bytes = 0;
    long long blocks = 0;
};
constexpr std::size_t site_slots = 8192;
Site g_site_table[site_slots];  // zero pages (bss): only touched in sites mode
thread_local bool t_in_hook = false;

// Slot of the allocating call path; frame 0 is this function, 1 alloc_impl,
// 2 the operator new, 3 its caller (perhaps inside libstdc++). The driver
// names the site after the first of its frames outside namespace std.
__attribute__((noinline)) uint32_t site_of_caller() {
    if (t_in_hook) return 0;  // backtrace() itself may allocate the first time
    t_in_hook = true;
    void* frames[24];
    int n = ::backtrace(frames, 24);
    const auto lo = reinterpret_cast<uintptr_t>(&__executable_start);
    const auto hi = reinterpret_cast<uintptr_t>(&etext);
    uintptr_t pc[site_depth] = {};
    int kept = 0;
    for (int i = 3; i < n && kept < site_depth; ++i) {
        auto a = reinterpret_cast<uintptr_t>(frames[i]);
        if (a >= lo && a < hi) pc[kept++] = a;
    }
    uint32_t slot = 0;
    if (kept > 0) {
        std::size_t h = 0;
        for (auto a : pc) h = (h ^ (a >> 2)) * 0x9E3779B97F4A7C15ull;
        for (std::size_t k = 0; k < site_slots; ++k) {
            std::size_t i = (h + k) % site_slots;
            if (i == 0) continue;  // slot 0: unknown site
            Site& s = g_site_table[i];
            if (s.pc[0] == 0) std::memcpy(s.pc, pc, sizeof pc);
            if (std::memcmp(s.pc, pc, sizeof pc) == 0) {
                slot = static_cast<uint32_t>(i);
                break;
            }
        }
    }
    t_in_hook = false;
    return slot;
}

struct Header {  // right before the block, in sites mode
    uint64_t size;
    uint32_t slot;
    uint32_t offset;  // from the malloc'd start to the block
};
static_assert(sizeof(Header) == 16);

__attribute__((noinline)) void* alloc_impl(std::size_t n, std::size_t align) {
    if (n == 0) n = 1;
    if (!engine_bench::sites_on()) {
        void* p = align > alignof(std::max_align_t)
                      ? std::aligned_alloc(align, (n + align - 1) / align * align)
                      : std::malloc(n);
        if (p) {
            g_live_bytes.fetch_add(static_cast<long long>(::malloc_usable_size(p)), std::memory_order_relaxed);
            g_live_blocks.fetch_add(1, std::memory_order_relaxed);
        }
        return p;
    }
    const std::size_t off = std::max<std::size_t>(align, sizeof(Header));
    char* raw = static_cast<char*>(align > alignof(std::max_align_t)
                                       ? std::aligned_alloc(align, (n + off + align - 1) / align * align)
                                       : std::malloc(n + off));
    if (!raw) return nullptr;
    char* p = raw + off;
    Header h{n, site_of_caller(), static_cast<uint32_t>(off)};
    std::memcpy(p - sizeof(Header), &h, sizeof h);
    g_site_table[h.slot].bytes += static_cast<long long>(n);
    g_site_table[h.slot].blocks += 1;
    g_live_bytes.fetch_add(static_cast<long long>(n), std::memory_order_relaxed);
    g_live_blocks.fetch_add(1, std::memory_order_relaxed);
    return p;
}

void free_impl(void* p) noexcept {
    if (!p) return;
    if (!engine_bench::sites_on()) {
        g_live_bytes.fetch_sub(static_cast<long long>(::malloc_usable_size(p)), std::memory_order_relaxed);
        g_live_blocks.fetch_sub(1, std::memory_order_relaxed);
        std::free(p);
        return;
    }
    Header h;
    std::memcpy(&h, static_cast<char*>(p) - sizeof(Header), sizeof h);
    g_site_table[h.slot].bytes -= static_cast<long long>(h.size);
    g_site_table[h.slot].blocks -= 1;
    g_live_bytes.fetch_sub(static_cast<long long>(h.size), std::memory_order_relaxed);
    g_live_blocks.fetch_sub(1, std::memory_order_relaxed);
    std::free(static_cast<char*>(p) - h.offset);
}

// Uses `p` after the call so that an operator new is never a tail call (the
// site lookup counts frames).
inline void* keep_frame(void* p) {
    asm volatile("" : : "r"(p) : "memory");
    return p;
}
}  // namespace

void* operator new(std::size_t n) {
    if (void* p = alloc_impl(n, 0)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    if (void* p = alloc_impl(n, 0)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return keep_frame(alloc_impl(n, 0)); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return keep_frame(alloc_impl(n, 0)); }
void* operator new(std::size_t n, std::align_val_t a) {
    if (void* p = alloc_impl(n, static_cast<std::size_t>(a))) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
    if (void* p = alloc_impl(n, static_cast<std::size_t>(a))) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { free_impl(p); }
void operator delete[](void* p) noexcept { free_impl(p); }
void operator delete(void* p, std::size_t) noexcept { free_impl(p); }
void operator delete[](void* p, std::size_t) noexcept { free_impl(p); }
void operator delete(void* p, std::align_val_t) noexcept { free_impl(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free_impl(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { free_impl(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { free_impl(p); }

namespace engine_bench {

bool sites_on() {
    if (g_sites < 0) g_sites = std::getenv("REINS_BENCH_SITES") ? 1 : 0;
    return g_sites == 1;
}

long long live_heap_bytes() { return g_live_bytes.load(); }
long long live_heap_blocks() { return g_live_blocks.load(); }

void emit_allocation_sites() {
    if (!sites_on()) return;
    const auto base = reinterpret_cast<uintptr_t>(&__executable_start);
    for (std::size_t i = 0; i < site_slots; ++i) {
        const Site& s = g_site_table[i];
        if (s.bytes == 0 && s.blocks == 0) continue;
        std::string line = "SITE " + std::to_string(s.bytes) + " " + std::to_string(s.blocks);
        char hex[24];
        for (auto pc : s.pc) {
            std::snprintf(hex, sizeof hex, " %lx", static_cast<unsigned long>(pc ? pc - base : 0));
            line += hex;
        }
        emit("%s", line.c_str());
    }
}

}  // namespace engine_bench
