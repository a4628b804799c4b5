/*
** tensor.c: tensors as data. A tensor is one full userdata holding its node (a node of kind
** LGI_KTENSOR: the header of a Value, then its record, core/lg_tnode.h) and, when it owns
** them, its elements, 64-byte aligned in the same block: Lua's collector counts them and
** frees them with the node, with no finalizer. Here: creation (lg.tensor, zeros, ones,
** full, empty, eye, arange, linspace, the seeded generator's rand, randn, randint,
** randperm, the _like forms), fields, conversions (totable, item, get, detach, clone,
** contiguous, to) and printing. A tensor's .grad is kept in a weak-keyed table of the
** registry, as Values' labels are. Lua's numbering (1-based, negative from the end)
** becomes the kernels' (0-based) in lgL_tindex and lgL_tdim only.
*/
#include <math.h>
#include <string.h>

#include "lua/lg_lua.h"

#if LUA_VERSION_NUM == 501 && defined(__has_include)
#if __has_include("luajit.h")
#include "luajit.h"
#endif
#endif

#define UV_TMT lua_upvalueindex(NUPVALUES + 1)       /* the Tensor metatable */
#define UV_TMETHODS lua_upvalueindex(NUPVALUES + 2)  /* the method table (__index only) */
#define RNG_KEY "luagrad.rng"        /* the state's generator (an lg_Rng userdata) */
#define DEFAULT_SEED 0               /* a fresh state's generator, as lg.manual_seed(0) */

/* {==================================================================
** Checks, errors and numbering
** =================================================================== */

lg_Value *lgL_totensor (lua_State *L, int i) {
  return lgL_istensor(L, i) ? (lg_Value *)lua_touserdata(L, i) : NULL;
}

lg_Value *lgL_checktensor (lua_State *L, int arg, const char *fn) {
  lg_Value *t = lgL_totensor(L, arg);
  if (t == NULL) lgL_argerror(L, fn, arg, "tensor");
  return t;
}

/* "luagrad.<fn>: bad argument #<arg> (<what> expected, got <x>)": the binding's shape,
   naming the number that was wrong rather than its type */
static int numerror (lua_State *L, const char *fn, int arg, const char *what, double x) {
  char num[32];
  return luaL_error(L, "luagrad.%s: bad argument #%d (%s expected, got %s)", fn, arg, what,
                    lgI_fmtshortest(num, x, 0));
}

/* An integer-valued number at arg (a string is not one), as a double. */
static double checkint (lua_State *L, const char *fn, int arg) {
  double x = lgL_checknumber(L, arg, fn);
  if (x != floor(x) || isinf(x)) numerror(L, fn, arg, "integer", x);
  return x;
}

int64_t lgL_tindex (lua_State *L, const char *fn, int arg, int64_t n, int dim) {
  double i = checkint(L, fn, arg);
  if (i >= 1 && i <= (double)n) return (int64_t)i - 1;
  if (i < 0 && i >= -(double)n) return n + (int64_t)i;
  {
    char si[32], sn[32];
    return luaL_error(L, "luagrad: index %s out of range for dimension %d of size %s",
                      lgI_fmtshortest(si, i, 0), dim + 1, lgI_fmtshortest(sn, (double)n, 0));
  }
}

int lgL_tdim (lua_State *L, const char *fn, int arg, int ndim) {
  double d = checkint(L, fn, arg);
  if (d >= 1 && d <= ndim) return (int)d - 1;
  if (d < 0 && d >= -ndim) return ndim + (int)d;
  {
    char sd[32];
    return luaL_error(L, "luagrad: dimension %s out of range for a tensor of %d dimensions",
                      lgI_fmtshortest(sd, d, 0), ndim);
  }
}

const char *lgL_pushshape (lua_State *L, int ndim, const int64_t *size) {
  luaL_Buffer b;
  char num[32];
  int i;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '{');
  for (i = 0; i < ndim; i++) {
    if (i > 0) luaL_addstring(&b, ", ");
    luaL_addstring(&b, lgI_fmtshortest(num, (double)size[i], 0));
  }
  luaL_addchar(&b, '}');
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* }================================================================== */


/* {==================================================================
** New tensors
** =================================================================== */

lg_Value *lgL_newtensor (lua_State *L, const lg_TDesc *d) {
  size_t size;
  lg_Value *t;
  if (lgI_tensorsize(0, d, 1, &size) != LG_OK) lgL_memerror(L);
#ifdef LUAJIT_VERSION
  if (size > 0x7fffff00u) lgL_memerror(L);   /* LuaJIT's largest userdata (LJ_MAX_UDATA) */
#endif
  t = (lg_Value *)lgC_newuserdata(L, size, 0);   /* Lua's "not enough memory" if too big */
  luaL_getmetatable(L, TENSOR_MT);
  lua_setmetatable(L, -2);
  return lgI_inittensor(t, 0, d, 1);
}

typedef struct Opts {
  int dtype;
  int reqgrad;
} Opts;

/* The options table at i (none or nil: the defaults): dtype, requires_grad. */
static void checkopts (lua_State *L, const char *fn, int i, int dtype, Opts *o) {
  static const char *const names[] = {"dtype", "requires_grad", NULL};
  o->dtype = dtype;
  o->reqgrad = 0;
  if (lua_isnoneornil(L, i)) return;
  if (lua_type(L, i) != LUA_TTABLE) lgL_argerror(L, fn, i, "table");
  lgL_checkoptions(L, i, fn, names);
  o->reqgrad = lgL_optboolean(L, i, "requires_grad", fn);
  lua_getfield(L, i, "dtype");
  if (!lua_isnil(L, -1)) {
    const char *s;
    if (lua_type(L, -1) != LUA_TSTRING) lgL_opterror(L, fn, "dtype", "string", 0, -1);
    s = lua_tostring(L, -1);
    if (strcmp(s, "float64") == 0) o->dtype = LGI_F64;
    else if (strcmp(s, "float32") == 0) o->dtype = LGI_F32;
    else luaL_error(L, "luagrad.%s: bad option 'dtype' ('float64' or 'float32' expected, "
                       "got '%s')", fn, s);
  }
  lua_pop(L, 1);
}

