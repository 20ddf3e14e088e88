/* core/domain/libxl/dom_libxl_int.h: the libxl backend's internals, shared by dom_libxl.c
 * (opening, reading, creating, lifecycle), dom_libxl_life.c (requests, events, preserve,
 * core dumps), dom_libxl_stream.c (save and restore) and
 * dom_libxl_store.c (the config store in the userdata "xlua"). */
#ifndef XLUA_DOM_LIBXL_INT_H
#define XLUA_DOM_LIBXL_INT_H

#include <pthread.h>

#include <libxl.h>
#include <libxl_utils.h>

#include "domain/dom.h"

/* A xentoollog logger that prints nothing and keeps the last error line. */
struct capture {
    xentoollog_logger vt;
    pthread_mutex_t lock;
    char last[320];
};

struct lx {
    struct dom_backend base;
    libxl_ctx *ctx;
    struct capture log;
};

/* lxb_: the libxl backend's own functions, shared between its files. */
static inline struct lx *X(struct dom_backend *b)
{
    return (struct lx *)b;
}

void lxb_log_clear(struct lx *x);
/* A libxl call failed: NODOMAIN / ENOMEM / LIBXL, naming the call and libxl's last word. */
int lxb_fail(struct lx *x, struct xerr *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int lxb_get_dominfo(struct lx *x, uint32_t domid, libxl_dominfo *d, struct xerr *err);
/* A guest domain that exists, or NODOMAIN; Domain-0 is EPERM: "<what> Domain-0". */
int lxb_check_guest(struct lx *x, uint32_t domid, const char *what, libxl_dominfo *d,
                struct xerr *err);
int lxb_name_taken(struct lx *x, const char *name, uint32_t self, struct xerr *err);
/* c's JSON into dc (dispose it whatever this returns), with c's name and uuid applied. */
int lxb_parse_config(struct lx *x, const struct dom_create *c, libxl_domain_config *dc,
                 struct xerr *err);
void lxb_destroy_quietly(struct lx *x, uint32_t domid);

void lxb_fill_info(struct lx *x, const libxl_dominfo *d, struct dom_info *i);

/* dom_libxl_stream.c: what a thread that calls libxl's save or restore sets first (the stop
 * signals left to the caller's thread, SIGCHLD taken for libxl); libxl's restore of a stream v2
 * from fd (libxl's error code). */
void lxb_libxl_thread_signals(void);
int lxb_create_restore(struct lx *x, libxl_domain_config *dc, uint32_t *domid, int fd);

/* dom_libxl_direct.c: libxl writes the stream into w's file itself (a regular file, no zstd):
 * 0 saved, -1 failed (the caller resumes the guest), 1 not such a file (relay it). */
struct sf_writer;
int lxb_save_direct(struct lx *x, uint32_t domid, struct sf_writer *w, int flags,
                    uint64_t total, const struct dom_progress *p, struct xerr *err);
/* libxl reads the stream from r's file itself (regular, no zstd, a trailer), the trailer
 * checked meanwhile: 0 restored (paused), -1 failed (*domid: what to destroy, or
 * INVALID_DOMID), 1 not such a file (relay it). */
struct sf_reader;
int lxb_restore_direct(struct lx *x, libxl_domain_config *dc, struct sf_reader *r,
                       uint64_t total, const struct dom_progress *p, uint32_t *domid,
                       struct xerr *err);

/* dom_libxl_life.c */
int lxb_request(struct dom_backend *b, uint32_t domid, enum dom_request req, int fallback,
                struct xerr *err);
int lxb_sysrq(struct dom_backend *b, uint32_t domid, char key, struct xerr *err);
int lxb_trigger(struct dom_backend *b, uint32_t domid, enum dom_trigger t, uint32_t vcpu,
                struct xerr *err);
int lxb_wait_shutdown(struct dom_backend *b, uint32_t domid, int timeout_ms,
                      struct dom_info *out, struct xerr *err);
int lxb_preserve(struct dom_backend *b, uint32_t domid, const char *suffix, const char *uuid,
                 struct xerr *err);
int lxb_core_dump(struct dom_backend *b, uint32_t domid, const char *path, struct xerr *err);
int lxb_soft_reset(struct dom_backend *b, uint32_t domid, struct xerr *err);
int lxb_console(struct dom_backend *b, uint32_t domid, enum dom_console type, int num,
                int out_fd, struct xerr *err);

/* dom_libxl_stream.c */
int lxb_save(struct dom_backend *b, uint32_t domid, struct sf_writer *w, int live,
            const struct dom_progress *p, struct xerr *err);
int lxb_restore(struct dom_backend *b, const struct dom_create *c, struct sf_reader *r,
               const struct dom_progress *p, uint32_t *domid, struct xerr *err);
int lxb_resume_saved(struct dom_backend *b, uint32_t domid, struct xerr *err);

/* dom_libxl_store.c */
int lxb_store_put(struct dom_backend *b, uint32_t domid, const char *key, const void *v,
                 size_t n, struct xerr *err);
int lxb_store_get(struct dom_backend *b, uint32_t domid, const char *key, char **v, size_t *n,
                 struct xerr *err);
int lxb_store_remove(struct dom_backend *b, uint32_t domid, const char *key, struct xerr *err);
int lxb_store_get_many(struct dom_backend *b, uint32_t domid, size_t n, const char *const *keys,
                       char **values, size_t *lens, struct xerr *err);
int lxb_store_put_many(struct dom_backend *b, uint32_t domid, size_t n, const char *const *keys,
                       const void *const *values, const size_t *lens, struct xerr *err);
int lxb_store_keys(struct dom_backend *b, uint32_t domid, char ***keys, size_t *n,
                  struct xerr *err);

/* dom_libxl_xs.c, dom_libxl_hostinfo.c: xenstore and host facts */
int lxb_xs_open(struct dom_backend *b, struct dom_xs **out, struct xerr *err);
int lxb_host_info(struct dom_backend *b, struct dom_host_info *out, struct xerr *err);
/* dom_libxl_runtime.c: a running domain changed */
int lxb_set_memory(struct dom_backend *b, uint32_t domid, uint64_t target_kb, struct xerr *err);
int lxb_set_max_memory(struct dom_backend *b, uint32_t domid, uint64_t max_kb,
                       struct xerr *err);
int lxb_set_vcpus(struct dom_backend *b, uint32_t domid, uint32_t online, struct xerr *err);
int lxb_pin_vcpu(struct dom_backend *b, uint32_t domid, int32_t vcpu, const uint8_t *hard,
                 const uint8_t *soft, struct xerr *err);
int lxb_vcpus(struct dom_backend *b, uint32_t domid, struct dom_vcpu **out, size_t *n,
              struct xerr *err);
int lxb_device_add(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                   const char *json, struct xerr *err);
int lxb_device_remove(struct dom_backend *b, uint32_t domid, enum dom_device kind,
                      const char *id, int force, struct xerr *err);
int lxb_devices(struct dom_backend *b, uint32_t domid, enum dom_device kind, char **json,
                struct xerr *err);
int lxb_cd_insert(struct dom_backend *b, uint32_t domid, const char *json, struct xerr *err);
int lxb_sched_credit2(struct dom_backend *b, uint32_t domid, const struct dom_sched *set,
                      struct dom_sched *out, struct xerr *err);

#endif
