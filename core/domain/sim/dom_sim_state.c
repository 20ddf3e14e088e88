/* core/domain/sim/dom_sim_state.c: the sim backend's state directory: the lock, domid allocation,
 * per-domain metadata written atomically, memory images filled from the uuid, and digests.
 *
 * (Memory images are filled and digested in dom_sim_image.c.)
 * Layout: DIR/lock, DIR/next-domid, DIR/index (dom_sim_index.c), DIR/freed/ (directories of
 * destroyed domains being freed), DIR/domains/<domid>/{meta, config.json, memory, config-store
 * (dom_sim_store.c)}.
 * Domids increase and are not reused while the state directory lives (wrapping below
 * 0x7FF0 to the lowest free one), as Xen's own allocator does. */
#include "dom_sim_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

int sim_lock(struct sim *s, struct xerr *err)
{
    while (flock(s->lockfd, LOCK_EX) < 0) {
        if (errno != EINTR)
            return xerr_errno(err, errno, "%s/lock: cannot lock the sim state", s->dir);
    }
    return 0;
}

void sim_unlock(struct sim *s)
{
    flock(s->lockfd, LOCK_UN);
}

void sim_dom_path(const struct sim *s, uint32_t domid, const char *leaf, char *out)
{
    if (leaf)
        snprintf(out, PATH_MAX, "%s/domains/%u/%s", s->dir, domid, leaf);
    else
        snprintf(out, PATH_MAX, "%s/domains/%u", s->dir, domid);
}

/* ---- files ---- */

