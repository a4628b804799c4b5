/*
** optim.c: the C side of luagrad.optim (lua/luagrad/optim.lua holds the classes): one
** update of an optimizer over one parameter's contiguous buffers (core/optim.c's loops),
** and the Values of a parameter list packed into a float64 tensor and back, so that
** Values are updated by the same loops. Internal (lg._optim_*): optim.lua is their one
** user and checks everything a user gives; the checks here keep a wrong call a Lua error.
*/
#include "lua/lg_lua.h"
#include "core/lg_optim.h"

/* The tensor at arg, contiguous, of p's dtype and number of elements (p itself when p is
   NULL); with opt, nil gives NULL. */
static lg_TensorRec *buffer (lua_State *L, int arg, const char *fn, const lg_TensorRec *p,
                             int opt) {
  lg_Value *t;
  lg_TensorRec *r;
  if (opt && lua_isnil(L, arg)) return NULL;
  t = lgL_totensor(L, arg);
  if (t == NULL) lgL_argerror(L, fn, arg, "tensor");
  r = lgI_trec(t);
  if (!lgI_iscontig(&r->d)) lgL_argerror(L, fn, arg, "contiguous tensor");
  if (p != NULL && (r->d.dtype != p->d.dtype || lgI_tnumel(&r->d) != lgI_tnumel(&p->d)))
    lgL_argerror(L, fn, arg, "tensor of the parameter's dtype and size");
  return r;
}

/* the first element of a contiguous buffer, or NULL */
static void *first (lg_TensorRec *r) {
  if (r == NULL) return NULL;
  return (char *)r->data + (size_t)r->d.offset * lgI_elemsize(r->d.dtype);
}

static void written (lg_TensorRec *r) {
  if (r != NULL) (*r->version)++;
}

/* Inside lg.compile's recording, a change that a replay would not make */
static void unguard (lua_State *L) {
  if (lgL_getwork(L)->recording) lgL_unguarded(L);
}

/* lg._optim_sgd(p, g, buf|nil, first, lr, momentum, dampening, weight_decay, nesterov) */
static int optim_sgd (lua_State *L) {
  const char *fn = "_optim_sgd";
  lg_TensorRec *p = buffer(L, 1, fn, NULL, 0), *g = buffer(L, 2, fn, p, 0);
  lg_TensorRec *b = buffer(L, 3, fn, p, 1);
  lg_SgdHyper h;
  h.first = lua_toboolean(L, 4);
  h.lr = lgL_checknumber(L, 5, fn);
  h.momentum = lgL_checknumber(L, 6, fn);
  h.dampening = lgL_checknumber(L, 7, fn);
  h.weight_decay = lgL_checknumber(L, 8, fn);
  h.nesterov = lua_toboolean(L, 9);
  if (h.momentum != 0 && b == NULL) lgL_argerror(L, fn, 3, "tensor");
  unguard(L);
  lgI_sgd(p->d.dtype, lgI_tnumel(&p->d), first(p), first(g), first(b), &h);
  written(p);
  if (h.momentum != 0) written(b);
  return 0;
}

/* lg._optim_adam(p, g, m, v, vmax|nil, lr, beta1, beta2, eps, weight_decay, step,
   decoupled): amsgrad when vmax is given */
static int optim_adam (lua_State *L) {
  const char *fn = "_optim_adam";
  lg_TensorRec *p = buffer(L, 1, fn, NULL, 0), *g = buffer(L, 2, fn, p, 0);
  lg_TensorRec *m = buffer(L, 3, fn, p, 0), *v = buffer(L, 4, fn, p, 0);
  lg_TensorRec *vmax = buffer(L, 5, fn, p, 1);
  lg_AdamHyper h;
  h.lr = lgL_checknumber(L, 6, fn);
  h.beta1 = lgL_checknumber(L, 7, fn);
  h.beta2 = lgL_checknumber(L, 8, fn);
  h.eps = lgL_checknumber(L, 9, fn);
  h.weight_decay = lgL_checknumber(L, 10, fn);
  h.step = lgL_checknumber(L, 11, fn);
  h.decoupled = lua_toboolean(L, 12);
  h.amsgrad = vmax != NULL;
  unguard(L);
  lgI_adam(p->d.dtype, lgI_tnumel(&p->d), first(p), first(g), first(m), first(v),
           first(vmax), &h);
  written(p); written(m); written(v); written(vmax);
  return 0;
}

