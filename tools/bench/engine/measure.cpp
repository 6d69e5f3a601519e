// reins-bench-engine: what the measuring side of every figure uses.
#include "measure.hpp"

#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include <sys/resource.h>
#include <unistd.h>

#include "reins/supervisor/process_tree.hpp"

namespace engine_bench {

std::string g_self;

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

double cpu_us_self() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// stdout is a pipe to the driver: flush each line.
void emit(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stdout, fmt, ap);
    va_end(ap);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

std::string temp_file(const char* what) {
    std::string tmpl = std::string("/tmp/reins-bench-") + what + "-XXXXXX";
    int fd = ::mkstemp(tmpl.data());
    if (fd >= 0) ::close(fd);
    return tmpl;
}

std::string sleep_path() {
    for (const char* p : {"/bin/sleep", "/usr/bin/sleep"})
        if (::access(p, X_OK) == 0) return p;
    return "sleep";
}

bool alive_not_zombie(int pid) {
    if (::kill(pid, 0) != 0) return false;
    auto s = reins::supervisor::read_proc_stat(pid);
    return s && s->state != 'Z';
}

}  // namespace engine_bench