int sim_write_at(int fd, const void *p, size_t n, uint64_t off)
{
    const char *b = p;
    while (n > 0) {
        ssize_t k = pwrite(fd, b, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

int sim_replace_file(char *tmp, const char *path, const void *p, size_t n, struct xerr *err)
{
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return xerr_errno(err, errno, "%s: cannot create", tmp);
    int e = sim_write_at(fd, p, n, 0) < 0 ? errno : 0;
    if (close(fd) < 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) < 0)
        e = errno;
    if (e) {
        unlink(tmp);
        return xerr_errno(err, e, "%s: cannot write", path);
    }
    return 0;
}

int sim_write_file(struct sim *s, uint32_t domid, const char *leaf, const void *p, size_t n,
                   struct xerr *err)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    sim_dom_path(s, domid, ".tmp-XXXXXX", tmp);
    sim_dom_path(s, domid, leaf, path);
    struct xerr e;
    if (sim_replace_file(tmp, path, p, n, &e) == 0)
        return 0;
    if (e.code && strcmp(e.code, "ENOENT") == 0)
        return xerr_set(err, "NODOMAIN", "no domain with id %u", domid);
    if (err)
        *err = e;
    return -1;
}

int sim_read_file(const char *path, char **out, size_t *n, struct xerr *err)
{
    *out = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return xerr_errno(err, errno, "%s: cannot open", path);
    struct stat st;
    char *p = NULL;
    size_t len = 0;
    if (fstat(fd, &st) < 0)
        goto fail;
    len = (size_t)st.st_size;
    p = malloc(len + 1);
    if (!p) {
        errno = ENOMEM;
        goto fail;
    }
    for (size_t got = 0; got < len;) {
        ssize_t k = read(fd, p + got, len - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            goto fail;
        if (k == 0) {
            len = got;
            break;
        }
        got += (size_t)k;
    }
    close(fd);
    p[len] = '\0';
    *out = p;
    *n = len;
    return 0;
fail:;
    int e = errno;
    free(p);
    close(fd);
    return xerr_errno(err, e, "%s: cannot read", path);
}

int sim_overwrite_own(const char *path, const char *buf, size_t n, off_t min, off_t max,
                      const char *head, struct xerr *err)
{
    int fd = open(path, (head ? O_RDWR : O_WRONLY) | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    char seen[64];
    size_t hn = head ? strlen(head) : 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
        st.st_uid != geteuid() || st.st_size < min || st.st_size > max || hn > sizeof seen ||
        (hn && (pread(fd, seen, hn, 0) != (ssize_t)hn || memcmp(seen, head, hn) != 0))) {
        close(fd);
        return 0;
    }
    int e = sim_write_at(fd, buf, n, 0) < 0 ? errno : 0;
    if (close(fd) < 0 && !e)
        e = errno;
    return e ? xerr_errno(err, e, "%s: cannot write", path) : 1;
}

/* ---- metadata ---- */

/* The metadata file is META_SIZE bytes: the lines, "sum=<XXH64 of the lines, hex>", then
 * newlines up to the size. A change rewrites it in place, one write of the whole (only holders
 * of the lock write it): a new file and a rename each time took an inode and freed one (this
 * ext4 skips every inode freed in the last minutes when it allocates one, a cost every later
 * file pays; a create wrote the metadata twice, a save once more). Readers hold no lock: one
 * that reads while it is written sees a sum that does not match and reads again. A file of
 * another size (a new one, or one an older version wrote, without a sum) is replaced whole,
 * temp + rename, and never written in place. */
#define META_SIZE 1024
#define META_TRIES 200

static int format_meta(const struct sim_dom *d, char buf[META_SIZE])
{
    const struct dom_info *i = &d->info;
    int n = snprintf(buf, META_SIZE,
                     "domid=%u\nname=%s\nuuid=%s\nstate=%s\ntype=%s\nmemory_kb=%llu\n"
                     "max_memory_kb=%llu\nvcpus=%u\ndigest=%s\npauses=%u\ncreator=%ld\n"
                     "reason=%d\nstarted=%lld\npending=%d\n",
                     i->domid, i->name, i->uuid, dom_state_name(i->state),
                     dom_type_name(i->type), (unsigned long long)i->memory_kb,
                     (unsigned long long)i->max_memory_kb, i->vcpus, i->digest,
                     d->pauses, (long)d->creator, (int)i->reason, (long long)d->started,
                     d->pending);
    if (n < 0 || n > META_SIZE - 32)
        return -1;
    n += snprintf(buf + n, META_SIZE - (size_t)n, "sum=%016llx\n",
                  (unsigned long long)XXH3_64bits(buf, (size_t)n));
    memset(buf + n, '\n', META_SIZE - (size_t)n);
    return 0;
}

int sim_write_meta(struct sim *s, const struct sim_dom *d, struct xerr *err)
{
    char buf[META_SIZE], path[PATH_MAX];
    if (format_meta(d, buf) < 0)
        return xerr_set(err, "EINVAL", "the metadata of domain %u does not fit", d->info.domid);
    sim_dom_path(s, d->info.domid, "meta", path);
    int rc = sim_overwrite_own(path, buf, META_SIZE, META_SIZE, META_SIZE, NULL, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    return sim_write_file(s, d->info.domid, "meta", buf, META_SIZE, err);
}

/* A file of META_SIZE: 1 its sum matches the lines before it, 0 not (read while written). */
static int meta_whole(const char *text, size_t n)
{
    if (n != META_SIZE)
        return 1;
    const char *sum = NULL;
    for (const char *p = text; (p = memchr(p, '\n', (size_t)(text + n - p))) != NULL; p++)
        if (text + n - p > 5 && memcmp(p + 1, "sum=", 4) == 0) {
            sum = p + 1;
            break;
        }
    if (!sum)
        return 0;
    char want[20];
    snprintf(want, sizeof want, "%016llx\n",
             (unsigned long long)XXH3_64bits(text, (size_t)(sum - text)));
    return text + n - (sum + 4) >= 17 && memcmp(sum + 4, want, 17) == 0;
}

static int parse_meta(char *text, struct sim_dom *d)
{
    memset(d, 0, sizeof *d);
    d->info.reason = DOM_REASON_NONE;
    int seen = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        if (!eq)
            return -1;
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        struct dom_info *i = &d->info;
        if (strcmp(k, "domid") == 0)
            i->domid = (uint32_t)strtoul(v, NULL, 10), seen |= 1;
        else if (strcmp(k, "name") == 0 && strlen(v) <= DOM_NAME_MAX)
            strcpy(i->name, v), seen |= 2;
        else if (strcmp(k, "uuid") == 0 && strlen(v) <= DOM_UUID_LEN)
            strcpy(i->uuid, v);
        else if (strcmp(k, "state") == 0) {
            if (strcmp(v, "paused") == 0)
                i->state = DOM_PAUSED;
            else if (strcmp(v, "shutdown") == 0)
                i->state = DOM_SHUTDOWN;
            else if (strcmp(v, "dying") == 0)
                i->state = DOM_DYING;
            else
                i->state = DOM_RUNNING;
        } else if (strcmp(k, "type") == 0) {
            if (dom_type_parse(v, &i->type) < 0)
                return -1;
        } else if (strcmp(k, "memory_kb") == 0)
            i->memory_kb = strtoull(v, NULL, 10);
        else if (strcmp(k, "max_memory_kb") == 0)
            i->max_memory_kb = strtoull(v, NULL, 10);
        else if (strcmp(k, "vcpus") == 0)
            i->vcpus = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(k, "digest") == 0 && strlen(v) < sizeof i->digest)
            strcpy(i->digest, v);
        else if (strcmp(k, "pauses") == 0)
            d->pauses = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(k, "creator") == 0)
            d->creator = (pid_t)strtol(v, NULL, 10);
        else if (strcmp(k, "reason") == 0)
            i->reason = (enum dom_reason)strtol(v, NULL, 10);
        else if (strcmp(k, "started") == 0)
            d->started = strtoll(v, NULL, 10);
        else if (strcmp(k, "pending") == 0)
            d->pending = (int)strtol(v, NULL, 10);
    }
    return seen == 3 ? 0 : -1;
}

