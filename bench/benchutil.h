/*
** benchutil.h: what the C benchmarks share: the suite's one LCG (the same numbers as
** bench/common.lua draws), process CPU time, and resident set size.
*/
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t lcg_state;

static inline double uniform (void) {
  lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(lcg_state >> 11) * 0x1p-53;
}

static inline int64_t lcgint (int64_t m) {
  lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (int64_t)((lcg_state >> 33) % (uint64_t)m);
}

static inline double now (void) {  /* process CPU time, as Lua's os.clock */
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set (bytes) from /proc: which = "VmHWM" (peak) or "VmRSS" (now); 0 if unknown. */
static inline double rss (const char *which) {
  char line[256];
  double kb = 0;
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) return 0;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, which, strlen(which)) == 0) kb = atof(line + strlen(which) + 1);
  }
  fclose(f);
  return kb * 1024;
}

#endif
