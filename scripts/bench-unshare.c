// scripts/bench-unshare.c: what entering a new namespace would cost amber-vmm's start (README, "Namespaces").
// Build and run as root: cc -O2 -o /tmp/bench-unshare scripts/bench-unshare.c && /tmp/bench-unshare
// Each namespace kind is entered 40 times, each time by a fresh child process (as amber-vmm would, once);
// prints the median, 90th percentile and maximum time of the unshare(2) call.
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

enum { runs = 40 };

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int ascending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void measure(const char *name, int flags) {
    double times[runs];
    for (int i = 0; i < runs; i++) {
        int pipe_fds[2];
        if (pipe(pipe_fds) != 0) { perror("pipe"); exit(1); }
        pid_t child = fork();
        if (child == 0) {
            double start = now_ms();
            if (unshare(flags) != 0) { perror("unshare"); _exit(1); }
            double elapsed = now_ms() - start;
            ssize_t ignored = write(pipe_fds[1], &elapsed, sizeof elapsed);
            (void)ignored;
            _exit(0);
        }
        if (read(pipe_fds[0], &times[i], sizeof times[i]) != sizeof times[i]) { fprintf(stderr, "child failed\n"); exit(1); }
        waitpid(child, NULL, 0);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
    qsort(times, runs, sizeof times[0], ascending);
    printf("| %s | %.3f ms | %.3f ms | %.3f ms |\n", name, times[runs / 2], times[runs * 9 / 10], times[runs - 1]);
}

int main(void) {
    printf("| namespace | median | p90 | max |\n|---|---|---|---|\n");
    measure("network (CLONE_NEWNET)", CLONE_NEWNET);
    measure("IPC (CLONE_NEWIPC)", CLONE_NEWIPC);
    measure("UTS (CLONE_NEWUTS)", CLONE_NEWUTS);
    measure("PID (CLONE_NEWPID, for children)", CLONE_NEWPID);
    return 0;
}