/* The size at stack index i, argument arg (index: its place in an array, or 0); -1 too
   where minus1 (a size to infer or keep). */
static int64_t checksizeof (lua_State *L, const char *fn, int arg, lua_Integer index, int i,
                            int minus1) {
  char num[32];
  double x;
  if (lua_type(L, i) != LUA_TNUMBER) lgL_argerrorat(L, fn, arg, "size", index, i);
  x = (double)lua_tonumber(L, i);
  if (x == floor(x) && x >= 0) return (x >= 0x1p62) ? INT64_MAX / 2 : (int64_t)x;
  if (minus1 && x == -1) return -1;
  lgI_fmtshortest(num, x, 0);
  if (index > 0)
    luaL_error(L, "luagrad.%s: bad argument #%d (non-negative integer size expected at "
                  "index %d, got %s)", fn, arg, (int)index, num);
  return luaL_error(L, "luagrad.%s: bad argument #%d (non-negative integer size expected, "
                       "got %s)", fn, arg, num);
}

static int64_t checksize (lua_State *L, const char *fn, int arg, lua_Integer index, int i) {
  return checksizeof(L, fn, arg, index, i, 0);
}

static void toomany (lua_State *L, const char *fn, int ndim) {
  luaL_error(L, "luagrad.%s: too many dimensions (%d; at most %d)", fn, ndim, LGI_MAXDIM);
}

int lgL_checkshape (lua_State *L, const char *fn, int arg, int *ndim, int64_t *size,
                    int minus1) {
  int n = 0;
  if (lua_type(L, arg) == LUA_TTABLE) {
    lua_Integer i, len = (lua_Integer)lua_rawlen(L, arg);
    if (len > LGI_MAXDIM) toomany(L, fn, (int)len);
    for (i = 1; i <= len; i++) {
      lua_rawgeti(L, arg, (int)i);
      size[n++] = checksizeof(L, fn, arg, i, -1, minus1);
      lua_pop(L, 1);
    }
    if (n == 0) luaL_error(L, "luagrad.%s: bad argument #%d (a shape of at least one size "
                              "expected, got an empty table)", fn, arg);
    *ndim = n;
    return arg + 1;
  }
  while (lua_type(L, arg + n) == LUA_TNUMBER) {
    if (n == LGI_MAXDIM) toomany(L, fn, n + 1);
    size[n] = checksizeof(L, fn, arg + n, 0, arg + n, minus1);
    n++;
  }
  if (n == 0) lgL_argerror(L, fn, arg, "number or table");
  *ndim = n;
  return arg + n;
}

/* A contiguous descriptor of the sizes, or the error of a shape too large. */
static void initdesc (lua_State *L, const char *fn, lg_TDesc *d, int dtype, int ndim,
                      const int64_t *size) {
  if (lgI_tinit(d, dtype, ndim, size) != LG_OK)
    luaL_error(L, "luagrad.%s: shape %s has too many elements", fn, lgL_pushshape(L, ndim, size));
}

/* Pushes a new tensor of the shape at arg and the options after it. */
static lg_TensorRec *shaped (lua_State *L, const char *fn, int arg) {
  int ndim;
  int64_t size[LGI_MAXDIM];
  lg_TDesc d;
  Opts o;
  lg_TensorRec *r;
  int next = lgL_checkshape(L, fn, arg, &ndim, size, 0);
  if (!lua_isnoneornil(L, next) && lua_type(L, next) != LUA_TTABLE)
    lgL_argerror(L, fn, next, "number or table");
  checkopts(L, fn, next, LGI_F64, &o);
  initdesc(L, fn, &d, o.dtype, ndim, size);
  r = lgI_trec(lgL_newtensor(L, &d));
  if (o.reqgrad) lgL_tsetreqgrad(L, -1, 1);
  return r;
}

static void fill (lg_TensorRec *r, double x) {
  int64_t i, n = lgI_tnumel(&r->d);
  if (x == 0 && !signbit(x)) memset(r->data, 0, (size_t)n * lgI_elemsize(r->d.dtype));
  else for (i = 0; i < n; i++) lgI_tset(r, i, x);
}

/* lg.zeros(...), lg.ones(...), lg.empty(...): a shape, then options */
static int mod_zeros (lua_State *L) { fill(shaped(L, "zeros", 1), 0.0); return 1; }
static int mod_ones (lua_State *L) { fill(shaped(L, "ones", 1), 1.0); return 1; }
static int mod_empty (lua_State *L) { shaped(L, "empty", 1); return 1; }

/* lg.full(shape, x [, opts]) */
static int mod_full (lua_State *L) {
  int ndim;
  int64_t size[LGI_MAXDIM];
  lg_TDesc d;
  Opts o;
  lg_TensorRec *r;
  double x;
  if (lua_type(L, 1) != LUA_TTABLE && lua_type(L, 1) != LUA_TNUMBER)
    lgL_argerror(L, "full", 1, "table");
  if (lua_type(L, 1) == LUA_TNUMBER) {   /* one size: a 1-D tensor */
    ndim = 1;
    size[0] = checksize(L, "full", 1, 0, 1);
  }
  else lgL_checkshape(L, "full", 1, &ndim, size, 0);
  x = lgL_checknumber(L, 2, "full");
  checkopts(L, "full", 3, LGI_F64, &o);
  initdesc(L, "full", &d, o.dtype, ndim, size);
  r = lgI_trec(lgL_newtensor(L, &d));
  if (o.reqgrad) lgL_tsetreqgrad(L, -1, 1);
  fill(r, x);
  return 1;
}

