/*
** lg_tape.c: a recorded graph flattened into arrays in creation order, so that a graph
** whose shape does not change is replayed for new numbers entirely in C: values forward,
** adjoints backward, with no node allocated and no Lua code run. Guards record what Lua
** saw while recording (comparisons, data it read); a replay that breaks one says so, and
** the caller records again.
*/
#include <math.h>
#include <string.h>
#include "lg_internal.h"

int32_t lgI_tapeindex (const lg_Value *v) {
  return (v->flags & LGI_MARKED) ? (int32_t)v->adj - 1 : -1;
}

void lgI_tapeend (lg_Work *W) {
  size_t i;
  for (i = 0; i < W->count; i++) W->order[i]->adj = 0.0;
  lgI_unmark(W);
}

void lgI_tapefree (lg_Tape *T) {
  if (T->block != NULL) T->allocf(T->ud, T->block, T->blocksize, 0);
  T->block = NULL;
  T->blocksize = 0;
}

/* Carves T's arrays out of one block: doubles, pointers, then 4-byte and 1-byte arrays. */
static int carve (lg_Tape *T, uint32_t nnodes, uint32_t nargs, uint32_t nin, uint32_t next,
                  uint32_t ng) {
  size_t doubles = 2 * (size_t)T->nslots + 2 * (size_t)T->maxn;
  size_t size = doubles * sizeof(double) + next * sizeof(lg_Value *) + ng * sizeof(lg_Guard)
              + ((size_t)2 * nnodes + next + nargs + nin) * 4 + nnodes;
  char *p = (char *)T->allocf(T->ud, NULL, 0, size);
  if (p == NULL) return LG_EMEM;
  memset(p, 0, size);
  T->block = p;
  T->blocksize = size;
  T->val = (double *)p;          p += T->nslots * sizeof(double);
  T->adj = (double *)p;          p += T->nslots * sizeof(double);
  T->x = (double *)p;            p += 2 * (size_t)T->maxn * sizeof(double);
  T->ext = (lg_Value **)p;       p += next * sizeof(lg_Value *);
  T->guard = (lg_Guard *)p;      p += ng * sizeof(lg_Guard);
  T->first = (uint32_t *)p;      p += nnodes * 4;
  T->n = (uint32_t *)p;          p += nnodes * 4;
  T->extidx = (uint32_t *)p;     p += next * 4;
  T->argidx = (uint32_t *)p;     p += nargs * 4;
  T->input = (int32_t *)p;       p += nin * 4;
  T->op = (uint8_t *)p;
  return LG_OK;
}

int lgI_tapebegin (lg_Tape *T, lg_Work *W, lg_Value *out, uint32_t ninputs,
                   uint32_t nguards) {
  uint32_t i, k, nargs = 0, nconst = 0, next = 0, a = 0, e = 0, c;
  if (W->hascall || W->count > (size_t)INT32_MAX) {
    lgI_unmark(W);
    return LG_EARG;
  }
  for (i = 0; i < W->count; i++) {
    lg_Value *v = W->order[i];
    nargs += v->n;
    for (k = 0; k < v->n; k++) nconst += (uint32_t)lgI_isconst(v, k);
    if (v->op == LGI_LEAF && !(v->flags & LGI_INPUT)) next++;
    v->adj = (double)i + 1;  /* the index, for lgI_tapeindex */
  }
  T->nnodes = (uint32_t)W->count;
  T->nslots = T->nnodes + nconst;
  T->nargs = nargs;
  T->ninputs = ninputs;
  T->nexternal = next;
  T->nguards = nguards;
  T->maxn = (uint32_t)W->maxn;
  T->out = (uint32_t)lgI_tapeindex(out);
  if (carve(T, T->nnodes, nargs, ninputs, next, nguards) != LG_OK) {
    lgI_tapeend(W);
    return LG_EMEM;
  }
  for (i = 0, c = T->nnodes; i < T->nnodes; i++) {
    lg_Value *v = W->order[i];
    T->op[i] = v->op;
    T->n[i] = v->n;
    T->first[i] = a;
    T->val[i] = v->data;
    for (k = 0; k < v->n; k++, a++) {
      if (lgI_isconst(v, k)) {  /* a slot of its own: no test for constants in replays */
        T->val[c] = v->in[k].k;
        T->argidx[a] = c++;
      }
      else T->argidx[a] = (uint32_t)lgI_tapeindex(v->in[k].v);
    }
    if (v->op == LGI_LEAF && !(v->flags & LGI_INPUT)) {
      T->ext[e] = v;
      T->extidx[e++] = i;
    }
  }
  for (i = 0; i < ninputs; i++) T->input[i] = -1;
  return LG_OK;
}

static double guardoperand (const lg_Tape *T, int32_t idx, double k) {
  return (idx >= 0) ? T->val[idx] : k;
}

/* Does guard g still hold? NaN data compares equal to NaN: what Lua saw is what it sees. */
static int holds (const lg_Tape *T, const lg_Guard *g) {
  double a = guardoperand(T, g->a, g->ka), b = guardoperand(T, g->b, g->kb);
  switch (g->kind) {
    case LGI_GLT: return (a < b) == g->expect;
    case LGI_GLE: return (a <= b) == g->expect;
    default: return a == g->ka || (a != a && g->ka != g->ka);
  }
}

int lgI_tapeforward (lg_Tape *T) {
  uint32_t i, k;
  for (i = 0; i < T->nexternal; i++) T->val[T->extidx[i]] = T->ext[i]->data;
  for (i = 0; i < T->nnodes; i++) {
    uint32_t n = T->n[i], a = T->first[i];
    if (T->op[i] == LGI_LEAF) continue;
    for (k = 0; k < n; k++) T->x[k] = T->val[T->argidx[a + k]];
    T->val[i] = lgI_ops[T->op[i]].forward((int)n, T->x);
  }
  for (i = 0; i < T->nguards; i++) {
    if (!holds(T, &T->guard[i])) return LGI_EGUARD;
  }
  return LG_OK;
}

void lgI_tapebackward (lg_Tape *T) {
  uint32_t i, k;
  memset(T->adj, 0, T->nslots * sizeof(double));
  T->adj[T->out] = 1.0;
  for (i = T->out + 1; i-- > 0; ) {  /* nothing after out feeds it */
    uint32_t n = T->n[i], a = T->first[i];
    double *dx = T->x + n;
    if (T->op[i] == LGI_LEAF) continue;
    for (k = 0; k < n; k++) T->x[k] = T->val[T->argidx[a + k]];
    lgI_ops[T->op[i]].backward((int)n, T->x, T->val[i], T->adj[i], dx);
    for (k = 0; k < n; k++) T->adj[T->argidx[a + k]] += dx[k];  /* constants' slots too */
  }
  for (i = 0; i < T->nexternal; i++) T->ext[i]->grad += T->adj[T->extidx[i]];
}
