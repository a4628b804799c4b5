/*
** text.c: the small text buffer the graph printer writes into, and numbers as text.
*/
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include "core/lg_core.h"

/* ---- buffer ---------------------------------------------------------------------- */

void lgI_bufinit (lg_Buffer *B, lg_Work *W) {
  B->W = W;
  B->len = 0;
  B->err = LG_OK;
}

void lgI_bufadd (lg_Buffer *B, const char *s, size_t len) {
  lg_Work *W = B->W;
  if (B->err != LG_OK) return;
  if (W->ntext - B->len < len) {
    size_t ncap = (W->ntext < 256) ? 256 : W->ntext;
    char *ns;
    while (ncap - B->len < len) {
      if (ncap > (size_t)-1 / 2) { B->err = LG_EMEM; return; }
      ncap *= 2;
    }
    ns = (char *)lgI_alloc(W, W->text, W->ntext, ncap);
    if (ns == NULL) { B->err = LG_EMEM; return; }
    W->text = ns;
    W->ntext = ncap;
  }
  memcpy(W->text + B->len, s, len);
  B->len += len;
}

void lgI_bufaddstr (lg_Buffer *B, const char *s) { lgI_bufadd(B, s, strlen(s)); }

const char *lgI_fmtnum (char *buf, double x) {
  char point = localeconv()->decimal_point[0];
  char *p;
  snprintf(buf, 32, "%.14g", x);
  if (point != '.' && (p = strchr(buf, point)) != NULL) *p = '.';
  return buf;
}

void lgI_bufaddnum (lg_Buffer *B, double x) {
  char buf[32];
  lgI_bufaddstr(B, lgI_fmtnum(buf, x));
}