/* Pushes a new 1-D or 2-D tensor of the options at opts. */
static lg_TensorRec *newsized (lua_State *L, const char *fn, int ndim, const int64_t *size,
                               int opts, int dtype) {
  lg_TDesc d;
  Opts o;
  lg_TensorRec *r;
  checkopts(L, fn, opts, dtype, &o);
  initdesc(L, fn, &d, o.dtype, ndim, size);
  r = lgI_trec(lgL_newtensor(L, &d));
  if (o.reqgrad) lgL_tsetreqgrad(L, -1, 1);
  return r;
}

/* lg.eye(n [, m] [, opts]) */
static int mod_eye (lua_State *L) {
  int64_t size[2], i;
  int opts = 2;
  lg_TensorRec *r;
  size[0] = size[1] = checksize(L, "eye", 1, 0, 1);
  if (lua_type(L, 2) == LUA_TNUMBER) size[1] = checksize(L, "eye", 2, 0, opts++);
  r = newsized(L, "eye", 2, size, opts, LGI_F64);
  fill(r, 0.0);
  for (i = 0; i < size[0] && i < size[1]; i++) lgI_tset(r, i * size[1] + i, 1.0);
  return 1;
}

/* lg.arange([start,] stop [, step] [, opts]): start, start + step, ... short of stop */
static int mod_arange (lua_State *L) {
  double a[3] = {0.0, 0.0, 1.0}, count;
  int n = 0, i;
  int64_t size;
  lg_TensorRec *r;
  while (n < 3 && lua_type(L, n + 1) == LUA_TNUMBER) n++;
  if (n == 0) lgL_argerror(L, "arange", 1, "number");
  for (i = 0; i < n; i++) {
    double x = (double)lua_tonumber(L, i + 1);
    if (isnan(x) || isinf(x)) numerror(L, "arange", i + 1, "finite number", x);
    a[(n == 1) ? 1 : i] = x;
  }
  if (a[2] == 0) numerror(L, "arange", 3, "nonzero step", a[2]);
  count = ceil((a[1] - a[0]) / a[2]);
  if (count < 0) {
    char s0[32], s1[32], s2[32];
    luaL_error(L, "luagrad.arange: step %s does not lead from %s to %s",
               lgI_fmtshortest(s2, a[2], 0), lgI_fmtshortest(s0, a[0], 0),
               lgI_fmtshortest(s1, a[1], 0));
  }
  size = (count >= 0x1p62) ? INT64_MAX / 2 : (int64_t)count;
  r = newsized(L, "arange", 1, &size, n + 1, LGI_F64);
  for (size = 0; size < r->d.size[0]; size++) lgI_tset(r, size, a[0] + (double)size * a[2]);
  return 1;
}

/* lg.linspace(a, b, n [, opts]): n points from a to b, both included */
static int mod_linspace (lua_State *L) {
  double a = lgL_checknumber(L, 1, "linspace"), b = lgL_checknumber(L, 2, "linspace"), step;
  int64_t n = checksize(L, "linspace", 3, 0, 3), i;
  lg_TensorRec *r = newsized(L, "linspace", 1, &n, 4, LGI_F64);
  step = (n > 1) ? (b - a) / (double)(n - 1) : 0.0;
  if (n == 1) { lgI_tset(r, 0, a); return 1; }
  for (i = 0; i < n; i++)   /* from both ends, as PyTorch: b exactly at the last */
    lgI_tset(r, i, (i < n / 2) ? a + step * (double)i : b - step * (double)(n - 1 - i));
  return 1;
}

/* }================================================================== */


/* {==================================================================
** The seeded generator (core/random.c), one per lua_State
** =================================================================== */

static lg_Rng *getrng (lua_State *L) {
  lg_Rng *g;
  lua_getfield(L, LUA_REGISTRYINDEX, RNG_KEY);
  g = (lg_Rng *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (g == NULL) {
    g = (lg_Rng *)lgC_newuserdata(L, sizeof(lg_Rng), 0);
    lgI_rngseed(g, DEFAULT_SEED);
    lua_setfield(L, LUA_REGISTRYINDEX, RNG_KEY);   /* the registry keeps it alive */
  }
  return g;
}

/* lg.manual_seed(n): n an integer; negative ones as their two's complement */
static int mod_manual_seed (lua_State *L) {
  uint64_t seed;
  lg_Rng *g;
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, 1)) seed = (uint64_t)lua_tointeger(L, 1);
  else
#endif
  {
    double x = checkint(L, "manual_seed", 1);
    if (x < -0x1p63 || x >= 0x1p64) numerror(L, "manual_seed", 1, "64-bit integer", x);
    seed = (x < 0) ? (uint64_t)(int64_t)x : (uint64_t)x;
  }
  g = getrng(L);
  lgI_rngseed(g, seed);
  return 0;
}

static int randfill (lua_State *L, const char *fn, int kind) {
  lg_Rng *g = getrng(L);
  lg_TensorRec *r = shaped(L, fn, 1);
  lgI_rngfill(g, kind, r->d.dtype, r->data, lgI_tnumel(&r->d));
  return 1;
}

/* lg.rand(...), lg.randn(...): uniform in [0, 1), standard normal */
static int mod_rand (lua_State *L) { return randfill(L, "rand", LGI_RUNIFORM); }
static int mod_randn (lua_State *L) { return randfill(L, "randn", LGI_RNORMAL); }

