// Giving back the memory an idle process no longer touches.
//
// A supervisor touches most of its code once, at start (reading the config,
// building services, the first requests), and then idles in epoll_wait for
// hours. The pages of code and read-only data it touched at start stay
// mapped into it until the kernel runs short of memory, so an idle daemon
// looks (and is counted: RSS, PSS, a container's working set) as large as
// everything it ever ran. trim_resident_memory() hands them back:
//
// - clean, read-only, private file mappings (code and constants of the
//   executable and of the libraries) are dropped from this process with
//   MADV_DONTNEED. They stay in the page cache: the next call into that code
//   maps the page again with a minor fault (about a microsecond), no I/O.
//   A mapping holding any page this process wrote (relocations applied to
//   RELRO data, a debugger's breakpoint) is left alone, since dropping it
//   would bring back the file's bytes in place of the written ones;
// - free heap memory is returned to the kernel (malloc_trim).
//
// When: ResidentTrim::request() trims right before the loop next waits for
// events (a uv_prepare handle). Every page touched after the trim is mapped
// again -- with its neighbours: the kernel maps up to 64 KiB around a faulted
// code page -- so the less code runs between the trim and the wait, the less
// comes back.
//
// Meant for a process that owns its address space (the reins executable);
// a library host should not have it done behind its back.
#pragma once

#include <cstddef>

namespace reins {

class Loop;

/// What one trim gave back, in kB of this process's resident set.
struct TrimReport {
    std::size_t file_kb = 0;  ///< clean file-backed pages dropped
    std::size_t mappings = 0; ///< how many mappings they came from
};

/// Drops this process's clean read-only file pages and trims the heap
/// (see above). Reads /proc/self/smaps; on any error gives back less, never
/// more. Not async-signal-safe; one call at a time in a process (its
/// table of mappings to drop is static).
TrimReport trim_resident_memory() noexcept;

/// Runs trim_resident_memory() once, the next time the loop is about to wait.
class ResidentTrim {
public:
    explicit ResidentTrim(Loop& loop);
    ~ResidentTrim();
    ResidentTrim(const ResidentTrim&) = delete;
    ResidentTrim& operator=(const ResidentTrim&) = delete;

    /// Trims before the loop's next wait (once, however often it is asked).
    void request() noexcept;
    /// How many trims ran, and what the last one gave back.
    std::size_t trims() const noexcept;
    TrimReport last() const noexcept;

private:
    struct State;
    State* state_;  // owned; freed by the handle's close callback
};

}  // namespace reins
