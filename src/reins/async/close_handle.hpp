// close_and_delete: the one way a handle's heap state is freed.
//
// A uv handle may be freed only after libuv's close callback ran; the state
// that embeds it (and whose address its `data` holds) is deleted there.
#pragma once

#include <uv.h>

namespace reins::detail {

/// Closes `handle` and deletes the `State` its `data` points at once libuv is
/// done with it.
template <class State, class Handle>
void close_and_delete(Handle* handle) noexcept {
    uv_close(reinterpret_cast<uv_handle_t*>(handle), [](uv_handle_t* h) { delete static_cast<State*>(h->data); });
}

}  // namespace reins::detail
