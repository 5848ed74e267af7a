/* Starts and stops dashnet-sim for the C tests and the demo (POSIX). */
#ifndef DASHNET_SIM_H
#define DASHNET_SIM_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct sim_process {
  pid_t pid;
  int stdin_fd;    /* closing it makes the sim exit */
  char address[64]; /* "127.0.0.1:PORT" */
} sim_process;

/* The sim binary: $DASHNET_SIM, else target/debug/dashnet-sim. */
static const char *sim_binary(void) {
  const char *p = getenv("DASHNET_SIM");
  return p && *p ? p : "target/debug/dashnet-sim";
}

/* Starts the sim with extra arguments (NULL-terminated), waits for its address line. */
static int sim_start(sim_process *s, const char *const *args) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const char *argv[32];
    int n = 0;
    argv[n++] = sim_binary();
    argv[n++] = "--timeout";
    argv[n++] = "600";
    for (int i = 0; args && args[i] && n < 30; i++) argv[n++] = args[i];
    argv[n] = NULL;
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  FILE *f = fdopen(out[0], "r");
  char line[256];
  s->pid = pid;
  s->stdin_fd = in[1];
  s->address[0] = 0;
  if (f && fgets(line, sizeof line, f)) {
    const char *p = strstr(line, "listening on ");
    if (p) {
      p += strlen("listening on ");
      size_t n = strcspn(p, "\r\n");
      if (n < sizeof s->address) {
        memcpy(s->address, p, n);
        s->address[n] = 0;
      }
    }
  }
  if (f) fclose(f);
  return s->address[0] ? 0 : -1;
}

/* Closes the sim's stdin (it exits) and waits for it; kills it after 5 s. */
static void sim_stop(sim_process *s) {
  if (s->pid <= 0) return;
  close(s->stdin_fd);
  for (int i = 0; i < 500; i++) {
    if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
      s->pid = 0;
      return;
    }
    usleep(10000);
  }
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  s->pid = 0;
}

#endif
