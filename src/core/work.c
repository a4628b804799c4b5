/*
** work.c: scratch memory for traversals, owned by whoever runs them (a lua_State, an arena),
** never static; every allocation of the library goes through lgI_alloc.
*/
#include <string.h>
#include "core/lg_core.h"

/* ---- scratch memory ---------------------------------------------------------- */

void lgI_workinit (lg_Work *W, lg_Alloc allocf, void *ud) {
  memset(W, 0, sizeof(*W));
  W->allocf = allocf;
  W->ud = ud;
}

void *lgI_alloc (lg_Work *W, void *p, size_t osize, size_t nsize) {
  return W->allocf(W->ud, p, osize, nsize);
}

void lgI_workfree (lg_Work *W) {
  lgI_alloc(W, W->stack, W->nstack * sizeof(lg_Value *), 0);
  lgI_alloc(W, W->order, W->norder * sizeof(lg_Value *), 0);
  lgI_alloc(W, W->x, W->nx * sizeof(double), 0);
  lgI_alloc(W, W->text, W->ntext, 0);
  W->stack = W->order = NULL;
  W->x = NULL;
  W->text = NULL;
  W->nstack = W->norder = W->nx = W->ntext = 0;
}

int lgI_regrow (lg_Work *W, void **buf, size_t *cap, size_t need, size_t elem) {
  size_t ncap = (*cap < 64) ? 64 : *cap;
  void *nb;
  if (need <= *cap) return LG_OK;
  while (ncap < need) {
    if (ncap > ((size_t)-1 / 2) / elem) return LG_EMEM;
    ncap *= 2;
  }
  nb = lgI_alloc(W, *buf, *cap * elem, ncap * elem);
  if (nb == NULL) return LG_EMEM;
  *buf = nb;
  *cap = ncap;
  return LG_OK;
}

int lgI_reservex (lg_Work *W, size_t n) {
  return lgI_grow(W, (void **)&W->x, &W->nx, n, sizeof(double));
}