int sim_read_meta(struct sim *s, uint32_t domid, struct sim_dom *d, struct xerr *err)
{
    char path[PATH_MAX], *text;
    size_t n;
    sim_dom_path(s, domid, "meta", path);
    struct xerr e;
    for (int tries = 0;; tries++) {
        if (sim_read_file(path, &text, &n, &e) < 0) {
            if (e.code && (strcmp(e.code, "ENOENT") == 0 || strcmp(e.code, "ENOTDIR") == 0))
                return xerr_set(err, "NODOMAIN", "no domain with id %u", domid);
            if (err)
                *err = e;
            return -1;
        }
        if (meta_whole(text, n) || tries == META_TRIES)
            break;
        free(text);             /* read while it was written: again */
        sched_yield();
    }
    int rc = meta_whole(text, n) ? parse_meta(text, d) : -1;
    free(text);
    if (rc < 0 || d->info.domid != domid)
        return xerr_set(err, "EIO", "%s: damaged domain metadata", path);
    /* The simulated guest keeps one vcpu busy from its start. */
    int64_t now = (int64_t)time(NULL);
    if (d->started > 0 && now > d->started)
        d->info.cpu_time_ns = (uint64_t)(now - d->started) * 1000000000u;
    return 0;
}

static int creator_dead(pid_t pid)
{
    return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A destroyed domain is freed in a process of its own: freeing its memory image's blocks takes
 * milliseconds per MiB on a disk that discards them (24 ms for 4 MiB here, seconds for GiBs),
 * removing its directory's half dozen small files about another millisecond, and Xen too
 * relinquishes a dead domain's memory after the toolstack moved on. Its directory is first
 * moved to DIR/freed/, so the domain is gone at once; the process holds no fd of ours (no lock,
 * no pipe a caller waits on) and leaves our session (no Ctrl-C of the terminal reaches it).
 * One fork, not waited for: it is reaped by a later remove or the close of the backend, and
 * when we exit first, by init. Without a free slot for its pid, a second fork detaches it (the
 * one we wait for exits at once). Without a process, freed here. */
static void free_in_child(const char *dead)
{
    char image[PATH_MAX + 16];
    snprintf(image, sizeof image, "%s/memory", dead);
    if (close_range(0, ~0u, 0) < 0)
        for (int fd = 0; fd < 1024; fd++)
            close(fd);
    setsid();
    unlink(image); /* the big one first: a killed process leaves small files */
    rm_tree(dead);
    _exit(0);
}

void sim_reap(struct sim *s)
{
    for (size_t i = 0; i < sizeof s->freeing / sizeof s->freeing[0]; i++) {
        if (!s->freeing[i])
            continue;
        pid_t r;
        while ((r = waitpid(s->freeing[i], NULL, WNOHANG)) < 0 && errno == EINTR)
            ;
        if (r != 0)
            s->freeing[i] = 0; /* reaped, or not ours to reap (SIGCHLD ignored) */
    }
}

static void free_later(struct sim *s, const char *dead)
{
    sim_reap(s);
    size_t slot = 0, n = sizeof s->freeing / sizeof s->freeing[0];
    while (slot < n && s->freeing[slot])
        slot++;
    pid_t pid = fork();
    if (pid < 0) {
        rm_tree(dead);
        return;
    }
    if (pid == 0) {
        if (slot < n || fork() == 0)
            free_in_child(dead);
        _exit(0);
    }
    if (slot < n)
        s->freeing[slot] = pid;
    else
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
}

/* Left by a remover or a freeing process that was killed: a minute old. */
static int stale(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && time(NULL) - st.st_ctime > 60;
}

/* What killed removers left: trees in domains/ (before freed/ held them) and in freed/. */
static void clean_freed(struct sim *s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/freed", s->dir);
    DIR *dir = opendir(path);
    struct dirent *de;
    while (dir && (de = readdir(dir))) {
        char f[PATH_MAX + 256];
        snprintf(f, sizeof f, "%s/%s", path, de->d_name);
        if (de->d_name[0] != '.' && stale(f))
            rm_tree(f);
    }
    if (dir)
        closedir(dir);
}

int sim_remove(struct sim *s, uint32_t domid, struct xerr *err)
{
    static unsigned counter;
    char path[PATH_MAX], dead[PATH_MAX];
    sim_dom_path(s, domid, NULL, path);
    snprintf(dead, sizeof dead, "%s/freed", s->dir);
    if (mkdir(dead, 0700) < 0 && errno != EEXIST)
        return xerr_errno(err, errno, "%s: cannot remove %s", dead, path);
    snprintf(dead, sizeof dead, "%s/freed/%u-%ld-%u", s->dir, domid, (long)getpid(), counter++);
    if (rename(path, dead) < 0) {
        if (errno == ENOENT)
            return xerr_set(err, "NODOMAIN", "no domain with id %u", domid);
        return xerr_errno(err, errno, "%s: cannot remove", path);
    }
    sim_index_remove(s, domid);
    free_later(s, dead);
    return 0;
}

static int parse_domid(const char *s, uint32_t *out)
{
    if (!*s)
        return -1;
    unsigned long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > SIM_DOMID_LIMIT)
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v == 0 || v >= SIM_DOMID_LIMIT)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int sim_scan(struct sim *s, int clean, struct sim_dom **out, size_t *n, struct xerr *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/domains", s->dir);
    *out = NULL;
    *n = 0;
    DIR *dir = opendir(path);
    if (!dir)
        return xerr_errno(err, errno, "%s: cannot list the sim domains", path);
    struct sim_dom *v = NULL;
    size_t len = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    if (clean)
        clean_freed(s);
    while ((de = readdir(dir))) {
        uint32_t domid;
        /* where destroyed domains went before freed/ */
        if (clean && strncmp(de->d_name, ".destroyed-", 11) == 0) {
            char dead[PATH_MAX + 256];
            snprintf(dead, sizeof dead, "%s/%s", path, de->d_name);
            if (stale(dead))
                rm_tree(dead);
            continue;
        }
        if (parse_domid(de->d_name, &domid) < 0)
            continue;
        struct sim_dom d;
        struct xerr e;
        if (sim_read_meta(s, domid, &d, &e) < 0) {
            /* Gone meanwhile, or a builder between mkdir and its metadata (it holds the
             * lock, so a cleaning caller never sees that). */
            if (clean && strcmp(e.code, "NODOMAIN") == 0)
                sim_remove(s, domid, NULL);
            continue;
        }
        if (clean && d.creator && creator_dead(d.creator)) {
            sim_remove(s, domid, NULL);
            continue;
        }
        if (len == cap) {
            cap = cap ? 2 * cap : 16;
            struct sim_dom *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = xerr_errno(err, ENOMEM, "cannot list the sim domains");
                break;
            }
            v = nv;
        }
        v[len++] = d;
    }
    closedir(dir);
    if (rc < 0) {
        free(v);
        return -1;
    }
    *out = v;
    *n = len;
    return 0;
}