/* lg._optim_rmsprop(p, g, square_avg, grad_avg|nil, buf|nil, lr, alpha, eps, weight_decay,
   momentum): centered when grad_avg is given */
static int optim_rmsprop (lua_State *L) {
  const char *fn = "_optim_rmsprop";
  lg_TensorRec *p = buffer(L, 1, fn, NULL, 0), *g = buffer(L, 2, fn, p, 0);
  lg_TensorRec *sq = buffer(L, 3, fn, p, 0), *ga = buffer(L, 4, fn, p, 1);
  lg_TensorRec *b = buffer(L, 5, fn, p, 1);
  lg_RmspropHyper h;
  h.lr = lgL_checknumber(L, 6, fn);
  h.alpha = lgL_checknumber(L, 7, fn);
  h.eps = lgL_checknumber(L, 8, fn);
  h.weight_decay = lgL_checknumber(L, 9, fn);
  h.momentum = lgL_checknumber(L, 10, fn);
  h.centered = ga != NULL;
  if (h.momentum > 0 && b == NULL) lgL_argerror(L, fn, 5, "tensor");
  unguard(L);
  lgI_rmsprop(p->d.dtype, lgI_tnumel(&p->d), first(p), first(g), first(sq), first(ga),
              h.momentum > 0 ? first(b) : NULL, &h);
  written(p); written(sq); written(ga);
  if (h.momentum > 0) written(b);
  return 0;
}

/* The float64 buffer at arg for the n Values of an array */
static double *pack (lua_State *L, int arg, const char *fn, size_t n) {
  lg_TensorRec *r = buffer(L, arg, fn, NULL, 0);
  if (r->d.dtype != LGI_F64 || (size_t)lgI_tnumel(&r->d) != n)
    lgL_argerror(L, fn, arg, "float64 tensor of one element per Value");
  written(r);
  return (double *)first(r);
}

/* lg._optim_gather(values, data, grad|nil): each Value's data (and grad) into the float64
   tensors' elements, in the array's order */
static int optim_gather (lua_State *L) {
  const char *fn = "_optim_gather";
  size_t n, i;
  double *data, *grad = NULL;
  if (!lua_istable(L, 1)) lgL_argerror(L, fn, 1, "array of Values");
  n = (size_t)lua_rawlen(L, 1);
  data = pack(L, 2, fn, n);
  if (!lua_isnoneornil(L, 3)) grad = pack(L, 3, fn, n);
  for (i = 0; i < n; i++) {
    lg_Value *v;
    lua_rawgeti(L, 1, (int)i + 1);
    if ((v = lgL_tovalue(L, -1)) == NULL) lgL_argerror(L, fn, 1, "array of Values");
    data[i] = v->data;
    if (grad != NULL) grad[i] = v->grad;
    lua_pop(L, 1);
  }
  return 0;
}

/* lg._optim_scatter(values, data): the tensor's elements back into the Values' data */
static int optim_scatter (lua_State *L) {
  const char *fn = "_optim_scatter";
  size_t n, i;
  const double *data;
  if (!lua_istable(L, 1)) lgL_argerror(L, fn, 1, "array of Values");
  n = (size_t)lua_rawlen(L, 1);
  data = pack(L, 2, fn, n);
  unguard(L);
  for (i = 0; i < n; i++) {
    lg_Value *v;
    lua_rawgeti(L, 1, (int)i + 1);
    if ((v = lgL_tovalue(L, -1)) == NULL || v->kind != LGI_KLEAF)
      lgL_argerror(L, fn, 1, "array of leaf Values");
    v->data = data[i];
    lua_pop(L, 1);
  }
  return 0;
}

void lgL_openoptim (lua_State *L, int module) {
  static const luaL_Reg funcs[] = {
    {"_optim_sgd", optim_sgd}, {"_optim_adam", optim_adam}, {"_optim_rmsprop", optim_rmsprop},
    {"_optim_gather", optim_gather}, {"_optim_scatter", optim_scatter}, {NULL, NULL}
  };
  const luaL_Reg *l;
  for (l = funcs; l->name != NULL; l++) {
    lgL_pushupvalues(L);
    lua_pushcclosure(L, l->func, NUPVALUES);
    lua_setfield(L, module, l->name);
  }
}
