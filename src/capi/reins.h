/* reins.h: the C ABI of libreins — a process supervisor on a thread of its
 * own, for hosts written in any language (Rust, Python's ctypes, Node, Go).
 *
 *   char* msg = NULL;
 *   reins_host* h = reins_open_file("reins.toml", NULL, &msg);
 *   if (!h) { fprintf(stderr, "%s\n", msg); reins_free(msg); return 1; }
 *   int code = reins_start(h, "api", 10000, &msg);   // 0 running; 2 port in use; ...
 *   printf("%d %s\n", code, msg);  reins_free(msg);
 *   char* status = reins_status(h);  ...  reins_free(status);
 *   reins_close(h);                  // stops every service, ends the thread
 *
 * Every function may be called from any thread. Codes are those of the
 * `reins` command: 0 success, 1 not found / not running, 2 a port in use,
 * 3 anything else (invalid config, startup failure, a timeout, a closed or
 * unknown handle). Strings returned are UTF-8, owned by the caller and freed
 * with reins_free. A `message` out-parameter may be NULL; when given it
 * receives a string (possibly empty) on every return.
 * Documentation: docs/embedding.md.
 */
#ifndef REINS_H
#define REINS_H

#ifdef __cplusplus
extern "C" {
#endif

#define REINS_OK 0
#define REINS_NOT_FOUND 1
#define REINS_PORT_IN_USE 2
#define REINS_FAILED 3

/* A host: reins' thread and its services. Opaque; never reused once closed,
 * so a closed handle passed again gets REINS_FAILED, not a crash. */
typedef struct reins_host reins_host;

/* Options, as a JSON object (NULL or "{}" for the defaults):
 *   "state_dir": ""        a folder for a lock (one host per folder), state.json,
 *                          pid files and logs; "" keeps nothing on disk
 *   "lock_data": ""        text kept in the lock, shown to a second host
 *   "control_socket": false  with state_dir: `reins status` can reach the host
 *   "queue_events": true   queue events for reins_events() behind reins_event_fd()
 *   "queue_capacity": 1024 "output_events": false   "keeper": true
 * Returns NULL on failure, with *message saying why. */
reins_host* reins_open(const char* options_json, char** message);
/* reins_open, then the services of a reins.toml (or Procfile) at `path`. */
reins_host* reins_open_file(const char* path, const char* options_json, char** message);
/* reins_open, then the services of TOML text; relative paths resolve
 * against `dir` (NULL: the current folder). */
reins_host* reins_open_text(const char* toml, const char* dir, const char* options_json, char** message);

/* Adds services later (all or none; *message lists every error). */
int reins_add_file(reins_host* host, const char* path, char** message);
int reins_add_text(reins_host* host, const char* toml, const char* dir, char** message);

/* Start (and wait for readiness), stop, restart one service by name; NULL
 * names every service (not for restart). timeout_ms < 0 waits until done;
 * a timeout returns REINS_FAILED while the command goes on. */
int reins_start(reins_host* host, const char* name, int timeout_ms, char** message);
int reins_stop(reins_host* host, const char* name, int timeout_ms, char** message);
int reins_restart(reins_host* host, const char* name, int timeout_ms, char** message);

/* Every service's status as a JSON array (the objects of `reins status
 * --json`); NULL for a closed or unknown handle. */
char* reins_status(reins_host* host);

/* A file descriptor that polls readable while events are queued (-1
 * without queue_events, or for a closed handle). */
int reins_event_fd(reins_host* host);
/* The queued events as a JSON array, oldest first ("[]" when none); reading
 * them all makes the fd unreadable again. NULL for a closed handle. Each is
 * {"type":"transition", "service", "from", "to", "health", "reason", "pid",
 * ...} or {"type":"output", "service", "stream", "line"} or {"type":"note", "text"}. */
char* reins_events(reins_host* host);

/* Stops every service through the whole stop pipeline, ends reins' thread
 * and frees the host. NULL or an already closed handle: nothing happens. */
void reins_close(reins_host* host);

/* Frees a string this library returned. */
void reins_free(void* p);

/* "0.1.0" (static; do not free). */
const char* reins_version(void);

#ifdef __cplusplus
}
#endif

#endif /* REINS_H */
