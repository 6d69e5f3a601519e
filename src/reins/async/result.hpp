// Errors as values: reins::Error and reins::Result<T>.
//
// Result<T> mirrors a subset of C++23 std::expected<T, Error> so that it can
// become an alias the day the project moves to C++23.
#pragma once

#include <cassert>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace reins {

/// Failures of reins' own making (libuv failures keep libuv's codes).
enum class Errc {
    cancelled = 1,   ///< the operation was stopped through its stop token
    timeout,         ///< a deadline passed
    channel_closed,  ///< the channel was closed (and drained, for receivers)
    deadlock,        ///< nothing can wake the root task any more
    config,          ///< invalid configuration
    probe_failed,    ///< a readiness or liveness probe failed
    spawn_failed,    ///< a process could not be started
    end_of_stream,   ///< the peer closed its end of a stream
    exited,          ///< the process has already exited (pid may be reused)
    not_found,       ///< no such thing (a service name nobody defined)
    not_running,     ///< it exists but is not running (a stop of a stopped service)
};

/// The error category of Errc ("reins").
const std::error_category& reins_category() noexcept;
/// The error category of libuv codes; values stay negative as libuv returns them.
const std::error_category& libuv_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
    return {static_cast<int>(e), reins_category()};
}

/// What went wrong (code) and where (context: "spawn ./srv", "connect 127.0.0.1:80").
struct Error {
    std::error_code code;
    std::string context;

    Error() = default;
    Error(std::error_code c, std::string ctx = {}) : code(c), context(std::move(ctx)) {}
    Error(Errc e, std::string ctx = {}) : code(make_error_code(e)), context(std::move(ctx)) {}

    /// "context: message", or just the message when there is no context.
    std::string message() const;
    bool is(Errc e) const noexcept { return code == make_error_code(e); }
    friend bool operator==(const Error& a, Errc e) noexcept { return a.is(e); }
};

/// An Error from a libuv status code (negative), e.g. uv_error(UV_ENOENT, "spawn ./srv").
Error uv_error(int status, std::string context = {});

/// Tag to construct a failed Result, like std::unexpected.
struct Failure {
    Error error;
};
inline Failure fail(Error e) { return Failure{std::move(e)}; }
inline Failure fail(Errc e, std::string ctx = {}) { return Failure{Error(e, std::move(ctx))}; }

/// A T, or the Error that prevented it.
template <class T>
class [[nodiscard]] Result {
public:
    using value_type = T;

    template <class U = T, class = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                   !std::is_same_v<std::decay_t<U>, Failure> &&
                                                   !std::is_same_v<std::decay_t<U>, Result>>>
    Result(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}
    Result(Failure f) : v_(std::in_place_index<1>, std::move(f.error)) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { assert(has_value()); return std::get<0>(v_); }
    const T& value() const& { assert(has_value()); return std::get<0>(v_); }
    T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const& { assert(!has_value()); return std::get<1>(v_); }
    Error&& error() && { assert(!has_value()); return std::get<1>(std::move(v_)); }

private:
    std::variant<T, Error> v_;
};

/// Success or an Error.
template <>
class [[nodiscard]] Result<void> {
public:
    using value_type = void;

    Result() = default;
    Result(Failure f) : error_(std::move(f.error)), failed_(true) {}

    bool has_value() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const { assert(has_value()); }

    const Error& error() const& { assert(failed_); return error_; }
    Error&& error() && { assert(failed_); return std::move(error_); }

private:
    Error error_;
    bool failed_ = false;
};

}  // namespace reins
