/*
** tape.c: a recorded graph flattened into arrays in creation order, so that a graph
** whose shape does not change is replayed for new numbers entirely in C: values forward,
** adjoints backward, with no node allocated and no Lua code run. Guards record what Lua
** saw while recording (comparisons, data it read); a replay that breaks one says so, and
** the caller records again. Host functions' calls replay too, on the tape's own copies of
** their outputs and adjoints: a replay never writes into the recorded graph.
**
** A node the recording found made (flagged LGI_GIVEN by the caller while the tape is made:
** made before the recording, whose data eager mode never computes again) is frozen: a
** replay reads its data as it is, as an external leaf's, and runs no forward step for it,
** nor for a frozen call (its outputs are the call's own); adjoints still flow through it to
** its parents, and its grad gains its adjoint, as eager backward does.
*/
#include <math.h>
#include <string.h>
#include "graph/lg_graph.h"

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

/* Carves T's arrays out of one block: doubles, pointers and structs, then 4-byte and 1-byte
   arrays. Every count is set. */
static int carve (lg_Tape *T) {
  size_t doubles = 2 * (size_t)T->nslots + 2 * (size_t)T->maxn + 2 * (size_t)T->ny;
  size_t size = doubles * sizeof(double) + T->nexternal * sizeof(lg_Value *)
              + T->ncalls * sizeof(lg_TapeCall) + T->nguards * sizeof(lg_Guard)
              + ((size_t)2 * T->nnodes + T->nexternal + T->nargs + T->ninputs) * 4
              + 2 * (size_t)T->nnodes;
  char *p = (char *)T->allocf(T->ud, NULL, 0, size);
  if (p == NULL) return LG_EMEM;
  memset(p, 0, size);
  T->block = p;
  T->blocksize = size;
  T->val = (double *)p;          p += T->nslots * sizeof(double);
  T->adj = (double *)p;          p += T->nslots * sizeof(double);
  T->x = (double *)p;            p += 2 * (size_t)T->maxn * sizeof(double);
  T->cy = (double *)p;           p += T->ny * sizeof(double);
  T->cg = (double *)p;           p += T->ny * sizeof(double);
  T->ext = (lg_Value **)p;       p += T->nexternal * sizeof(lg_Value *);
  T->call = (lg_TapeCall *)p;    p += T->ncalls * sizeof(lg_TapeCall);
  T->guard = (lg_Guard *)p;      p += T->nguards * sizeof(lg_Guard);
  T->first = (uint32_t *)p;      p += T->nnodes * 4;
  T->n = (uint32_t *)p;          p += T->nnodes * 4;
  T->extidx = (uint32_t *)p;     p += T->nexternal * 4;
  T->argidx = (uint32_t *)p;     p += T->nargs * 4;
  T->input = (int32_t *)p;       p += T->ninputs * 4;
  T->op = (uint8_t *)p;          p += T->nnodes;
  T->kind = (uint8_t *)p;
  return LG_OK;
}

#define FROZEN 0x80u   /* in T->kind: a frozen node (below it, the node's kind) */

/* Read on each replay: a leaf other than the inputs, and a frozen node that holds a value. */
static int isexternal (const lg_Value *v) {
  if (v->kind == LGI_KLEAF) return !(v->flags & LGI_INPUT);
  return (v->flags & LGI_GIVEN) && v->kind != LGI_KCALL;
}

/* Sets T's counts from W->order, and numbers its nodes for lgI_tapeindex. */
static void count (lg_Tape *T, lg_Work *W) {
  uint32_t i, k, nconst = 0;
  T->nargs = T->ncalls = T->ny = T->nexternal = 0;
  for (i = 0; i < W->count; i++) {
    lg_Value *v = W->order[i];
    T->nargs += v->n;
    if (v->kind == LGI_KCALL) {
      T->ncalls++;
      T->ny += (uint32_t)lgI_callrec(v)->f->nout;
    }
    if (v->kind != LGI_KOUTPUT) {  /* an output's constant is an index, not a value */
      for (k = 0; k < v->n; k++) nconst += (uint32_t)lgI_isconst(v, k);
    }
    T->nexternal += (uint32_t)isexternal(v);
    v->adj = (double)i + 1;  /* the index, for lgI_tapeindex */
  }
  T->nnodes = (uint32_t)W->count;
  T->nslots = T->nnodes + nconst;
  T->maxn = (uint32_t)W->maxn;
}

