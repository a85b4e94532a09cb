/*
 * pause: the process that holds a pod's namespaces open while its containers come and go.
 *
 * Written for gochaos's offline kind node image (tests/e2e/kind_offline), where no upstream pause
 * image can be pulled. containerd starts it as the pod sandbox; it sleeps until SIGINT or SIGTERM
 * and exits 0 then. When the pod shares one PID namespace it is PID 1 there, so it also reaps
 * the zombies that orphaned processes leave behind.
 *
 * Built with `gcc -static` into a FROM-scratch image: no libc is needed at run time.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PAUSE_VERSION
#define PAUSE_VERSION "unknown"
#endif

static void stop_now(int signum) {
    (void)signum;
    _exit(0);
}

static void reap_children(int signum) {
    (void)signum;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static int on_signal(int signum, void (*handler)(int), int flags) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = handler;
    action.sa_flags = flags;
    sigemptyset(&action.sa_mask);
    return sigaction(signum, &action, NULL);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        printf("pause %s (gochaos kind_offline)\n", PAUSE_VERSION);
        return 0;
    }
    if (getpid() != 1) {
        fprintf(stderr, "pause: not running as PID 1 of its namespace; zombies elsewhere are not reaped\n");
    }
    if (on_signal(SIGINT, stop_now, 0) < 0 || on_signal(SIGTERM, stop_now, 0) < 0 ||
        on_signal(SIGCHLD, reap_children, SA_NOCLDSTOP | SA_RESTART) < 0) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;) {
        pause();
    }
}