/* lg.randint(lo, hi, shape [, opts]): integers in [lo, hi], as floats */
static int mod_randint (lua_State *L) {
  double lo = checkint(L, "randint", 1), hi = checkint(L, "randint", 2);
  int ndim;
  int64_t size[LGI_MAXDIM], i, n;
  lg_TDesc d;
  Opts o;
  lg_TensorRec *r;
  lg_Rng *g;
  if (fabs(lo) > 0x1p53) numerror(L, "randint", 1, "integer within 2^53", lo);
  if (fabs(hi) > 0x1p53) numerror(L, "randint", 2, "integer within 2^53", hi);
  if (lo > hi) {
    char s0[32], s1[32];
    luaL_error(L, "luagrad.randint: empty range (lo %s is above hi %s)",
               lgI_fmtshortest(s0, lo, 0), lgI_fmtshortest(s1, hi, 0));
  }
  if (lua_type(L, 3) == LUA_TNUMBER) {
    ndim = 1;
    size[0] = checksize(L, "randint", 3, 0, 3);
  }
  else if (lua_type(L, 3) == LUA_TTABLE) lgL_checkshape(L, "randint", 3, &ndim, size, 0);
  else return lgL_argerror(L, "randint", 3, "table");
  checkopts(L, "randint", 4, LGI_F64, &o);
  initdesc(L, "randint", &d, o.dtype, ndim, size);
  g = getrng(L);
  r = lgI_trec(lgL_newtensor(L, &d));
  if (o.reqgrad) lgL_tsetreqgrad(L, -1, 1);
  n = lgI_tnumel(&r->d);
  for (i = 0; i < n; i++) lgI_tset(r, i, (double)lgI_rngint(g, (int64_t)lo, (int64_t)hi));
  return 1;
}

/* lg.randperm(n [, opts]): 1..n shuffled as lgI_rngperm does (Fisher-Yates), in place */
static int mod_randperm (lua_State *L) {
  int64_t n = checksize(L, "randperm", 1, 0, 1), i;
  lg_Rng *g = getrng(L);
  lg_TensorRec *r = newsized(L, "randperm", 1, &n, 2, LGI_F64);
  for (i = 0; i < n; i++) lgI_tset(r, i, (double)(i + 1));
  for (i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)lgI_rngbelow(g, (uint64_t)i + 1);
    double t = lgI_tget(r, i);
    lgI_tset(r, i, lgI_tget(r, j));
    lgI_tset(r, j, t);
  }
  return 1;
}

/* }================================================================== */


/* {==================================================================
** Copies and conversions
** =================================================================== */

/* Pushes a new contiguous leaf with src's elements, of dtype. */
static lg_TensorRec *copyof (lua_State *L, const lg_TensorRec *src, int dtype) {
  lg_TDesc d;
  lg_TensorRec *r = NULL;
  int err = lgI_tinit(&d, dtype, src->d.ndim, src->d.size);
  if (err == LG_OK) {
    r = lgI_trec(lgL_newtensor(L, &d));
    err = lgI_copy(&r->d, r->data, &src->d, src->data);
  }
  if (err != LG_OK) luaL_error(L, "luagrad: internal error %d copying a tensor", err);
  return r;
}

/* The shape of nested arrays at i: the lengths of the first entries, level by level. */
static int nestedshape (lua_State *L, int i, int64_t *size) {
  int n = 0, top = lua_gettop(L);
  lua_pushvalue(L, i);
  while (lua_type(L, -1) == LUA_TTABLE) {
    size_t len = lua_rawlen(L, -1);
    if (n == LGI_MAXDIM) toomany(L, "tensor", n + 1);
    size[n++] = (int64_t)len;
    if (len == 0) break;
    lua_rawgeti(L, -1, 1);
  }
  lua_settop(L, top);
  return n;
}

/* Pushes " 2" for row {2}, " {2, 1}" deeper: where in the nested arrays */
static const char *pushpath (lua_State *L, const int64_t *path, int n) {
  if (n == 1) lua_pushfstring(L, "%d", (int)path[0] + 1);
  else {
    int64_t p[LGI_MAXDIM];
    int i;
    for (i = 0; i < n; i++) p[i] = path[i] + 1;
    lgL_pushshape(L, n, p);
  }
  return lua_tostring(L, -1);
}

/* Copies the nested arrays at the top (level `level` of the shape) into r from *pos. */
static void fillnested (lua_State *L, lg_TensorRec *r, int level, int64_t *path,
                        int64_t *pos) {
  int64_t i, n = r->d.size[level];
  luaL_checkstack(L, 4, "tensor");
  for (i = 0; i < n; i++) {
    path[level] = i;
    lua_rawgeti(L, -1, (int)(i + 1));
    if (level + 1 == r->d.ndim) {
      if (lua_type(L, -1) != LUA_TNUMBER) {
        const char *type = lgL_typename(L, -1);
        luaL_error(L, "luagrad.tensor: bad argument #1 (number expected at index %s, got %s)",
                   pushpath(L, path, level + 1), type);
      }
      lgI_tset(r, (*pos)++, (double)lua_tonumber(L, -1));
    }
    else {
      int64_t want = r->d.size[level + 1];
      if (lua_type(L, -1) != LUA_TTABLE) {
        const char *type = lgL_typename(L, -1);
        luaL_error(L, "luagrad.tensor: bad argument #1 (ragged nested table: row %s is a %s, "
                      "expected %d entries)", pushpath(L, path, level + 1), type, (int)want);
      }
      if ((int64_t)lua_rawlen(L, -1) != want) {
        int len = (int)lua_rawlen(L, -1);
        luaL_error(L, "luagrad.tensor: bad argument #1 (ragged nested table: row %s has %d "
                      "entries, expected %d)", pushpath(L, path, level + 1), len, (int)want);
      }
      fillnested(L, r, level + 1, path, pos);
    }
    lua_pop(L, 1);
  }
}

/* lg.tensor(data [, opts]): nested arrays of numbers, or a tensor (a copy, no history) */
static int mod_tensor (lua_State *L) {
  lg_Value *src = lgL_totensor(L, 1);
  lg_TensorRec *r;
  Opts o;
  if (src == NULL && lua_type(L, 1) != LUA_TTABLE) lgL_argerror(L, "tensor", 1, "table");
  checkopts(L, "tensor", 2, src ? lgI_trec(src)->d.dtype : LGI_F64, &o);
  lua_settop(L, 2);
  if (src != NULL) r = copyof(L, lgI_trec(src), o.dtype);
  else {
    int64_t size[LGI_MAXDIM], path[LGI_MAXDIM], pos = 0;
    int ndim = nestedshape(L, 1, size);
    lg_TDesc d;
    initdesc(L, "tensor", &d, o.dtype, ndim, size);
    r = lgI_trec(lgL_newtensor(L, &d));
    lua_pushvalue(L, 1);
    if (lgI_tnumel(&d) > 0) fillnested(L, r, 0, path, &pos);
    lua_pop(L, 1);
  }
  if (o.reqgrad) lgL_tsetreqgrad(L, -1, 1);
  return 1;
}

