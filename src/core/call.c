/*
** call.c: host-defined differentiable functions (lg_Func). A call is one node over its
** inputs that holds every output and, during backward, every output's adjoint; each output
** is a node of its own whose backward adds its adjoint to the call's. The call's backward
** then runs the host's vector-Jacobian product once for all outputs.
*/
#include <string.h>
#include "core/lg_core.h"

int lgI_validfunc (const lg_Func *f) {
  return f != NULL && f->name != NULL && f->forward != NULL && f->vjp != NULL
      && f->nin >= 1 && f->nin <= LG_MAXFUNCARGS && f->nout >= 1 && f->nout <= LG_MAXFUNCARGS;
}

size_t lgI_callsize (uint32_t nin, uint32_t nout) {
  return lgI_nodesize(nin) + sizeof(lg_CallRec) + 2 * (size_t)nout * sizeof(double);
}

lg_CallRec *lgI_callrec (const lg_Value *call) {
  return (lg_CallRec *)((char *)call + lgI_nodesize(call->n));
}

lg_Value *lgI_initcall (void *mem, const lg_Func *f) {
  lg_Value *v = lgI_initnode(mem, 0, (uint32_t)f->nin);
  lg_CallRec *r = lgI_callrec(v);
  v->op = LGI_CALL;
  v->kind = LGI_KCALL;
  r->f = f;
  memset(r->y, 0, 2 * (size_t)f->nout * sizeof(double));
  return v;
}

static int hosterror (lg_Work *W, const lg_Func *f) {
  W->msgfrom = f->name;
  W->msg[sizeof(W->msg) - 1] = '\0';  /* whatever the host wrote */
  if (W->msg[0] == '\0') strcpy(W->msg, "error in host function");
  return LG_EHOST;
}

int lgI_hostforward (lg_Work *W, const lg_Func *f, const double *x, double *y) {
  W->msg[0] = '\0';
  if (f->forward(f->ud, x, y, W->msg, sizeof(W->msg)) != 0) return hosterror(W, f);
  return LG_OK;
}

int lgI_callforward (lg_Work *W, lg_Value *call) {
  lg_CallRec *r = lgI_callrec(call);
  uint32_t i;
  for (i = 0; i < call->n; i++) W->x[i] = lgI_argdata(call, i);
  return lgI_hostforward(W, r->f, W->x, r->y);
}

lg_Value *lgI_initoutput (void *mem, lg_Value *call, uint32_t j) {
  lg_Value *v = lgI_initnode(mem, 0, 2);
  v->op = LGI_OUTPUT;
  v->kind = LGI_KOUTPUT;
  lgI_setarg(v, 0, call);
  lgI_setconst(v, 1, (double)j);
  v->data = lgI_callrec(call)->y[j];
  return v;
}

void lgI_outputbackward (lg_Value *out) {
  lg_CallRec *r = lgI_callrec(out->in[0].v);
  r->y[r->f->nout + (int)out->in[1].k] += out->adj;
}

void lgI_callabandon (lg_Value *call) {
  lg_CallRec *r = lgI_callrec(call);
  memset(r->y + r->f->nout, 0, (size_t)r->f->nout * sizeof(double));
}

int lgI_hostvjp (lg_Work *W, const lg_Func *f, const double *x, const double *y,
                 const double *gy, double *gx) {
  memset(gx, 0, (size_t)f->nin * sizeof(double));
  W->msg[0] = '\0';
  if (f->vjp(f->ud, x, y, gy, gx, W->msg, sizeof(W->msg)) != 0) return hosterror(W, f);
  return LG_OK;
}

int lgI_callbackward (lg_Work *W, lg_Value *call) {
  lg_CallRec *r = lgI_callrec(call);
  uint32_t i, n = call->n;
  double *x = W->x, *gx = W->x + n;
  int err;
  for (i = 0; i < n; i++) x[i] = lgI_argdata(call, i);
  err = lgI_hostvjp(W, r->f, x, r->y, r->y + r->f->nout, gx);
  if (err != LG_OK) return err;
  for (i = 0; i < n; i++) {
    if (!lgI_isconst(call, i)) call->in[i].v->adj += gx[i];
  }
  lgI_callabandon(call);  /* adjoints consumed: ready for the next backward */
  return LG_OK;
}
