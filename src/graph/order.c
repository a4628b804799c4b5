/*
** order.c: the order of a graph: every node a set of roots depends on, parents before
** children, by an iterative DFS post-order on an explicit stack (graph depth is unbounded).
*/
#include "graph/lg_graph.h"

/* ---- order ----------------------------------------------------------------------- */

void lgI_unmark (lg_Work *W) {
  size_t i;
  for (i = 0; i < W->count; i++) W->order[i]->flags &= (uint8_t)~LGI_MARKS;
}

/* Clears the marks left by a toposort that stopped part way (err): nodes already ordered and
   nodes still on the stack; a nested traversal clears only its own. */
static int abandon (lg_Work *W, size_t sp, int err) {
  size_t i;
  for (i = 0; i < sp; i++) {
    if (!W->nested || (W->stack[i]->flags & LGI_NESTED)) W->stack[i]->flags &= (uint8_t)~LGI_MARKS;
  }
  lgI_unmark(W);
  W->count = 0;
  return err;
}

/* A node another traversal holds, met by one nested in its callback? */
#define HELD(nested, v) ((nested) && ((v)->flags & (LGI_MARKED | LGI_NESTED)) == LGI_MARKED)

/*
** Iterative DFS post-order. A node is marked when first expanded (its unmarked parents are
** pushed) and emitted when met again on top of the stack with all its parents done. A node
** may be pushed twice before it is expanded; the later copy finds it marked and drops it.
*/
int lgI_toposort (lg_Work *W, lg_Value *root) {
  return lgI_toposortn(W, &root, 1);
}

int lgI_toposortn (lg_Work *W, lg_Value *const *roots, size_t nroots) {
  size_t sp = 0;
  const int nested = W->nested;   /* a local: writes to flags (bytes) may alias W */
  const uint8_t mark = (uint8_t)(nested ? LGI_MARKED | LGI_NESTED : LGI_MARKED);
  W->count = 0;
  W->maxn = 0;
  W->fallible = 0;
  W->tensors = 0;
  if (lgI_grow(W, (void **)&W->stack, &W->nstack, nroots, sizeof(lg_Value *)) != LG_OK)
    return LG_EMEM;
  while (sp < nroots) {  /* reversed, so the first root comes out first */
    W->stack[sp] = roots[nroots - 1 - sp];
    sp++;
  }
  while (sp > 0) {
    lg_Value *v = W->stack[sp - 1];
    if (!(v->flags & LGI_MARKED)) {  /* first visit: expand */
      uint32_t i;
      v->flags |= mark;
      if (lgI_grow(W, (void **)&W->stack, &W->nstack, sp + v->n, sizeof(lg_Value *)) != LG_OK)
        return abandon(W, sp, LG_EMEM);
      for (i = v->n; i-- > 0; ) {  /* reversed, so the first argument comes out first */
        if (lgI_isconst(v, i)) continue;
        if (!(v->in[i].v->flags & LGI_MARKED)) W->stack[sp++] = v->in[i].v;
        else if (HELD(nested, v->in[i].v)) return abandon(W, sp, LGI_EBUSY);
      }
    }
    else if (HELD(nested, v)) return abandon(W, sp, LGI_EBUSY);   /* a root */
    else {
      sp--;
      if (!(v->flags & LGI_DONE)) {  /* all parents done: emit */
        if (lgI_grow(W, (void **)&W->order, &W->norder, W->count + 1, sizeof(lg_Value *)) != LG_OK)
          return abandon(W, sp + 1, LG_EMEM);
        v->flags |= LGI_DONE;
        W->order[W->count++] = v;
        if (v->n > W->maxn) W->maxn = v->n;
        if (lgI_kinds[v->kind].fallible) W->fallible = 1;
        if (v->kind >= LGI_KTENSOR) W->tensors = 1;
      }
    }
  }
  return LG_OK;
}

