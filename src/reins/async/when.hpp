// when_all, when_any and with_timeout: combinators built on TaskScope.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "reins/async/duration_text.hpp"
#include "reins/async/task.hpp"
#include "reins/async/task_scope.hpp"
#include "reins/async/timer.hpp"

namespace reins {

namespace detail {

template <class T>
using non_void_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class A>
using await_result_t = decltype(std::declval<A>().await_resume());

// The value type of `co_await a` for Task<T> and for plain awaiters.
template <class A, class = void>
struct awaited {
    using type = await_result_t<A>;
};
template <class A>
struct awaited<A, std::void_t<decltype(std::declval<A>().operator co_await())>> {
    using type = await_result_t<decltype(std::declval<A>().operator co_await())>;
};
template <class A>
using awaited_t = non_void_t<typename awaited<A>::type>;

template <std::size_t I, class T, class Slots>
Task<void> store_result(Task<T> task, Slots* slots) {
    if constexpr (std::is_void_v<T>) {
        co_await std::move(task);
        std::get<I>(*slots).emplace();
    } else {
        auto v = co_await std::move(task);
        std::get<I>(*slots).emplace(std::move(v));
    }
}

template <class Slots, class... Ts, std::size_t... I>
void spawn_all(TaskScope& scope, Slots* slots, std::index_sequence<I...>, Task<Ts>... tasks) {
    (scope.spawn(store_result<I>(std::move(tasks), slots)), ...);
}

template <std::size_t I, class Winner, class A>
Task<void> race_arm(A awaitable, Winner* winner, TaskScope* scope) {
    using R = typename awaited<A>::type;
    if constexpr (std::is_void_v<R>) {
        co_await std::move(awaitable);
        if (!*winner) winner->emplace(std::in_place_index<I>);
    } else {
        auto v = co_await std::move(awaitable);
        if (!*winner) winner->emplace(std::in_place_index<I>, std::move(v));
    }
    scope->request_stop();  // the losers unwind through their stop tokens
}

}  // namespace detail

/// Runs every task concurrently and returns all results (void -> monostate).
/// The first exception is rethrown after every task has finished.
template <class... Ts>
Task<std::tuple<detail::non_void_t<Ts>...>> when_all(Task<Ts>... tasks) {
    std::tuple<std::optional<detail::non_void_t<Ts>>...> slots;
    TaskScope scope = TaskScope::shielded();
    detail::spawn_all(scope, &slots, std::index_sequence_for<Ts...>{}, std::move(tasks)...);
    co_await scope.join();
    co_return std::apply([](auto&... s) { return std::tuple<detail::non_void_t<Ts>...>(std::move(*s)...); }, slots);
}

/// Races awaitables made by `makers` (each called with a stop token, e.g.
/// `[&](std::stop_token s) { return proc.exited(s); }`). Returns the first
/// result to complete, as a variant indexed by position; the losers are
/// stopped and joined before this returns, never abandoned. A stop of
/// `stop` reaches every arm.
template <class... Makers>
Task<std::variant<detail::awaited_t<std::invoke_result_t<Makers&, std::stop_token>>...>> when_any(
    std::stop_token stop, Makers... makers) {
    using Winner = std::variant<detail::awaited_t<std::invoke_result_t<Makers&, std::stop_token>>...>;
    std::optional<Winner> winner;
    TaskScope scope(stop);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (scope.spawn(detail::race_arm<I>(makers(scope.token()), &winner, &scope)), ...);
    }(std::index_sequence_for<Makers...>{});
    co_await scope.join();
    co_return std::move(*winner);
}

template <class R>
struct is_result : std::false_type {};
template <class T>
struct is_result<Result<T>> : std::true_type {};

/// Awaits what `maker(stop_token)` returns, a Result<T>, for at most `d`;
/// Errc::timeout when the deadline wins (the operation is then stopped).
template <class Maker>
Task<detail::awaited_t<std::invoke_result_t<Maker&, std::stop_token>>> with_timeout(
    std::chrono::milliseconds d, std::stop_token stop, Maker maker) {
    using R = detail::awaited_t<std::invoke_result_t<Maker&, std::stop_token>>;
    static_assert(is_result<R>::value, "with_timeout needs an operation that returns a Result");
    // The lambda is a named local: never inside a co_await's full-expression (g++ 12).
    auto timer = [d](std::stop_token s) { return sleep(d, std::move(s)); };
    auto r = co_await when_any(std::move(stop), std::move(maker), timer);
    if (r.index() == 0) co_return std::get<0>(std::move(r));
    if (!std::get<1>(r)) co_return R(fail(std::get<1>(std::move(r)).error()));  // stopped from outside
    co_return R(fail(Errc::timeout, "after " + human_duration(d)));
}

}  // namespace reins