/* Where the outputs of the call at tape index node begin in cy: a binary search of the
   first ncalls calls, which are in tape order. */
static uint32_t callslot (const lg_Tape *T, uint32_t ncalls, uint32_t node) {
  uint32_t lo = 0, hi = ncalls;  /* the call is one of T->call[lo .. hi-1] */
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (T->call[mid].node <= node) lo = mid;
    else hi = mid;
  }
  return T->call[lo].y;
}

int lgI_tapebegin (lg_Tape *T, lg_Work *W, lg_Value *out, uint32_t ninputs,
                   uint32_t nguards) {
  uint32_t i, k, a = 0, e = 0, c, nc = 0, y = 0;
  if (W->count > (size_t)INT32_MAX) {  /* tape indices are int32 */
    lgI_unmark(W);
    return LG_EMEM;
  }
  if (W->tensors) {   /* tapes of tensor graphs come later */
    lgI_unmark(W);
    return LGI_ETENSOR;
  }
  count(T, W);
  T->ninputs = ninputs;
  T->nguards = nguards;
  T->out = (uint32_t)lgI_tapeindex(out);
  if (carve(T) != LG_OK) {
    lgI_tapeend(W);
    return LG_EMEM;
  }
  for (i = 0, c = T->nnodes; i < T->nnodes; i++) {
    lg_Value *v = W->order[i];
    T->op[i] = v->op;
    T->kind[i] = (uint8_t)(v->kind | ((v->flags & LGI_GIVEN) ? FROZEN : 0));
    T->n[i] = v->n;
    T->first[i] = a;
    T->val[i] = v->data;
    if (v->kind == LGI_KCALL) {
      lg_TapeCall *tc = &T->call[nc++];
      tc->f = lgI_callrec(v)->f;
      tc->node = i;
      tc->y = y;
      for (k = 0; k < (uint32_t)tc->f->nout; k++) T->cy[y + k] = lgI_callrec(v)->y[k];
      y += (uint32_t)tc->f->nout;
    }
    if (v->kind == LGI_KOUTPUT) {  /* one argument, its call; then its value's place in cy */
      uint32_t call = (uint32_t)lgI_tapeindex(v->in[0].v);
      T->n[i] = 1;
      T->argidx[a++] = call;
      T->argidx[a++] = callslot(T, nc, call) + (uint32_t)v->in[1].k;
    }
    else for (k = 0; k < v->n; k++, a++) {
      if (lgI_isconst(v, k)) {  /* a slot of its own: no test for constants in replays */
        T->val[c] = v->in[k].k;
        T->argidx[a] = c++;
      }
      else T->argidx[a] = (uint32_t)lgI_tapeindex(v->in[k].v);
    }
    if (isexternal(v)) {
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

/* Does guard g still hold? Data holds when Lua could tell no difference: the same number
   with the same sign (1 / x tells 0 from -0), or NaN for NaN. */
static int holds (const lg_Tape *T, const lg_Guard *g) {
  double a = guardoperand(T, g->a, g->ka), b = guardoperand(T, g->b, g->kb);
  switch (g->kind) {
    case LGI_GLT: return (a < b) == g->expect;
    case LGI_GLE: return (a <= b) == g->expect;
    default: return (a == g->ka && !signbit(a) == !signbit(g->ka)) || (a != a && g->ka != g->ka);
  }
}

/* x := the values of n arguments from argidx[a] on (x holds 2 * maxn: partials go after). */
static void getargs (lg_Tape *T, uint32_t n, uint32_t a) {
  uint32_t k;
  for (k = 0; k < n; k++) T->x[k] = T->val[T->argidx[a + k]];
}

static int computed (int32_t idx, uint32_t i) {
  return idx < (int32_t)i;  /* a constant's -1 too */
}

/* A host function failed at node i: LGI_EGUARD if a guard on values already computed is
   broken, since then this replay strayed from what Lua did before ever calling it (and a
   new recording either takes the other path or raises the same error); else LG_EHOST. */
static int hostfailed (const lg_Tape *T, uint32_t i) {
  uint32_t k;
  for (k = 0; k < T->nguards; k++) {
    const lg_Guard *g = &T->guard[k];
    if (computed(g->a, i) && (g->kind == LGI_GDATA || computed(g->b, i)) && !holds(T, g))
      return LGI_EGUARD;
  }
  return LG_EHOST;
}

/* ---- each kind's replay steps (lgI_kinds) ------------------------------------------ */

int lgI_tapeskip (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c) {
  (void)T; (void)W; (void)i; (void)c;
  return LG_OK;
}

int lgI_tapeopfwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c) {
  (void)W; (void)c;
  getargs(T, T->n[i], T->first[i]);
  T->val[i] = lgI_opdef(T->op[i])->forward((int)T->n[i], T->x);
  return LG_OK;
}

int lgI_tapeopbwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c) {
  uint32_t k, n = T->n[i], a = T->first[i];
  double *dx = T->x + n;
  (void)W; (void)c;
  getargs(T, n, a);
  lgI_opdef(T->op[i])->backward((int)n, T->x, T->val[i], T->adj[i], dx);
  for (k = 0; k < n; k++) T->adj[T->argidx[a + k]] += dx[k];  /* constants' slots too */
  return LG_OK;
}

/* A call: the host's function, on the tape's values, into cy; *c counts the calls done. */
int lgI_tapecallfwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c) {
  const lg_TapeCall *tc = &T->call[(*c)++];
  getargs(T, T->n[i], T->first[i]);
  if (lgI_hostforward(W, tc->f, T->x, T->cy + tc->y) != LG_OK) return hostfailed(T, i);
  return LG_OK;
}

