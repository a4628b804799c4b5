/*
** test_nozlib.c: gzip.c as a build without zlib compiles it (LUAGRAD_ZLIB=OFF, or no
** zlib1g-dev): gzip data is still recognized, and inflating it answers LGI_ENOZLIB, which
** the binding turns into a message that says why.
*/
#undef LUAGRAD_HAVE_ZLIB
#include "core/gzip.c"

#include <stdio.h>

int main (void) {
  static const unsigned char gz[] = {0x1f, 0x8b, 8, 0};
  unsigned char out[4];
  lg_Gunzip r;
  int ok = !lgI_hasgzip() && lgI_isgzip(gz, sizeof gz) && !lgI_isgzip(gz, 1) &&
           lgI_gunzip(NULL, gz, sizeof gz, 0, out, sizeof out, 1, &r) == LGI_ENOZLIB &&
           r.got == 0;
  printf(ok ? "without zlib: gzip recognized, and refused with LGI_ENOZLIB\n"
            : "without zlib: wrong answers\n");
  return !ok;
}
