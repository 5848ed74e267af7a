/* Starts and stops dashnet-sim for the C tests and the demo (POSIX). */
#ifndef DASHNET_SIM_H
#define DASHNET_SIM_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct sim_process {
  pid_t pid;
  int stdin_fd;     /* closing it makes the sim exit */
  FILE *out;        /* its stdout: the address now, its report when it exits */
  char address[64]; /* "127.0.0.1:PORT" */
  /* Filled by sim_stop from the sim's report. */
  int violations;       /* -1: no report (killed, crashed) */
  char received[4096];  /* "COMMAND COUNT\n" per command received after handshakes */
  /* With --print-checkpoints: (height, hash in wire order) of the sim's chain. */
  int checkpoints;
  uint32_t checkpoint_height[64];
  uint8_t checkpoint_hash[64][32];
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
  /* Close-on-exec: a sim started later must not inherit this one's stdin, or closing it
     here would not make this sim exit (dup2 below clears the flag on the child's 0 and 1). */
  for (int i = 0; i < 2; i++) {
    fcntl(in[i], F_SETFD, FD_CLOEXEC);
    fcntl(out[i], F_SETFD, FD_CLOEXEC);
  }
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
  s->out = f;
  s->address[0] = 0;
  s->violations = -1;
  s->received[0] = 0;
  s->checkpoints = 0;
  while (f && fgets(line, sizeof line, f)) {
    unsigned h;
    char hex[65];
    if (sscanf(line, "dashnet-sim checkpoint %u %64s", &h, hex) == 2) {
      if (s->checkpoints < 64 && strlen(hex) == 64) {
        s->checkpoint_height[s->checkpoints] = h;
        for (int i = 0; i < 32; i++) {
          unsigned v;
          sscanf(hex + 2 * i, "%2x", &v);
          s->checkpoint_hash[s->checkpoints][31 - i] = (uint8_t)v; /* display hex is reversed */
        }
        s->checkpoints++;
      }
      continue;
    }
    const char *p = strstr(line, "listening on ");
    if (p) {
      p += strlen("listening on ");
      size_t n = strcspn(p, "\r\n");
      if (n < sizeof s->address) {
        memcpy(s->address, p, n);
        s->address[n] = 0;
      }
      break; /* the first listener's line: the sim is up */
    }
  }
  return s->address[0] ? 0 : -1;
}

/* Reads the report the sim printed as it exited (it has exited: the pipe is at EOF). */
static void sim_read_report(sim_process *s) {
  char line[512];
  size_t used = 0;
  while (s->out && fgets(line, sizeof line, s->out)) {
    const char *p;
    if ((p = strstr(line, "dashnet-sim received ")) != NULL) {
      p += strlen("dashnet-sim received ");
      size_t n = strlen(p);
      if (used + n < sizeof s->received) {
        memcpy(s->received + used, p, n + 1);
        used += n;
      }
    } else if ((p = strstr(line, "dashnet-sim violation ")) != NULL) {
      fprintf(stderr, "dashnet-sim (%s) %s", s->address, p + strlen("dashnet-sim "));
    } else if ((p = strstr(line, "dashnet-sim done violations=")) != NULL) {
      s->violations = atoi(p + strlen("dashnet-sim done violations="));
    }
  }
}

/* How many COMMAND messages the stopped sim received after handshakes. */
static inline unsigned long sim_received(const sim_process *s, const char *command) {
  size_t n = strlen(command);
  for (const char *p = s->received; *p;) {
    if (strncmp(p, command, n) == 0 && p[n] == ' ') return strtoul(p + n + 1, NULL, 10);
    const char *nl = strchr(p, '\n');
    if (!nl) break;
    p = nl + 1;
  }
  return 0;
}

/* Closes the sim's stdin (it exits), waits for it (kills it after 5 s) and reads its
   report. Returns 0 when it exited cleanly with no violation of what Dash Core accepts
   from a client; tests CHECK that, so a misbehaving client fails them. */
static int sim_stop(sim_process *s) {
  if (s->pid <= 0) return -1;
  close(s->stdin_fd);
  int status = -1;
  for (int i = 0; i < 500 && s->pid > 0; i++) {
    if (waitpid(s->pid, &status, WNOHANG) == s->pid) s->pid = 0;
    else usleep(10000);
  }
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    status = -1;
  }
  sim_read_report(s);
  if (s->out) fclose(s->out);
  s->out = NULL;
  int clean = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!clean || s->violations != 0)
    fprintf(stderr, "dashnet-sim (%s): %s, %d violation(s) reported\n", s->address,
            status == -1 ? "killed after 5 s" : WIFEXITED(status) ? "exited" : "died", s->violations);
  return clean && s->violations == 0 ? 0 : -1;
}

/* The regtest genesis hash (the sim's chain starts there), in wire order. */
static inline void sim_regtest_genesis(uint8_t out[32]) {
  const char *hex = "000008ca1832a4baf228eb1553c03d3a2c8e02399550dd6ea8d65cec3ef23d2e";
  for (int i = 0; i < 32; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    out[31 - i] = (uint8_t)v; /* display hex is byte-reversed */
  }
}

#endif
