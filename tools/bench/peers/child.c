/*
 * The service every supervisor runs in tools/bench/peers: one small static
 * binary, so its exec-to-main() time is short and the same for all of them.
 * Compiled at run time (`cc -O2 -static`) into the run's folder.
 *
 *   child [--log FILE] [--exit-after MS [--code K]] [--listen PORT]
 *         [--ignore-term] [--grandchild PORT --gc-mode plain|double|setsid]
 *         [--notify-fd N]
 *
 * With no option it sleeps until killed (an idle service).
 * --log appends, one write(2) each (O_APPEND, so instances never interleave):
 *   exec <ns> <pid>        first thing in main()
 *   grandchild <pid>       once the grandchild listens
 *   exit <ns> <pid>        right before _exit()
 * (ns = CLOCK_REALTIME, comparable across processes.)
 * --listen: listen on 127.0.0.1:PORT at once and accept (and close) connections.
 * --ignore-term: SIGTERM, SIGINT and SIGHUP are ignored (the grandchild inherits it).
 * --grandchild: a process that listens on 127.0.0.1:PORT until killed; `plain`
 *   is our child, `double` is re-parented (double fork, same session and group),
 *   `setsid` is re-parented and in its own session and group.
 * --notify-fd: write "\n" to fd N once listening (s6's readiness notification).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *log_file;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void log_line(const char *fmt, ...) {
    if (!log_file) return;
    char line[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    int fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (write(fd, line, (size_t)n) < 0) { /* nothing to do: the bench sees a missing line */ }
    close(fd);
}

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
        perror("child: listen");
        _exit(3);
    }
    return fd;
}

static void serve_forever(int fd) {
    for (;;) {
        if (fd < 0) { pause(); continue; }
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) close(c);
    }
}

static void grandchild_body(int own_listener, int port) {
    if (own_listener >= 0) close(own_listener);  /* only the grandchild's port stays held */
    int fd = listen_on(port);
    log_line("grandchild %ld\n", (long)getpid());
    serve_forever(fd);
}

static void spawn_grandchild(const char *mode, int port, int own_listener) {
    pid_t p = fork();
    if (p < 0) { perror("child: fork"); return; }
    if (strcmp(mode, "plain") == 0) {
        if (p == 0) grandchild_body(own_listener, port);
        return;
    }
    if (p == 0) {
        if (strcmp(mode, "setsid") == 0) setsid();
        if (fork() == 0) grandchild_body(own_listener, port);
        _exit(0);  /* the grandchild is re-parented */
    }
    waitpid(p, NULL, 0);
}

int main(int argc, char **argv) {
    long long start = now_ns();
    long exit_after = -1;
    int code = 0, port = 0, gc_port = 0, notify_fd = -1, ignore_term = 0;
    const char *gc_mode = "plain";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--ignore-term") == 0) { ignore_term = 1; continue; }
        if (!v) { fprintf(stderr, "child: %s needs a value\n", a); return 2; }
        if (strcmp(a, "--log") == 0) log_file = v;
        else if (strcmp(a, "--exit-after") == 0) exit_after = atol(v);
        else if (strcmp(a, "--code") == 0) code = atoi(v);
        else if (strcmp(a, "--listen") == 0) port = atoi(v);
        else if (strcmp(a, "--grandchild") == 0) gc_port = atoi(v);
        else if (strcmp(a, "--gc-mode") == 0) gc_mode = v;
        else if (strcmp(a, "--notify-fd") == 0) notify_fd = atoi(v);
        else { fprintf(stderr, "child: unknown option %s\n", a); return 2; }
        i++;
    }
    log_line("exec %lld %ld\n", start, (long)getpid());
    if (ignore_term) {
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
    }
    int fd = port ? listen_on(port) : -1;
    if (gc_port) spawn_grandchild(gc_mode, gc_port, fd);
    if (notify_fd >= 0) {
        if (write(notify_fd, "\n", 1) == 1) close(notify_fd);
    }
    if (exit_after >= 0) {
        struct timespec d = {exit_after / 1000, (exit_after % 1000) * 1000000L};
        while (nanosleep(&d, &d) != 0) {}
        log_line("exit %lld %ld\n", now_ns(), (long)getpid());
        _exit(code);
    }
    serve_forever(fd);
}
