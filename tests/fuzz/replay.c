/*
** replay.c: a main for the fuzz target when libFuzzer is not there (any compiler, e.g.
** gcc with -fsanitize=address,undefined): runs each file named, and each file in each
** directory named, once. `make test` uses it to run the committed corpus on every build.
*/
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int runfile (const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long len;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    if (f) fclose(f);
    return 0;
  }
  rewind(f);
  buf = (uint8_t *)malloc((size_t)len + 1);
  if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    free(buf);
    fclose(f);
    return 0;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)len);
  free(buf);
  return 1;
}

int main (int argc, char **argv) {
  int i, n = 0, bad = 0;
  for (i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) { fprintf(stderr, "replay: no %s\n", argv[i]); bad++; }
    else if (S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      struct dirent *e;
      while (d != NULL && (e = readdir(d)) != NULL) {
        char path[4096];
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
        if (runfile(path)) n++; else bad++;
      }
      if (d) closedir(d);
    }
    else if (runfile(argv[i])) n++; else bad++;
  }
  printf("replay: %d inputs run, %d unreadable\n", n, bad);
  return bad != 0 || n == 0;
}
