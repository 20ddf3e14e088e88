/* bindings/sandbox/seccomp.c: the sandbox process's system-call filter: after it, the process
 * can only manage its memory, read clocks, write its reply, and exit. Raw BPF, no libseccomp.
 *
 * A Lua state with the pure libraries needs memory (brk, mmap, ...), the clocks (os.time,
 * os.clock, os.date once the time zone is loaded) and nothing else; the reply goes to one fd.
 * Anything else kills the process with SIGSYS, which the host reports as CRASHED. Memory can
 * never be made executable, so even a bug in Lua could not run code it wrote. */
#include "sandbox.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define SB_AUDIT_ARCH AUDIT_ARCH_I386
#endif

#if defined(__SANITIZE_ADDRESS__)
#define XLUA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XLUA_ASAN 1
#endif
#endif
#ifndef XLUA_ASAN
#define XLUA_ASAN 0
#endif

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif

/* The low 32 bits of argument n (file descriptors and protection flags fit in them). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LOW(n) (offsetof(struct seccomp_data, args) + 8 * (n))
#else
#define ARG_LOW(n) (offsetof(struct seccomp_data, args) + 8 * (n) + 4)
#endif

#define LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
/* if (A == nr) fall through, else skip the next `skip` instructions */
#define IF_NR(nr, skip) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, (skip))
#define ALLOW(nr) IF_NR(nr, 1), RET(SECCOMP_RET_ALLOW)
/* Allowed unless argument n has PROT_EXEC. */
#define ALLOW_NO_EXEC(nr, n)                                                                 \
    IF_NR(nr, 4), LOAD(ARG_LOW(n)), BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 1, 0),  \
        RET(SECCOMP_RET_ALLOW), RET(SECCOMP_RET_KILL_PROCESS)

int sb_seccomp_lock(int out_fd)
{
#ifndef SB_AUDIT_ARCH
    (void)out_fd;
    errno = ENOSYS;
    return -1;
#else
    struct sock_filter filter[] = {
        LOAD(offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SB_AUDIT_ARCH, 1, 0),
        RET(SECCOMP_RET_KILL_PROCESS),
        LOAD(offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
        /* The x32 ABI's numbers have bit 30 set; none is allowed. */
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
        RET(SECCOMP_RET_KILL_PROCESS),
#endif
        /* write: the reply, on out_fd only */
        IF_NR(__NR_write, 4),
        LOAD(ARG_LOW(0)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)out_fd, 0, 1),
        RET(SECCOMP_RET_ALLOW),
        RET(SECCOMP_RET_KILL_PROCESS),
        /* memory */
        ALLOW(__NR_brk),
        ALLOW_NO_EXEC(__NR_mmap, 2),
#ifdef __NR_mmap2
        ALLOW_NO_EXEC(__NR_mmap2, 2),
#endif
        ALLOW_NO_EXEC(__NR_mprotect, 2),
        ALLOW(__NR_munmap),
        ALLOW(__NR_mremap),
        ALLOW(__NR_madvise),
        /* clocks (most are answered by the vDSO without a system call) */
        ALLOW(__NR_clock_gettime),
#ifdef __NR_clock_gettime64
        ALLOW(__NR_clock_gettime64),
#endif
        ALLOW(__NR_gettimeofday),
#ifdef __NR_time
        ALLOW(__NR_time),
#endif
#if XLUA_ASAN
        /* ASan asks for the signal stack at every longjmp (a Lua error) to unpoison it */
        ALLOW(__NR_sigaltstack),
#endif
        /* the end */
        ALLOW(__NR_exit_group),
        ALLOW(__NR_exit),
        ALLOW(__NR_rt_sigreturn),
        RET(SECCOMP_RET_KILL_PROCESS),
    };
    struct sock_fprog prog = {
        .len = (unsigned short)(sizeof filter / sizeof filter[0]),
        .filter = filter,
    };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#endif
}