/* lg.zeros_like(t [, opts]) and the others: t's shape and dtype unless opts says */
static int like (lua_State *L, const char *fn, int what) {
  const lg_TensorRec *src = lgI_trec(lgL_checktensor(L, 1, fn));
  lg_TensorRec *r = newsized(L, fn, src->d.ndim, src->d.size, 2, src->d.dtype);
  if (what == 0) fill(r, 0.0);
  else if (what == 1) fill(r, 1.0);
  else lgI_rngfill(getrng(L), what == 2 ? LGI_RUNIFORM : LGI_RNORMAL, r->d.dtype, r->data,
                   lgI_tnumel(&r->d));
  return 1;
}

static int mod_zeros_like (lua_State *L) { return like(L, "zeros_like", 0); }
static int mod_ones_like (lua_State *L) { return like(L, "ones_like", 1); }
static int mod_rand_like (lua_State *L) { return like(L, "rand_like", 2); }
static int mod_randn_like (lua_State *L) { return like(L, "randn_like", 3); }

/* t:detach() -> a new leaf with t's elements (a copy: t's storage lives in t's node, and
   sharing it would keep t's whole graph alive) */
static int t_detach (lua_State *L) {
  lg_TensorRec *r;
  if (lgL_tovalue(L, 1)) {   /* lg.detach(v) of a Value: its own method */
    lua_getfield(L, 1, "detach");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
  }
  r = lgI_trec(lgL_checktensor(L, 1, "detach"));
  copyof(L, r, r->d.dtype);
  return 1;
}

/* The element offset of index idx (0-based, one per dimension) */
static int64_t elemat (const lg_TensorRec *r, const int64_t *idx) {
  int64_t e = r->d.offset;
  int k;
  for (k = 0; k < r->d.ndim; k++) e += idx[k] * r->d.stride[k];
  return e;
}

/* Pushes the nested arrays of dimension level on, from element offset e. */
static void pushnested (lua_State *L, const lg_TensorRec *r, int level, int64_t e) {
  int64_t i, n = r->d.size[level];
  luaL_checkstack(L, 3, "totable");
  lua_createtable(L, n < 1 << 24 ? (int)n : 0, 0);
  for (i = 0; i < n; i++) {
    int64_t at = e + i * r->d.stride[level];
    if (level + 1 == r->d.ndim) lua_pushnumber(L, (lua_Number)lgI_tget(r, at));
    else pushnested(L, r, level + 1, at);
    lua_rawseti(L, -2, (int)(i + 1));
  }
}

/* Inside lg.compile's recording, numbers read out of a tensor are seen by Lua, which no
   replay would check: the recording serves only the call that made it. */
static void readout (lua_State *L) {
  if (lgL_getwork(L)->recording) lgL_unguarded(L);
}

/* t:totable() -> nested arrays of numbers */
static int t_totable (lua_State *L) {
  const lg_TensorRec *r = lgI_trec(lgL_checktensor(L, 1, "totable"));
  readout(L);
  pushnested(L, r, 0, r->d.offset);
  return 1;
}

/* t:item() -> the number of a one-element tensor */
static int t_item (lua_State *L) {
  const lg_TensorRec *r = lgI_trec(lgL_checktensor(L, 1, "item"));
  readout(L);
  int64_t idx[LGI_MAXDIM] = {0}, n = lgI_tnumel(&r->d);
  if (n != 1) {
    char sn[32];
    return luaL_error(L, "luagrad.item: a tensor of %s elements has no single number "
                         "(exactly one element expected)", lgI_fmtshortest(sn, (double)n, 0));
  }
  lua_pushnumber(L, (lua_Number)lgI_tget(r, elemat(r, idx)));
  return 1;
}

/* t:get(i, j, ...) -> the number at those indices (one per dimension) */
static int t_get (lua_State *L) {
  const lg_TensorRec *r = lgI_trec(lgL_checktensor(L, 1, "get"));
  readout(L);
  int64_t idx[LGI_MAXDIM];
  int k, n = lua_gettop(L) - 1;
  if (n != r->d.ndim)
    return luaL_error(L, "luagrad.get: %d indices expected (one per dimension), got %d",
                      r->d.ndim, n);
  for (k = 0; k < n; k++) idx[k] = lgL_tindex(L, "get", k + 2, r->d.size[k], k);
  lua_pushnumber(L, (lua_Number)lgI_tget(r, elemat(r, idx)));
  return 1;
}

/* }================================================================== */


/* {==================================================================
** Fields
** =================================================================== */

