#include "reins/async/spawn_child.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string_view>
#include <vector>

namespace reins::detail {
namespace {

// PATH in `envp`, the first one as getenv would find it in the child.
const char* path_of(char* const* envp) {
    for (char* const* e = envp; *e; ++e)
        if (std::strncmp(*e, "PATH=", 5) == 0) return *e + 5;
    return nullptr;
}

// chdir()'s errno for `cwd`, as the child meets it before looking for the
// program: a missing cwd is reported as such even when the program is too.
int chdir_error(const char* cwd) {
    struct stat st {};
    if (::stat(cwd, &st) != 0) return errno;
    if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    if (::access(cwd, X_OK) != 0) return errno;
    return 0;
}

// sigaddset without glibc's check against its internal signals: sets the
// bit as sigismember reads it (bit sig - 1, word by word).
void add_raw(sigset_t& set, int sig) {
    constexpr int bits = 8 * sizeof(unsigned long);
    set.__val[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
}

// posix_spawn's attributes and file actions for `s`, freed on every path.
class SpawnPlan {
public:
    explicit SpawnPlan(const ChildSetup& s) {
        ::posix_spawnattr_init(&attr_);
        ::posix_spawn_file_actions_init(&actions_);
        error_ = fill(s);
    }
    ~SpawnPlan() {
        ::posix_spawn_file_actions_destroy(&actions_);
        ::posix_spawnattr_destroy(&attr_);
    }
    SpawnPlan(const SpawnPlan&) = delete;
    SpawnPlan& operator=(const SpawnPlan&) = delete;

    int error() const noexcept { return error_; }
    int spawn(pid_t* pid, const char* path, char* const* argv, char* const* envp) const {
        return ::posix_spawn(pid, path, &actions_, &attr_, argv, envp);
    }

private:
    int fill(const ChildSetup& s) {
        // What uv_spawn's child did: signals 1-31 to their default action,
        // then an empty mask. Real-time signals keep what exec makes of
        // them (handled: default; ignored: ignored), except glibc's own
        // (32 and 33, below SIGRTMIN): posix_spawn would leave those ignored
        // for good unless asked to reset them, and sigaddset refuses them.
        sigset_t empty, defaults;
        sigemptyset(&empty);
        sigemptyset(&defaults);
        for (int sig = 1; sig < 32; ++sig)
            if (sig != SIGKILL && sig != SIGSTOP) sigaddset(&defaults, sig);
        for (int sig = 32; sig < SIGRTMIN; ++sig) add_raw(defaults, sig);
        short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
        if (s.new_session) flags |= POSIX_SPAWN_SETSID;
        int rc = ::posix_spawnattr_setflags(&attr_, flags);
        if (rc == 0) rc = ::posix_spawnattr_setsigmask(&attr_, &empty);
        if (rc == 0) rc = ::posix_spawnattr_setsigdefault(&attr_, &defaults);
        for (int fd = 0; fd < 3 && rc == 0; ++fd) {
            const int from = s.stdio[fd];
            // dup2(fd, fd) clears the close-on-exec flag (glibc >= 2.29).
            if (from >= 0) rc = ::posix_spawn_file_actions_adddup2(&actions_, from, fd);
            else rc = ::posix_spawn_file_actions_addopen(&actions_, fd, "/dev/null", fd == 0 ? O_RDONLY : O_RDWR, 0);
        }
        if (rc == 0 && s.cwd) rc = ::posix_spawn_file_actions_addchdir_np(&actions_, s.cwd);
        return rc;
    }

    posix_spawnattr_t attr_;
    posix_spawn_file_actions_t actions_;
    int error_ = 0;
};

}  // namespace

int find_program(const std::string& file, const char* path, const char* cwd, std::string& out) {
    out.clear();
    if (file.find('/') != std::string::npos) {
        out = file;
        return 0;
    }
    if (!path) path = "/bin:/usr/bin";
    bool denied = false;
    std::string from_cwd;
    for (const char* p = path;;) {
        const char* end = ::strchrnul(p, ':');
        // An empty entry is the current directory, as for execvp.
        out.assign(p, static_cast<std::size_t>(end - p));
        if (!out.empty()) out += '/';
        out += file;
        const char* at = out.c_str();
        if (out[0] != '/' && cwd) {
            from_cwd.assign(cwd).append("/").append(out);
            at = from_cwd.c_str();
        }
        struct stat st {};
        if (::stat(at, &st) == 0) {
            // What execve would accept: a regular file we may execute.
            if (S_ISREG(st.st_mode) && ::faccessat(AT_FDCWD, at, X_OK, AT_EACCESS) == 0) return 0;
            denied = true;
        } else if (errno == EACCES) {
            denied = true;
        }
        if (*end == '\0') break;
        p = end + 1;
    }
    out.clear();
    return denied ? EACCES : ENOENT;
}

int spawn_child(const ChildSetup& s, pid_t* pid) {
    std::string program;
    int rc = find_program(s.argv[0], path_of(s.envp), s.cwd, program);
    if (rc != 0) {
        const int cwd_rc = s.cwd ? chdir_error(s.cwd) : 0;
        return cwd_rc != 0 ? cwd_rc : rc;
    }
    SpawnPlan plan(s);
    if (plan.error() != 0) return plan.error();
    rc = plan.spawn(pid, program.c_str(), s.argv, s.envp);
    if (rc != ENOEXEC) return rc;
    // No #! line and not a binary the kernel knows: execvp hands such a file
    // to the shell.
    std::vector<char*> sh_argv{const_cast<char*>("/bin/sh"), program.data()};
    for (char* const* a = s.argv + 1; *a; ++a) sh_argv.push_back(*a);
    sh_argv.push_back(nullptr);
    return plan.spawn(pid, "/bin/sh", sh_argv.data(), s.envp);
}

}  // namespace reins::detail
