#include "reins/async/stream.hpp"

#include <memory>

#include <unistd.h>

#include "reins/async/close_handle.hpp"

namespace reins {

struct Stream::State {
    union Handle {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_pipe_t pipe;
        uv_tcp_t tcp;
    } h{};
    std::unique_ptr<char[]> buf;  // the read buffer, allocated on first read
    ReadAwaiter* reader = nullptr;

    State() { h.handle.data = this; }

    static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* out) {
        auto* st = static_cast<State*>(h->data);
        if (!st->buf) st->buf.reset(new char[read_chunk]);
        *out = uv_buf_init(st->buf.get(), read_chunk);
    }

    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* st = static_cast<State*>(s->data);
        if (nread == 0) return;  // EAGAIN, not EOF
        uv_read_stop(s);         // one chunk per read(): the consumer paces us
        ReadAwaiter* r = st->reader;
        if (!r) return;
        if (nread > 0) r->finish(std::string_view(buf->base, static_cast<size_t>(nread)));
        else if (nread == UV_EOF) r->finish(fail(Errc::end_of_stream));
        else r->finish(fail(uv_error(static_cast<int>(nread), "read")));
    }
};

struct Stream::WriteAwaiter::Request {
    uv_write_t req{};
    std::string data;
    WriteAwaiter* waiter = nullptr;
};

Stream& Stream::operator=(Stream&& o) noexcept {
    if (this != &o) {
        close();
        st_ = std::exchange(o.st_, nullptr);
    }
    return *this;
}

Stream Stream::new_pipe() {
    auto* st = new State;
    uv_pipe_init(Loop::current().uv(), &st->h.pipe, 0);
    return Stream(st);
}

Stream Stream::new_tcp() {
    auto* st = new State;
    uv_tcp_init(Loop::current().uv(), &st->h.tcp);
    return Stream(st);
}

Result<Stream> Stream::open_fd(int fd) {
    Stream s = new_pipe();
    int rc = uv_pipe_open(&s.st_->h.pipe, fd);
    if (rc != 0) {
        if (fd >= 0) ::close(fd);  // ownership was taken either way
        return fail(uv_error(rc, "open fd " + std::to_string(fd)));
    }
    return s;
}

uv_stream_t* Stream::uv() const noexcept { return st_ ? &st_->h.stream : nullptr; }

void Stream::close() noexcept {
    State* st = std::exchange(st_, nullptr);
    if (!st) return;
    if (ReadAwaiter* r = st->reader) r->finish(fail(Errc::cancelled, "stream closed"));
    // Pending writes complete with UV_ECANCELED before the close callback.
    if (!uv_is_closing(&st->h.handle))
        detail::close_and_delete<State>(&st->h.handle);
}

Stream::ReadAwaiter Stream::read(std::stop_token stop) { return ReadAwaiter(st_, std::move(stop)); }

Stream::WriteAwaiter Stream::write(std::string data, std::stop_token stop) {
    return WriteAwaiter(st_, std::move(data), std::move(stop));
}

// ---- read -------------------------------------------------------------------

Stream::ReadAwaiter::~ReadAwaiter() {
    hook_.detach();
    if (st_ && st_->reader == this) {
        uv_read_stop(&st_->h.stream);
        st_->reader = nullptr;
    }
}

bool Stream::ReadAwaiter::await_ready() {
    if (!st_) done_.complete(fail(Errc::end_of_stream, "read from a closed stream"));
    else if (stop_.stop_requested()) done_.complete(fail(Errc::cancelled));
    return done_.done();
}

void Stream::ReadAwaiter::await_suspend(std::coroutine_handle<> h) {
    assert(st_->reader == nullptr && "Stream::read awaited twice at once");
    done_.arm(h);
    st_->reader = this;
    int rc = uv_read_start(&st_->h.stream, &State::on_alloc, &State::on_read);
    if (rc != 0) {
        finish(fail(uv_error(rc, "read")));
        return;
    }
    hook_.attach(stop_, Cancel{this});
}

Result<std::string_view> Stream::ReadAwaiter::await_resume() {
    hook_.detach();
    return done_.take();
}

void Stream::ReadAwaiter::finish(Result<std::string_view> r) {
    if (st_ && st_->reader == this) {
        uv_read_stop(&st_->h.stream);
        st_->reader = nullptr;
    }
    st_ = nullptr;
    done_.complete(std::move(r));
}

// ---- write ------------------------------------------------------------------

Stream::WriteAwaiter::~WriteAwaiter() {
    hook_.detach();
    if (req_) req_->waiter = nullptr;  // the request finishes on its own
}

bool Stream::WriteAwaiter::await_ready() {
    if (!st_) done_.complete(fail(uv_error(UV_EPIPE, "write to a closed stream")));
    else if (stop_.stop_requested()) done_.complete(fail(Errc::cancelled));
    return done_.done();
}

void Stream::WriteAwaiter::await_suspend(std::coroutine_handle<> h) {
    done_.arm(h);
    auto req = std::make_unique<Request>();
    req->data = std::move(data_);
    req->waiter = this;
    req->req.data = req.get();
    uv_buf_t buf = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
    int rc = uv_write(&req->req, &st_->h.stream, &buf, 1, [](uv_write_t* w, int status) {
        std::unique_ptr<Request> r(static_cast<Request*>(w->data));  // libuv hands it back
        if (WriteAwaiter* a = r->waiter) {
            a->req_ = nullptr;
            if (status == 0) a->done_.complete({});
            else if (status == UV_ECANCELED) a->done_.complete(fail(Errc::cancelled, "stream closed"));
            else a->done_.complete(fail(uv_error(status, "write")));
        }
    });
    if (rc != 0) {
        done_.complete(fail(uv_error(rc, "write")));
        return;  // req freed here: libuv did not take it
    }
    req_ = req.release();
    hook_.attach(stop_, Cancel{this});
}

void Stream::WriteAwaiter::Cancel::operator()() const noexcept {
    // A write cannot be withdrawn: the request keeps its data until libuv is done.
    if (self->req_) std::exchange(self->req_, nullptr)->waiter = nullptr;
    self->done_.complete(fail(Errc::cancelled));
}

Result<void> Stream::WriteAwaiter::await_resume() {
    hook_.detach();
    return done_.take();
}

}  // namespace reins
