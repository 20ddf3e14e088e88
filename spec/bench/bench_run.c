/* spec/bench/bench_run.c: run one command and print what it cost, for spec/bench/bench.sh:
 *   bench_run CMD [ARG...]  ->  "WALL_US CPU_US MAXRSS_KB" on stdout, the command's status as ours
 * CPU is user+system of the command and every child it waited for (wait4's rusage); wall time
 * is CLOCK_MONOTONIC around fork..wait. The command's stdout goes to /dev/null. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

static long long now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static long long tv_us(struct timeval t)
{
    return (long long)t.tv_sec * 1000000 + t.tv_usec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_run CMD [ARG...]\n");
        return 2;
    }
    long long start = now_us();
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_run: fork");
        return 2;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execvp(argv[1], argv + 1);
        perror(argv[1]);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("bench_run: wait4");
        return 2;
    }
    long long wall = now_us() - start;
    printf("%lld %lld %ld\n", wall, tv_us(ru.ru_utime) + tv_us(ru.ru_stime), ru.ru_maxrss);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
