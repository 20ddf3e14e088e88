/* spec/c/check.h: the few lines every C unit test shares: CHECK counts a check and reports
 * a failed one with its place; the test's main returns check_summary(name). */
#ifndef XLUA_SPEC_CHECK_H
#define XLUA_SPEC_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int checks, failures;

#define CHECK(cond) check_((cond), #cond, __FILE__, __LINE__, NULL)
#define CHECKM(cond, ...) check_((cond), #cond, __FILE__, __LINE__, __VA_ARGS__)

__attribute__((format(printf, 5, 6)))
static void check_(int ok, const char *expr, const char *file, int line, const char *fmt, ...)
{
    checks++;
    if (ok)
        return;
    failures++;
    fprintf(stderr, "%s:%d: FAILED: %s", file, line, expr);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(" -- ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
}

/* For a test whose calls fill a file-level `struct xerr err`: the call succeeds (>= 0), or
 * fails with the code want (err.code is cleared for the next one). */
#define CHECK_OK(call) do { int rc_ = (call); \
    CHECKM(rc_ >= 0, "%s", err.message); } while (0)
#define CHECK_CODE(call, want) do { int rc_ = (call); \
    CHECKM(rc_ < 0 && streq(err.code, want), "rc %d code %s: %s", rc_, \
           err.code ? err.code : "-", err.message); err.code = NULL; } while (0)

static inline int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Print "NAME: N checks, N failures" and give the exit status. */
static inline int check_summary(const char *name)
{
    printf("%s: %d checks, %d failures\n", name, checks, failures);
    return failures ? 1 : 0;
}

#endif