static void pushsizes (lua_State *L, const lg_TensorRec *r) {
  int i;
  lua_createtable(L, r->d.ndim, 0);
  for (i = 0; i < r->d.ndim; i++) {
    lua_pushinteger(L, (lua_Integer)r->d.size[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* t:size([d]) -> the sizes, or one */
static int t_size (lua_State *L) {
  const lg_TensorRec *r = lgI_trec(lgL_checktensor(L, 1, "size"));
  if (lua_isnoneornil(L, 2)) pushsizes(L, r);
  else lua_pushinteger(L, (lua_Integer)r->d.size[lgL_tdim(L, "size", 2, r->d.ndim)]);
  return 1;
}

static int t_dim (lua_State *L) {
  lua_pushinteger(L, lgI_trec(lgL_checktensor(L, 1, "dim"))->d.ndim);
  return 1;
}

static int t_numel (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lgI_tnumel(&lgI_trec(lgL_checktensor(L, 1, "numel"))->d));
  return 1;
}

static int t_len (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lgI_trec(lgL_checktensor(L, 1, "__len"))->d.size[0]);
  return 1;
}

static void setreqgrad (lua_State *L, lg_Value *t, int flag, const char *fn) {
  lg_TensorRec *r = lgI_trec(t);
  if (!(r->tflags & LGI_TLEAF))
    luaL_error(L, "luagrad.%s: only a leaf's requires_grad can be set (detach() it first)",
               fn);
  lgL_tsetreqgrad(L, 1, flag);
}

/* The registry's table of node -> tensor (weak values), for the tensors whose .grad a
   backward may set: leaves that require grad, and retain_grad intermediates. */
void lgL_tregister (lua_State *L, int i) {
  i = lua_absindex(L, i);
  lgL_weaktable(L, TNODES_KEY, "v");
  lua_pushlightuserdata(L, lua_touserdata(L, i));
  lua_pushvalue(L, i);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

void lgL_tsetreqgrad (lua_State *L, int i, int flag) {
  lg_TensorRec *r = lgI_trec((lg_Value *)lua_touserdata(L, i));
  if (flag) {
    lgL_tregister(L, i);   /* first: the flag is set only once the table holds it */
    r->tflags |= LGI_TREQGRAD;
  }
  else r->tflags &= (uint8_t)~LGI_TREQGRAD;
}

void lgL_tcleargrad (lua_State *L, int i) {
  lg_Value *t = (lg_Value *)lua_touserdata(L, i);
  i = lua_absindex(L, i);
  lgL_weaktable(L, TGRADS_KEY, "k");
  lua_pushvalue(L, i);
  lua_pushnil(L);
  lua_rawset(L, -3);   /* removing a key never allocates */
  lua_pop(L, 1);
  lgI_trec(t)->tflags &= (uint8_t)~LGI_THASGRAD;
}

/* t:retain_grad(): an intermediate that requires grad keeps its .grad (a leaf does) */
static int t_retain_grad (lua_State *L) {
  lg_Value *t = lgL_checktensor(L, 1, "retain_grad");
  lg_TensorRec *r = lgI_trec(t);
  if (!(r->tflags & LGI_TREQGRAD))
    luaL_error(L, "luagrad.retain_grad: the tensor does not require grad");
  if (!(r->tflags & LGI_TLEAF)) {
    lgL_tregister(L, 1);
    r->tflags |= LGI_TRETAIN;
  }
  lua_settop(L, 1);
  return 1;
}

/* t:requires_grad_([flag]) -> t */
static int t_requires_grad_ (lua_State *L) {
  lg_Value *t = lgL_checktensor(L, 1, "requires_grad_");
  int flag = 1;
  if (!lua_isnoneornil(L, 2)) {
    if (!lua_isboolean(L, 2)) lgL_argerror(L, "requires_grad_", 2, "boolean");
    flag = lua_toboolean(L, 2);
  }
  setreqgrad(L, t, flag, "requires_grad_");
  lua_settop(L, 1);
  return 1;
}

static const char *dtypename (int dtype) { return dtype == LGI_F32 ? "float32" : "float64"; }

/* t.shape, t.dtype, t.requires_grad, t.grad, t.is_leaf, t.op, then the methods */
static int tensor_index (lua_State *L) {
  lg_Value *t = lgL_checktensor(L, 1, "__index");
  const lg_TensorRec *r = lgI_trec(t);
  const char *k;
  if (lua_type(L, 2) != LUA_TSTRING)
    return luaL_error(L, "luagrad: cannot index a tensor with a %s (t[i] takes a number; "
                         "t:get(i, ...) reads an element)",
                      lgL_typename(L, 2));
  k = lua_tostring(L, 2);
  if (strcmp(k, "shape") == 0) pushsizes(L, r);
  else if (strcmp(k, "dtype") == 0) lua_pushstring(L, dtypename(r->d.dtype));
  else if (strcmp(k, "requires_grad") == 0) lua_pushboolean(L, r->tflags & LGI_TREQGRAD);
  else if (strcmp(k, "is_leaf") == 0) lua_pushboolean(L, r->tflags & LGI_TLEAF);
  else if (strcmp(k, "op") == 0) lua_pushstring(L, lgI_opname(t));
  else if (strcmp(k, "grad") == 0) {
    if (r->tflags & LGI_THASGRAD) {
      lgL_weaktable(L, TGRADS_KEY, "k");
      lua_pushvalue(L, 1);
      lua_rawget(L, -2);
    }
    else lua_pushnil(L);
  }
  else {
    lua_settop(L, 2);
    lua_rawget(L, UV_TMETHODS);
    if (lua_isnil(L, -1)) return luaL_error(L, "luagrad: tensor has no field '%s'", k);
  }
  return 1;
}

/* t.grad = g (nil, or a tensor of t's shape and dtype), t.requires_grad = b (leaves) */
static int tensor_newindex (lua_State *L) {
  lg_Value *t = lgL_checktensor(L, 1, "__newindex");
  lg_TensorRec *r = lgI_trec(t);
  const char *k = (lua_type(L, 2) == LUA_TSTRING) ? lua_tostring(L, 2) : NULL;
  if (k != NULL && strcmp(k, "grad") == 0) {
    lg_Value *g = lgL_totensor(L, 3);
    if (g == NULL && !lua_isnil(L, 3))
      luaL_error(L, "luagrad.grad: bad value (tensor or nil expected, got %s)",
                 lgL_typename(L, 3));
    if (g != NULL) {
      const lg_TensorRec *gr = lgI_trec(g);
      if (gr->d.ndim != r->d.ndim ||
          memcmp(gr->d.size, r->d.size, (size_t)r->d.ndim * sizeof(int64_t)) != 0)
        luaL_error(L, "luagrad.grad: bad value (a gradient of shape %s expected, got %s)",
                   lgL_pushshape(L, r->d.ndim, r->d.size),
                   lgL_pushshape(L, gr->d.ndim, gr->d.size));
      if (gr->d.dtype != r->d.dtype)
        luaL_error(L, "luagrad.grad: bad value (a %s gradient expected, got %s)",
                   dtypename(r->d.dtype), dtypename(gr->d.dtype));
    }
    lgL_weaktable(L, TGRADS_KEY, "k");
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);   /* the flag changes only once the table holds it */
    if (g != NULL) r->tflags |= LGI_THASGRAD;
    else r->tflags &= (uint8_t)~LGI_THASGRAD;
  }
  else if (k != NULL && strcmp(k, "requires_grad") == 0) {
    if (!lua_isboolean(L, 3))
      luaL_error(L, "luagrad.requires_grad: bad value (boolean expected, got %s)",
                 lgL_typename(L, 3));
    setreqgrad(L, t, lua_toboolean(L, 3), "requires_grad");
  }
  else if (k != NULL)
    luaL_error(L, "luagrad: cannot assign field '%s' of a tensor (only grad, requires_grad)",
               k);
  else
    luaL_error(L, "luagrad: cannot assign a %s key of a tensor (only grad, requires_grad)",
               lgL_typename(L, 2));
  return 0;
}

static int tensor_lt (lua_State *L) {
  return luaL_error(L, "luagrad: '<' is not defined on tensors (t:lt(x) compares "
                       "elementwise)");
}

static int tensor_le (lua_State *L) {
  return luaL_error(L, "luagrad: '<=' is not defined on tensors (t:le(x) compares "
                       "elementwise)");
}

/* }================================================================== */


/* {==================================================================
** Printing: PyTorch's layout (docs/tensors.md)
** =================================================================== */

#define EDGE 3           /* elements shown at each end of a summarized dimension */
#define SUMMARIZE 1000   /* more elements than this are summarized */
#define INDENT 7         /* strlen("Tensor(") */

typedef struct Printer {
  const lg_TensorRec *r;
  luaL_Buffer *b;
  int summarize;
  size_t width;   /* of the widest number shown */
} Printer;

/* The i-th position shown of a dimension of n (-1: the "..."), and how many there are. */
static int64_t shown (const Printer *P, int64_t n, int64_t i) {
  if (!P->summarize || n <= 2 * EDGE) return i;
  return (i < EDGE) ? i : (i == EDGE) ? -1 : n - (2 * EDGE + 1 - i);
}

static int64_t nshown (const Printer *P, int64_t n) {
  return (!P->summarize || n <= 2 * EDGE) ? n : 2 * EDGE + 1;
}

static const char *fmtat (const Printer *P, int64_t e, char *buf) {
  return lgI_fmtshortest(buf, lgI_tget(P->r, e), P->r->d.dtype == LGI_F32);
}

/* One walk for both passes: measuring (b NULL) and writing. */
static void walk (Printer *P, int level, int64_t e) {
  const lg_TensorRec *r = P->r;
  int64_t i, n = r->d.size[level], m = nshown(P, n);
  int last = (level + 1 == r->d.ndim);
  char buf[32];
  if (P->b) luaL_addchar(P->b, '[');
  for (i = 0; i < m; i++) {
    int64_t j = shown(P, n, i);
    if (P->b && i > 0) {
      luaL_addchar(P->b, ',');
      if (last) luaL_addchar(P->b, ' ');
      else {
        int k;
        for (k = level + 1; k < r->d.ndim; k++) luaL_addchar(P->b, '\n');
        for (k = 0; k < INDENT + level + 1; k++) luaL_addchar(P->b, ' ');
      }
    }
    if (j < 0) {
      if (P->b) {
        size_t k;
        if (last) for (k = 3; k < P->width; k++) luaL_addchar(P->b, ' ');
        luaL_addstring(P->b, "...");
      }
    }
    else if (!last) walk(P, level + 1, e + j * r->d.stride[level]);
    else {
      const char *s = fmtat(P, e + j * r->d.stride[level], buf);
      size_t len = strlen(s), k;
      if (P->b == NULL) { if (len > P->width) P->width = len; }
      else {
        for (k = len; k < P->width; k++) luaL_addchar(P->b, ' ');
        luaL_addlstring(P->b, s, len);
      }
    }
  }
  if (P->b) luaL_addchar(P->b, ']');
}

/* tostring(t) -> "Tensor([[1, 2],\n        [3, 4]], shape={2, 2})" */
static int tensor_tostring (lua_State *L) {
  const lg_TensorRec *r = lgI_trec(lgL_checktensor(L, 1, "__tostring"));
  readout(L);
  luaL_Buffer b;
  Printer P;
  int64_t n = lgI_tnumel(&r->d);
  int shape;
  lgL_pushshape(L, r->d.ndim, r->d.size);   /* below the buffer: luaL_Buffer owns the top */
  shape = lua_gettop(L);
  P.r = r;
  P.b = NULL;
  P.summarize = n > SUMMARIZE;
  P.width = P.summarize ? 3 : 0;   /* numbers are right-aligned to the widest, or "..." */
  if (n > 0) walk(&P, 0, r->d.offset);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "Tensor(");
  if (n == 0) luaL_addstring(&b, "[]");
  else {
    P.b = &b;
    walk(&P, 0, r->d.offset);
  }
  luaL_addstring(&b, ", shape=");
  lua_pushvalue(L, shape);
  luaL_addvalue(&b);
  if (r->d.dtype != LGI_F64) luaL_addstring(&b, ", dtype=float32");
  if (r->tflags & LGI_TREQGRAD) luaL_addstring(&b, ", requires_grad=true");
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return 1;
}

/* a .. b where either is a tensor: through tostring */
static int tensor_concat (lua_State *L) {
  int i;
  for (i = 1; i <= 2; i++) {
    int t = lua_type(L, i);
    if (t == LUA_TUSERDATA && luaL_callmeta(L, i, "__tostring") &&
        lua_type(L, -1) == LUA_TSTRING)
      lua_replace(L, i);
    else if (t == LUA_TNUMBER || t == LUA_TSTRING) {
      lua_pushvalue(L, i);
      lua_tostring(L, -1);
      lua_replace(L, i);
    }
    else
      return luaL_error(L, "luagrad: bad operand #%d to '..' (string or number expected, "
                           "got %s)", i, lgL_typename(L, i));
  }
  lua_concat(L, 2);
  return 1;
}

/* }================================================================== */


static const luaL_Reg tensor_meta[] = {
  {"__newindex", tensor_newindex},
  {"__tostring", tensor_tostring},
  {"__len", t_len},
  {"__concat", tensor_concat},
  {"__lt", tensor_lt},
  {"__le", tensor_le},
  {NULL, NULL}
};

/* methods, each also a module function taking the tensor first */
static const luaL_Reg tensor_methods[] = {
  {"size", t_size},
  {"dim", t_dim},
  {"numel", t_numel},
  {"totable", t_totable},
  {"item", t_item},
  {"get", t_get},
  {"detach", t_detach},
  {"requires_grad_", t_requires_grad_},
  {"retain_grad", t_retain_grad},
  {NULL, NULL}
};

static const luaL_Reg module_funcs[] = {
  {"tensor", mod_tensor},
  {"zeros", mod_zeros},
  {"ones", mod_ones},
  {"full", mod_full},
  {"empty", mod_empty},
  {"eye", mod_eye},
  {"arange", mod_arange},
  {"linspace", mod_linspace},
  {"rand", mod_rand},
  {"randn", mod_randn},
  {"randint", mod_randint},
  {"randperm", mod_randperm},
  {"manual_seed", mod_manual_seed},
  {"zeros_like", mod_zeros_like},
  {"ones_like", mod_ones_like},
  {"rand_like", mod_rand_like},
  {"randn_like", mod_randn_like},
  {NULL, NULL}
};

/* t[name] = each function of l, with the shared upvalues, the Tensor metatable (at tmt)
   and, when methods is not 0, the method table. */
static void setfuncs (lua_State *L, int t, const luaL_Reg *l, int tmt, int methods) {
  for (; l->name != NULL; l++) {
    int n = NUPVALUES + 1;
    lgL_pushupvalues(L);
    lua_pushvalue(L, tmt);
    if (methods) { lua_pushvalue(L, methods); n++; }
    lua_pushcclosure(L, l->func, n);
    lua_setfield(L, t, l->name);
  }
}

void lgL_opentensor (lua_State *L, int module) {
  static const luaL_Reg index[] = {{"__index", tensor_index}, {NULL, NULL}};
  int tmt, methods;
  luaL_newmetatable(L, TENSOR_MT);
  tmt = lua_gettop(L);
  lua_newtable(L);
  methods = lua_gettop(L);
  setfuncs(L, module, module_funcs, tmt, 0);
  setfuncs(L, module, tensor_methods, tmt, 0);
  setfuncs(L, methods, tensor_methods, tmt, 0);
  setfuncs(L, tmt, tensor_meta, tmt, 0);
  setfuncs(L, tmt, index, tmt, methods);
  lua_pushvalue(L, methods);   /* for the tensor ops' methods (tensorops.c) */
  lua_setfield(L, LUA_REGISTRYINDEX, TMETHODS_KEY);
  lua_pushliteral(L, TENSOR_MT);   /* last: an open cut short leaves it to the next */
  lua_setfield(L, tmt, "__metatable");
  lua_settop(L, tmt - 1);
}


/* {==================================================================
** The C API's tensors (include/luagrad.h)
** =================================================================== */

/* the header's numbers are the core's */
typedef char lg_checkmaxdim[(LG_MAXDIM == LGI_MAXDIM && LG_FLOAT32 == LGI_F32) ? 1 : -1];

typedef struct PushArgs {
  lg_TDesc d;
  const void *data;
} PushArgs;

/* Protected part of lg_push_tensor: the arguments (light userdata) at index 1. */
static int dopush (lua_State *L) {
  const PushArgs *a = (const PushArgs *)lua_touserdata(L, 1);
  lg_TensorRec *r;
  size_t bytes = (size_t)lgI_tnumel(&a->d) * lgI_elemsize(a->d.dtype);
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);   /* the metatable, if not yet */
  lua_pop(L, 1);
  r = lgI_trec(lgL_newtensor(L, &a->d));
  if (a->data != NULL) memcpy(r->data, a->data, bytes);
  else memset(r->data, 0, bytes);
  return 1;
}

