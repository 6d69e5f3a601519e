// Runs the test process out of file descriptors, for as long as it lives:
// lowers the soft RLIMIT_NOFILE just above the descriptors in use and fills
// every free one with /dev/null. The destructor closes them and restores the
// limit, whatever the test did meanwhile.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

#include <doctest/doctest.h>

namespace reins::test {

class FdExhaustion {
public:
    FdExhaustion() {
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
        int highest = 0;
        for (int fd = 0; fd < 4096; ++fd)
            if (::fcntl(fd, F_GETFD) >= 0) highest = fd;
        rlimit low = saved_;
        low.rlim_cur = static_cast<rlim_t>(highest) + 33;
        REQUIRE(low.rlim_cur <= saved_.rlim_max);
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
        for (;;) {
            int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0) break;
            fillers_.push_back(fd);
        }
    }
    ~FdExhaustion() { release(); }
    FdExhaustion(const FdExhaustion&) = delete;
    FdExhaustion& operator=(const FdExhaustion&) = delete;

    /// Frees every descriptor taken and restores the limit (idempotent).
    void release() {
        for (int fd : fillers_) ::close(fd);
        fillers_.clear();
        if (!restored_) ::setrlimit(RLIMIT_NOFILE, &saved_);
        restored_ = true;
    }

private:
    rlimit saved_{};
    std::vector<int> fillers_;
    bool restored_ = false;
};

}  // namespace reins::test
