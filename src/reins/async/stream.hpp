// Stream: a byte stream (pipe or TCP socket) read and written by awaiting.
//
// Reading is pull-based: the handle reads only while someone awaits read(),
// so a consumer that falls behind stops the reading and the writer on the
// other end blocks (backpressure), and memory stays bounded.
#pragma once

#include <cstddef>
#include <stop_token>
#include <string>
#include <string_view>

#include "reins/async/completion.hpp"
#include "reins/async/result.hpp"

namespace reins {

/// An owned uv stream handle (uv_pipe_t or uv_tcp_t) on the heap, freed by
/// its close callback; destroying the Stream closes it, completing any
/// pending read or write with an error.
class Stream {
public:
    struct State;
    /// The size of one read (the most a read() returns at once).
    static constexpr std::size_t read_chunk = 64 * 1024;

    Stream() noexcept = default;
    ~Stream() { close(); }
    Stream(Stream&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
    Stream& operator=(Stream&& o) noexcept;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    /// An initialised, unopened pipe handle (for accept, or uv_pipe_open).
    static Stream new_pipe();
    /// An initialised, unconnected TCP handle (for connect and accept).
    static Stream new_tcp();
    /// Takes ownership of an open pipe or socket file descriptor (closed on failure too).
    static Result<Stream> open_fd(int fd);

    explicit operator bool() const noexcept { return st_ != nullptr; }
    /// The libuv handle, for uv calls the Stream does not wrap.
    uv_stream_t* uv() const noexcept;

    class ReadAwaiter;
    class WriteAwaiter;
    /// The next bytes available (at most read_chunk). The view stays valid
    /// until the next read or the Stream's destruction. Errc::end_of_stream
    /// when the peer closed its end; Errc::cancelled on stop.
    ReadAwaiter read(std::stop_token stop = {});
    /// Writes all of `data` (owned by the request until libuv is done with
    /// it, even if the waiter is stopped or goes away first). A stopped
    /// write cannot be withdrawn: its bytes still go out, ahead of later
    /// writes, so on a framed protocol close the stream after a cancelled write.
    WriteAwaiter write(std::string data, std::stop_token stop = {});

    /// Closes the handle now (idempotent).
    void close() noexcept;

private:
    explicit Stream(State* st) noexcept : st_(st) {}
    State* st_ = nullptr;
};

class Stream::ReadAwaiter {
public:
    ReadAwaiter(State* st, std::stop_token stop) : st_(st), stop_(std::move(stop)) {}
    ReadAwaiter(ReadAwaiter&& o) noexcept : st_(o.st_), stop_(std::move(o.stop_)) {}
    ~ReadAwaiter();
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<std::string_view> await_resume();

private:
    friend class Stream;
    friend struct Stream::State;
    struct Cancel {
        ReadAwaiter* self;
        void operator()() const noexcept { self->finish(fail(Errc::cancelled)); }
    };
    void finish(Result<std::string_view> r);

    State* st_;
    std::stop_token stop_;
    detail::Completion<Result<std::string_view>> done_;
    detail::StopHook<Cancel> hook_;
};

class Stream::WriteAwaiter {
public:
    WriteAwaiter(State* st, std::string data, std::stop_token stop)
        : st_(st), data_(std::move(data)), stop_(std::move(stop)) {}
    WriteAwaiter(WriteAwaiter&& o) noexcept : st_(o.st_), data_(std::move(o.data_)), stop_(std::move(o.stop_)) {}
    ~WriteAwaiter();
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Result<void> await_resume();

    struct Request;

private:
    struct Cancel {
        WriteAwaiter* self;
        void operator()() const noexcept;
    };

    State* st_;
    std::string data_;
    std::stop_token stop_;
    Request* req_ = nullptr;
    detail::Completion<Result<void>> done_;
    detail::StopHook<Cancel> hook_;
};

}  // namespace reins
