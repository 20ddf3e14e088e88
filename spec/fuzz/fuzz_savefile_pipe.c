/* spec/fuzz/fuzz_savefile_pipe.c: libFuzzer target: the savefile reader on a pipe, the bytes
 * arriving in odd chunks, as from `xlua save DOMAIN - | xlua restore -` or a migration socket.
 *
 * Input: byte 0 picks the chunk sizes (bits 0-2: the largest chunk, bit 3: compress the stream
 * part first, as fuzz_savefile_zstd does), byte 1 seeds them; the rest is the savefile.
 * The pipe is in packet mode (O_DIRECT): each write is one packet and each read returns at most
 * one (the reader always asks for far more than a packet, so none is cut short), so the reader
 * sees exactly these chunks, whatever the threads' timing. The same bytes read from a regular
 * file must give the same walk: how they arrive changes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "savefile_walk.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Packets are at most PIPE_BUF (4096) bytes; larger writes would be split. */
static const uint32_t largest[8] = { 1, 3, 8, 17, 64, 511, 1500, 4096 };

struct feeder {
    int fd;
    const uint8_t *p;
    size_t n;
    uint32_t max, rng;
};

static uint32_t next_rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void *feed(void *arg)
{
    struct feeder *f = arg;
    size_t off = 0;
    while (off < f->n) {
        size_t k = 1 + next_rng(&f->rng) % f->max;
        if (k > f->n - off)
            k = f->n - off;
        ssize_t w = write(f->fd, f->p + off, k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;              /* EPIPE: the reader stopped early, as it may */
        off += (size_t)w;
    }
    close(f->fd);
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t mode = data[0];
    struct feeder f = {
        .p = data + 2, .n = size - 2,
        .max = largest[mode & 7],
        .rng = 0x9E3779B9u ^ ((uint32_t)data[1] << 8 | mode),
    };
    uint8_t *z = NULL;
    if (mode & 8) {
        size_t n;
        int had_trailer;
        z = compress_stream_part(f.p, f.n, &n, &had_trailer);
        if (z) {
            f.p = z;
            f.n = n;
        }
    }
    int fds[2];
    if (pipe2(fds, O_DIRECT | O_CLOEXEC) < 0) {
        perror("pipe2");
        abort();
    }
    f.fd = fds[1];
    pthread_t t;
    if (pthread_create(&t, NULL, feed, &f) != 0)
        abort();
    struct walk_result piped, filed;
    walk_savefile(fds[0], 1, &piped);
    close(fds[0]);
    pthread_join(t, NULL);
    int fd = memfd_with(f.p, f.n);
    walk_savefile(fd, 1, &filed);
    close(fd);
    same_walk(&filed, &piped, 1, "from a file, from a pipe");
    free(z);
    return 0;
}