/* A call backward: the host's vjp, once, from cg to the arguments' adjoints; *c counts
   down the calls left. */
int lgI_tapecallbwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c) {
  uint32_t k, n = T->n[i], a = T->first[i];
  const lg_TapeCall *tc = &T->call[--*c];
  double *gx = T->x + n;
  getargs(T, n, a);
  if (lgI_hostvjp(W, tc->f, T->x, T->cy + tc->y, T->cg + tc->y, gx) != LG_OK) return LG_EHOST;
  for (k = 0; k < n; k++) T->adj[T->argidx[a + k]] += gx[k];
  return LG_OK;
}

/* An output: its value from cy, its adjoint into cg. */
int lgI_tapeoutfwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c) {
  (void)W; (void)c;
  T->val[i] = T->cy[T->argidx[T->first[i] + 1]];
  return LG_OK;
}

int lgI_tapeoutbwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c) {
  (void)W; (void)c;
  T->cg[T->argidx[T->first[i] + 1]] += T->adj[i];
  return LG_OK;
}

/* ---- replays ----------------------------------------------------------------------- */

int lgI_tapeforward (lg_Tape *T, lg_Work *W) {
  uint32_t i, c = 0;
  for (i = 0; i < T->nexternal; i++) T->val[T->extidx[i]] = T->ext[i]->data;
  for (i = 0; i < T->nnodes; i++) {
    int err;
    if (T->kind[i] == LGI_KOP) lgI_tapeopfwd(T, W, i, &c);   /* the common case inline */
    else if (T->kind[i] & FROZEN) c += (T->kind[i] == (FROZEN | LGI_KCALL));  /* as it is */
    else if ((err = lgI_kinds[T->kind[i]].tapeforward(T, W, i, &c)) != LG_OK) return err;
  }
  for (i = 0; i < T->nguards; i++) {
    if (!holds(T, &T->guard[i])) return LGI_EGUARD;
  }
  return LG_OK;
}

int lgI_tapebackward (lg_Tape *T, lg_Work *W) {
  uint32_t i, c = T->ncalls;
  memset(T->adj, 0, T->nslots * sizeof(double));
  T->adj[T->out] = 1.0;
  if (c > 0) {
    memset(T->cg, 0, T->ny * sizeof(double));
    while (c > 0 && T->call[c - 1].node > T->out) c--;  /* calls after out feed only guards */
  }
  for (i = T->out + 1; i-- > 0; ) {  /* nothing after out feeds it */
    uint8_t kind = (uint8_t)(T->kind[i] & ~FROZEN);
    if (kind == LGI_KOP) lgI_tapeopbwd(T, W, i, &c);
    else if (lgI_kinds[kind].tapebackward(T, W, i, &c) != LG_OK)
      return LG_EHOST;  /* no grad changed yet */
  }
  for (i = 0; i < T->nexternal; i++) {
    T->ext[i]->grad += T->adj[T->extidx[i]];
    T->ext[i]->flags &= (uint8_t)~LGI_GRADVALUE;   /* a number again, as after backward */
  }
  return LG_OK;
}
