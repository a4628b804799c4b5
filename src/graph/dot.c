/*
** dot.c: Graphviz DOT text for a graph (one record per Value, one node per operation,
** edges in the forward direction).
*/
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include "graph/lg_graph.h"
#include "core/lg_tnode.h"

/* ---- DOT ------------------------------------------------------------------------- */

/* Appends s (len bytes) escaped for a record label: braces, bars, angles, quotes and
   backslashes get a backslash, control characters become spaces. */
static void addescaped (lg_Buffer *B, const char *s, size_t len) {
  for (; len > 0; s++, len--) {
    char c = ((unsigned char)*s < 32) ? ' ' : *s;   /* never '\0', which strchr would find */
    if (strchr("{}|<>\"\\", c) != NULL) lgI_bufadd(B, "\\", 1);
    lgI_bufadd(B, &c, 1);
  }
}

static void addid (lg_Buffer *B, const char *prefix, size_t id, const char *suffix) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s%zu%s", prefix, id, suffix);
  lgI_bufaddstr(B, buf);
}

/* Node ids are positions in the order; during the walk each node's adj (0 outside backward)
   holds its id so that an argument's id is one load away, and is cleared at the end. */
static size_t idof (const lg_Value *v) { return (size_t)v->adj; }

static void addrecord (lg_Buffer *B, const lg_Value *v, const char *label, size_t len) {
  addid(B, "  v", idof(v), " [shape=record, label=\"{ ");
  if (label != NULL) {
    addescaped(B, label, len);
    lgI_bufaddstr(B, " | ");
  }
  lgI_bufaddstr(B, "data ");
  lgI_bufaddnum(B, v->data);
  lgI_bufaddstr(B, " | grad ");
  lgI_bufaddnum(B, v->grad);
  lgI_bufaddstr(B, " }\"];\n");
}

/* A tensor's record: its shape, and its dtype when it is not float64 */
static void addtensor (lg_Buffer *B, const lg_Value *v) {
  const lg_TensorRec *r = lgI_trec(v);
  char buf[32 + 24 * LGI_MAXDIM];
  size_t n = 0;
  int i;
  n += (size_t)snprintf(buf + n, sizeof buf - n, "tensor | shape {");
  for (i = 0; i < r->d.ndim; i++)
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%lld", i > 0 ? ", " : "",
                          (long long)r->d.size[i]);
  n += (size_t)snprintf(buf + n, sizeof buf - n, "}%s",
                        r->d.dtype == LGI_F32 ? " float32" : "");
  addid(B, "  v", idof(v), " [shape=record, label=\"{ ");
  lgI_bufaddstr(B, "tensor | ");
  addescaped(B, buf + 9, n - 9);
  lgI_bufaddstr(B, " }\"];\n");
}

/* The circle of v's operation, and an edge into it from each argument. */
static void addop (lg_Buffer *B, const lg_Value *v) {
  const char *name = lgI_opname(v);
  size_t id = idof(v);
  uint32_t i;
  addid(B, "  v", id, "op [shape=circle, label=\"");
  addescaped(B, name, strlen(name));
  lgI_bufaddstr(B, "\"];\n");
  for (i = 0; i < v->n; i++) {
    if (lgI_isconst(v, i)) {
      char kid[64];
      snprintf(kid, sizeof kid, "k%zu_%u", id, (unsigned)i);
      lgI_bufaddstr(B, "  ");
      lgI_bufaddstr(B, kid);
      lgI_bufaddstr(B, " [shape=plaintext, label=\"");
      lgI_bufaddnum(B, v->in[i].k);
      lgI_bufaddstr(B, "\"];\n  ");
      lgI_bufaddstr(B, kid);
    }
    else addid(B, "  v", idof(v->in[i].v), "");
    addid(B, " -> v", id, "op;\n");
  }
}

/* A Value is a record fed by its op's circle; a host function's call is a circle alone,
   feeding each of its outputs. */
static void addnode (lg_Buffer *B, const lg_Value *v, const char *label, size_t len) {
  int shape = lgI_kinds[v->kind].dot;
  if (shape == LGI_DOTCIRCLE) {
    addop(B, v);
    return;
  }
  if (shape == LGI_DOTTENSOR) {   /* a leaf's slots (a view's base) are no operands */
    addtensor(B, v);
    if (!(lgI_trec(v)->tflags & LGI_TLEAF)) {
      addop(B, v);
      addid(B, "  v", idof(v), "op -> ");
      addid(B, "v", idof(v), ";\n");
    }
    return;
  }
  addrecord(B, v, label, len);
  if (shape == LGI_DOTOUTPUT) {
    addid(B, "  v", idof(v->in[0].v), "op -> ");
    addid(B, "v", idof(v), ";\n");
  }
  else if (v->n > 0) {
    addop(B, v);
    addid(B, "  v", idof(v), "op -> ");
    addid(B, "v", idof(v), ";\n");
  }
}

int lgI_todot (lg_Work *W, lg_Value *root, lgI_Labeler label, void *ud, lg_Buffer *B) {
  size_t i;
  int err = lgI_toposort(W, root);
  if (err != LG_OK) return err;
  lgI_bufaddstr(B, "digraph luagrad {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
  for (i = 0; i < W->count; i++) {
    lg_Value *v = W->order[i];
    size_t len = 0;
    const char *s = (v->flags & LGI_LABELED) ? label(ud, v, &len) : NULL;
    v->adj = (double)(i + 1);
    addnode(B, v, s, len);
  }
  lgI_bufaddstr(B, "}\n");
  for (i = 0; i < W->count; i++) W->order[i]->adj = 0.0;
  lgI_unmark(W);
  return B->err;
}