int lg_push_tensor (lua_State *L, int dtype, int ndim, const long long *size,
                    const void *data) {
  PushArgs a;
  int64_t s[LGI_MAXDIM];
  int i;
  if ((dtype != LG_FLOAT64 && dtype != LG_FLOAT32) || ndim < 1 || ndim > LGI_MAXDIM ||
      size == NULL)
    return LG_EARG;
  for (i = 0; i < ndim; i++) {
    if (size[i] < 0) return LG_EARG;
    s[i] = (int64_t)size[i];
  }
  i = lgI_tinit(&a.d, dtype == LG_FLOAT32 ? LGI_F32 : LGI_F64, ndim, s);
  if (i == LGI_EOVERFLOW) return LG_EMEM;
  if (i != LG_OK) return LG_EARG;
  a.data = data;
  if (!lua_checkstack(L, 4)) return LG_EMEM;
  lua_pushcfunction(L, dopush);
  lua_pushlightuserdata(L, &a);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return LG_EMEM;
  }
  return LG_OK;
}

int lg_to_tensor (lua_State *L, int idx, lg_TensorInfo *info) {
  const lg_TensorRec *r;
  int i;
  if (!lua_checkstack(L, 2) || !lgL_istensor(L, idx)) return 0;
  r = lgI_trec((const lg_Value *)lua_touserdata(L, idx));
  info->dtype = (r->d.dtype == LGI_F32) ? LG_FLOAT32 : LG_FLOAT64;
  info->ndim = r->d.ndim;
  for (i = 0; i < r->d.ndim; i++) {
    info->size[i] = (long long)r->d.size[i];
    info->stride[i] = (long long)r->d.stride[i];
  }
  info->data = (char *)r->data + (size_t)r->d.offset * lgI_elemsize(r->d.dtype);
  return 1;
}

/* }================================================================== */