int sim_get(struct sim *s, uint32_t domid, const char *what, struct sim_dom *d,
            struct xerr *err)
{
    if (domid == 0)
        return xerr_set(err, "EPERM", "%s Domain-0: the sim's Domain-0 only stands for the "
                        "host, it is not changed", what);
    if (domid >= SIM_DOMID_LIMIT)
        return xerr_set(err, "NODOMAIN", "no domain with id %u", domid);
    if (sim_read_meta(s, domid, d, err) < 0)
        return -1;
    if (d->creator)
        return xerr_set(err, "NODOMAIN", "no domain with id %u (it is still being built)",
                        domid);
    return 0;
}

/* ---- domids and names ---- */

static uint32_t read_next_domid(struct sim *s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/next-domid", s->dir);
    FILE *f = fopen(path, "re");
    unsigned long v = 1;
    if (f) {
        if (fscanf(f, "%lu", &v) != 1)
            v = 1;
        fclose(f);
    }
    return v >= 1 && v < SIM_DOMID_LIMIT ? (uint32_t)v : 1;
}

/* Rewritten in place, one write of a fixed width (only holders of the lock read or write it;
 * why in place: sim_overwrite_own); anything but our own file is replaced by a new one. */
static int write_next_domid(struct sim *s, uint32_t next, struct xerr *err)
{
    char path[PATH_MAX], tmp[PATH_MAX], buf[32];
    snprintf(path, sizeof path, "%s/next-domid", s->dir);
    snprintf(tmp, sizeof tmp, "%s/.next-domid.XXXXXX", s->dir);
    int n = snprintf(buf, sizeof buf, "%10u\n", next);
    int rc = sim_overwrite_own(path, buf, (size_t)n, 0, n, NULL, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    /* A new file of our own (O_EXCL): never one, or a symlink, someone planted there. */
    return sim_replace_file(tmp, path, buf, (size_t)n, err);
}

int sim_reserve(struct sim *s, struct sim_dom *d, struct xerr *err)
{
    struct sim_index ix;
    if (sim_index_load(s, &ix, err) < 0)
        return -1;
    /* What a full scan would clean: builders that died. */
    for (size_t i = 0; i < ix.n; i++) {
        if (ix.e[i].domid && ix.e[i].creator && creator_dead(ix.e[i].creator)) {
            sim_remove(s, ix.e[i].domid, NULL);
            ix.e[i].domid = 0;
        }
    }
    int taken = strcmp(d->info.name, "Domain-0") == 0;
    for (size_t i = 0; i < ix.n && !taken; i++)
        taken = ix.e[i].domid && strcmp(ix.e[i].name, d->info.name) == 0;
    if (taken) {
        sim_index_free(&ix);
        return xerr_set(err, "EXISTS", "a domain named '%s' already exists", d->info.name);
    }
    uint32_t domid = read_next_domid(s);
    char path[PATH_MAX];
    for (uint32_t tries = 0;; tries++, domid = domid + 1 >= SIM_DOMID_LIMIT ? 1 : domid + 1) {
        if (tries >= SIM_DOMID_LIMIT) {
            sim_index_free(&ix);
            return xerr_set(err, "ENOSPC", "no free domid left");
        }
        int used = 0;
        for (size_t i = 0; i < ix.n && !used; i++)
            used = ix.e[i].domid == domid;
        if (used)
            continue;
        sim_dom_path(s, domid, NULL, path);
        if (mkdir(path, 0700) == 0)
            break;
        if (errno != EEXIST) {
            sim_index_free(&ix);
            return xerr_errno(err, errno, "%s: cannot create", path);
        }
    }
    sim_index_free(&ix);
    d->info.domid = domid;
    d->creator = getpid();
    if (sim_write_meta(s, d, err) < 0 ||
        write_next_domid(s, domid + 1 >= SIM_DOMID_LIMIT ? 1 : domid + 1, err) < 0) {
        sim_remove(s, domid, NULL);
        return -1;
    }
    sim_index_set(s, d);
    return 0;
}

int sim_publish(struct sim *s, struct sim_dom *d, enum dom_state state, struct xerr *err)
{
    d->creator = 0;
    d->info.state = state;
    d->info.reason = DOM_REASON_NONE;
    d->pauses = state == DOM_PAUSED;
    d->started = (int64_t)time(NULL);
    d->pending = 0;
    char line[DOM_NAME_MAX + 64];
    snprintf(line, sizeof line, "Booting %s (domid %u)", d->info.name, d->info.domid);
    sim_guest_console(s, d->info.domid, line);
    if (sim_write_meta(s, d, err) < 0)
        return -1;
    sim_index_set(s, d);
    return 0;
}

/* ---- the config JSON: c_info's name and uuid (the scanner is dom_sim_json.c's) ---- */

static char *set_cinfo_string(const char *json, const char *key, const char *value)
{
    const char *cs, *ce, *vs, *ve;
    if (sim_json_member(json, "c_info", &cs, &ce) != 1 || *cs != '{')
        return NULL;
    int found = sim_json_member(cs, key, &vs, &ve);
    if (found < 0)
        return NULL;
    /* The value: a JSON string (names have no control characters; escape " and \). */
    size_t vlen = strlen(value), extra = strlen(key) + 8;
    char *enc = malloc(2 * vlen + 3);
    if (!enc)
        return NULL;
    char *q = enc;
    *q++ = '"';
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\')
            *q++ = '\\';
        *q++ = *p;
    }
    *q++ = '"';
    *q = '\0';
    size_t jlen = strlen(json);
    char *out = malloc(jlen + strlen(enc) + extra + 1);
    if (!out) {
        free(enc);
        return NULL;
    }
    if (found) {
        size_t pre = (size_t)(vs - json);
        sprintf(out, "%.*s%s%s", (int)pre, json, enc, ve);
    } else {
        const char *after = sim_json_ws(cs + 1);
        size_t pre = (size_t)(cs + 1 - json);
        sprintf(out, "%.*s\"%s\": %s%s%s", (int)pre, json, key, enc, *after == '}' ? "" : ", ",
                cs + 1);
    }
    free(enc);
    return out;
}

char *sim_json_patch(const char *json, const char *name, const char *uuid)
{
    char *a = set_cinfo_string(json, "name", name);
    if (!a)
        return strdup(json);
    char *b = set_cinfo_string(a, "uuid", uuid);
    if (!b)
        return a;
    free(a);
    return b;
}

char *sim_json_minimal(const struct dom_info *i)
{
    /* name and uuid are set by sim_json_patch whenever the config is read. */
    char *out = NULL;
    if (asprintf(&out, "{\n    \"c_info\": {\n        \"type\": \"%s\",\n        \"name\": \"\",\n"
                 "        \"uuid\": \"\"\n    },\n"
                 "    \"b_info\": {\n        \"max_vcpus\": %u,\n        \"max_memkb\": %llu,\n"
                 "        \"target_memkb\": %llu\n    }\n}\n",
                 i->type == DOM_PV ? "pv" : i->type == DOM_PVH ? "pvh" : "hvm", i->vcpus,
                 (unsigned long long)i->max_memory_kb, (unsigned long long)i->memory_kb) < 0)
        return NULL;
    return out;
}
