// What the keeper's two files share (keeper_sweep.cpp: finding and killing;
// keeper_main.cpp: the keeper's life): system calls made without libc, and
// the sweep as the keeper calls it. Not installed.
#pragma once

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REINS_KEEPER_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define REINS_KEEPER_SANITIZED 1
#endif
#endif

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace reins::supervisor::keeper {

// System calls without libc. After drop_inherited_memory() the keeper may
// neither go through the PLT (lazy binding reads the dynamic linker's data,
// some of it on the heap) nor touch errno. Returns >= 0, or -errno.
#if defined(__x86_64__) && !defined(REINS_KEEPER_SANITIZED)
inline constexpr bool can_drop_memory = true;
static inline long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
    long ret;
    register long r10 asm("r10") = d;
    asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__aarch64__) && !defined(REINS_KEEPER_SANITIZED)
inline constexpr bool can_drop_memory = true;
static inline long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
    register long x8 asm("x8") = n;
    register long x0 asm("x0") = a;
    register long x1 asm("x1") = b;
    register long x2 asm("x2") = c;
    register long x3 asm("x3") = d;
    asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}
#else
// Elsewhere (and under sanitizers, whose instrumentation calls into their
// runtime) the keeper keeps its copy of the supervisor's memory.
inline constexpr bool can_drop_memory = false;
static inline long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
    long r = ::syscall(n, a, b, c, d);
    return r < 0 ? -errno : r;
}
#endif

static inline long sys_open_at(int dir, const char* path, int flags) noexcept {
    return sys(SYS_openat, dir, reinterpret_cast<long>(path), flags);
}
static inline long sys_read(int fd, void* buf, std::size_t n) noexcept {
    return sys(SYS_read, fd, reinterpret_cast<long>(buf), static_cast<long>(n));
}
static inline void sys_close(int fd) noexcept { sys(SYS_close, fd); }
static inline bool sys_kill(pid_t pid, int sig) noexcept { return sys(SYS_kill, pid, sig) == 0; }

/// sweep() without a PLT entry: hidden, so that the keeper's call from
/// keeper_main.cpp is direct even in a shared library.
__attribute__((visibility("hidden"))) int sweep_rounds(const char* tag, std::size_t tag_len, const int32_t* groups,
                                                       std::size_t group_count, int max_rounds) noexcept;
/// Where the sweep keeps its table (drop_inherited_memory() keeps it).
__attribute__((visibility("hidden"))) const void* sweep_table() noexcept;

}  // namespace reins::supervisor::keeper
