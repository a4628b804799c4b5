/*
** data.c: the C side of luagrad.data (lua/luagrad/data.lua holds the rest): CSV text and
** IDX bytes, which data.lua read from a file, made tensors by the parsers of core/lg_data.h,
** and rows of a tensor gathered into a new one for batches and splits. They are the table
** lg._data; messages name data.lua's public functions, since those call these.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lua/lg_lua.h"
#include "core/lg_data.h"

#define SHOWN 40   /* bytes of a bad field shown in a message */
#define MAXRATIO 1100   /* deflate inflates a byte to at most 1032 */

/* Raises "luagrad.data.<fn>: '<path>' <detail>", placed at the line of Lua that called
   data.lua's function (level 2: data.lua's function is level 1). */
static int fail (lua_State *L, const char *fn, const char *path, const char *detail) {
  luaL_where(L, 2);
  lua_pushfstring(L, "luagrad.data.%s: '%s' %s", fn, path, detail);
  lua_concat(L, 2);
  return lua_error(L);
}

static const char *checkstr (lua_State *L, int arg, const char *fn, size_t *len) {
  if (lua_type(L, arg) != LUA_TSTRING) lgL_argerror(L, fn, arg, "string");
  return lua_tolstring(L, arg, len);
}

/* "{2, 3}" into buf (of 16 * 22 bytes at least) */
static const char *sizes (char *buf, int ndim, const int64_t *size) {
  size_t n = 0;
  int i;
  buf[n++] = '{';
  for (i = 0; i < ndim; i++)
    n += (size_t)sprintf(buf + n, i > 0 ? ", %" PRId64 : "%" PRId64, size[i]);
  buf[n++] = '}';
  buf[n] = '\0';
  return buf;
}


/* Raises the error of a gzip file's inflation, for data.lua's function fn. */
static int gzerror (lua_State *L, const char *fn, const char *path, int err,
                    const lg_Gunzip *g) {
  char d[160];
  switch (err) {
    case LG_EMEM: return lgL_memerror(L);
    case LGI_ENOZLIB:
      return fail(L, fn, path, "is gzip-compressed, and this luagrad was built without "
                               "zlib (install zlib1g-dev and build again)");
    case LGI_EGZSHORT: return fail(L, fn, path, "is truncated (its gzip data ends early)");
    case LGI_EGZAFTER: return fail(L, fn, path, "has bytes after its gzip data");
    default:
      snprintf(d, sizeof d, "is not valid gzip data (%s)", g->msg);
      return fail(L, fn, path, d);
  }
}

/* {==================================================================
** CSV
** =================================================================== */

static int csverror (lua_State *L, const char *path, int err, const lg_CsvInfo *info) {
  char d[160];
  switch (err) {
    case LGI_ECSVQUOTE: case LGI_ECSVAFTER:
      snprintf(d, sizeof d, "line %" PRId64 ", column %" PRId64 ": %s", info->line, info->col,
               err == LGI_ECSVQUOTE ? "a quoted field is not closed"
                                    : "text after a closing quote");
      break;
    case LGI_ECSVRAGGED:
      snprintf(d, sizeof d, "line %" PRId64 " has %" PRId64 " field%s, expected %" PRId64
               " (as line %" PRId64 ")", info->line, info->got, info->got == 1 ? "" : "s",
               info->cols, info->first);
      break;
    case LGI_ECSVNUM:
      if (info->len == 0)
        snprintf(d, sizeof d, "line %" PRId64 ", column %" PRId64 ": an empty field is not a "
                 "number", info->line, info->col);
      else
        snprintf(d, sizeof d, "line %" PRId64 ", column %" PRId64 ": '%.*s%s' is not a number",
                 info->line, info->col, (int)(info->len > SHOWN ? SHOWN : info->len), info->s,
                 info->len > SHOWN ? "..." : "");
      break;
    default:
      snprintf(d, sizeof d, "could not be read (internal error %d)", err);
  }
  return fail(L, "read_csv", path, d);
}

/* Pushes field f's text as a string. */
static void pushfield (lua_State *L, const lg_CsvField *f) {
  if (f->quoted && memchr(f->s, '"', f->len) != NULL) {
    char *buf = (char *)lgC_newuserdata(L, f->len, 0);
    size_t n = lgI_csvunquote(f, buf);
    lua_pushlstring(L, buf, n);
    lua_remove(L, -2);
  }
  else lua_pushlstring(L, f->s, f->len);
}

/* The header record's fields into a new table on the stack; their number. */
static int64_t readheader (lua_State *L, const char *path, lg_CsvScan *s) {
  lg_CsvInfo info;
  lg_CsvField f;
  int64_t k = 0;
  int err;
  lua_newtable(L);
  if (!lgI_csvrecord(s)) return 0;
  do {
    info.line = s->line;
    info.col = k + 1;
    if ((err = lgI_csvfield(s, &f)) != LG_OK) csverror(L, path, err, &info);
    pushfield(L, &f);
    lua_rawseti(L, -2, (int)++k);
  } while (!f.last);
  return k;
}

/* The text of the gzip-compressed file src[0..n), inflated into a new userdata on the
   stack (measured first: one pass counts, the second writes); its length in *len. */
static const char *gunziptext (lua_State *L, const char *path, const char *src, size_t n,
                               size_t *len) {
  lg_Work *W = lgL_getwork(L);
  lg_Gunzip g;
  char *out;
  int err = lgI_gunzip(W, src, n, 0, NULL, 0, 1, &g);
  if (err != LG_OK) gzerror(L, "read_csv", path, err, &g);
  if (g.more > (uint64_t)(SIZE_MAX / 2)) lgL_memerror(L);
  out = (char *)lgC_newuserdata(L, (size_t)g.more, 0);
  err = lgI_gunzip(W, src, n, 0, out, (size_t)g.more, 1, &g);
  if (err != LG_OK) gzerror(L, "read_csv", path, err, &g);
  *len = g.got;
  return out;
}

/* lg._data.csv(text, path, sep, header) -> a rows x columns float64 tensor, and the header
   (an array of strings) or nil; text that starts as gzip does is inflated first */
static int data_csv (lua_State *L) {
  size_t n, nsep;
  const char *text = checkstr(L, 1, "data.read_csv", &n);
  const char *path = checkstr(L, 2, "data.read_csv", NULL);
  const char *sep = checkstr(L, 3, "data.read_csv", &nsep);
  int header = lua_toboolean(L, 4), err;
  int64_t size[2], nheader = 0;
  lg_CsvScan s;
  lg_CsvInfo info;
  lg_TDesc d;
  lg_TensorRec *r;
  if (nsep != 1 || *sep == '"' || *sep == '\n' || *sep == '\r')
    return luaL_error(L, "luagrad.data.read_csv: bad separator");   /* data.lua checks it */
  lua_settop(L, 4);
  if (lgI_isgzip(text, n)) text = gunziptext(L, path, text, n, &n);   /* at 5 */
  else lua_pushnil(L);
  lgI_csvinit(&s, text, n, (unsigned char)*sep);
  if (header) nheader = readheader(L, path, &s);
  if ((err = lgI_csvshape(&s, &info)) != LG_OK) return csverror(L, path, err, &info);
  size[0] = info.rows;
  size[1] = (info.rows > 0) ? info.cols : nheader;
  if (lgI_tinit(&d, LGI_F64, 2, size) != LG_OK) lgL_memerror(L);
  r = lgI_trec(lgL_newtensor(L, &d));
  if ((err = lgI_csvfill(&s, &info, (double *)r->data)) != LG_OK)
    return csverror(L, path, err, &info);
  if (header) lua_pushvalue(L, 6);
  else lua_pushnil(L);
  return 2;
}

/* }================================================================== */


/* {==================================================================
** IDX
** =================================================================== */

static int idxerror (lua_State *L, const char *path, int err, const lg_IdxHeader *h,
                     size_t have, int gz) {
  char d[600], sz[LGI_MAXDIM * 24];
  const char *inflated = gz ? " once inflated" : "";
  switch (err) {
    case LGI_EIDXSHORT:
      snprintf(d, sizeof d, "is truncated (%zu bytes%s; its header needs %zu)", have, inflated,
               h->hbytes);
      break;
    case LGI_EIDXMAGIC:
      snprintf(d, sizeof d, "is not an IDX file (its first two bytes are not 0)");
      break;
    case LGI_EIDXTYPE:
      snprintf(d, sizeof d, "has an unknown element type 0x%02X (IDX knows 0x08, 0x09, "
               "0x0B, 0x0C, 0x0D and 0x0E)", (unsigned)h->type);
      break;
    case LGI_EIDXNDIM:
      if (h->ndim == 0) snprintf(d, sizeof d, "has no dimensions");
      else snprintf(d, sizeof d, "has %d dimensions (at most %d)", h->ndim, LGI_MAXDIM);
      break;
    case LGI_EOVERFLOW:
      snprintf(d, sizeof d, "has sizes %s, too many elements for a tensor",
               sizes(sz, h->ndim, h->size));
      break;
    default:
      snprintf(d, sizeof d, "could not be read (internal error %d)", err);
  }
  return fail(L, "read_idx", path, d);
}

/* The data's length against the header's: have bytes of data. */
static void checklength (lua_State *L, const char *path, const lg_IdxHeader *h, size_t have,
                         uint64_t after, int gz) {
  char d[600], sz[LGI_MAXDIM * 24];
  if (have < h->dbytes)
    snprintf(d, sizeof d, "is truncated (its sizes %s need %zu bytes of data, it has %zu%s)",
             sizes(sz, h->ndim, h->size), h->dbytes, have, gz ? " once inflated" : "");
  else if (after > 0)
    snprintf(d, sizeof d, "has %" PRIu64 " byte%s after its data (its sizes %s need %zu)",
             after, after == 1 ? "" : "s", sizes(sz, h->ndim, h->size), h->dbytes);
  else return;
  fail(L, "read_idx", path, d);
}

/* A new float64 tensor of the header's sizes. */
static double *newidx (lua_State *L, const lg_IdxHeader *h) {
  lg_TDesc d;
  if (lgI_tinit(&d, LGI_F64, h->ndim, h->size) != LG_OK) lgL_memerror(L);
  return (double *)lgI_trec(lgL_newtensor(L, &d))->data;
}

/* The gzip-compressed IDX file src[0..n): its header from the first bytes inflated, then
   the data inflated into the tensor's last bytes and decoded there, in place. */
static int readgz (lua_State *L, const char *path, const unsigned char *src, size_t n) {
  unsigned char head[LGI_IDXMAXHEADER];
  lg_Work *W = lgL_getwork(L);
  lg_IdxHeader h;
  lg_Gunzip g;
  double *out;
  int err = lgI_gunzip(W, src, n, 0, head, sizeof head, 0, &g);
  if (err != LG_OK) return gzerror(L, "read_idx", path, err, &g);
  if ((err = lgI_idxheader(head, g.got, &h)) != LG_OK)
    return idxerror(L, path, err, &h, g.got, 1);
  if (h.dbytes / MAXRATIO > n) {   /* more than n bytes can hold: measure before allocating */
    err = lgI_gunzip(W, src, n, h.hbytes, NULL, 0, 1, &g);
    if (err != LG_OK) return gzerror(L, "read_idx", path, err, &g);
    checklength(L, path, &h, (size_t)g.more, 0, 1);
  }
  out = newidx(L, &h);
  err = lgI_gunzip(W, src, n, h.hbytes, (char *)out + h.numel * 8 - h.dbytes, h.dbytes, 1,
                   &g);
  if (err != LG_OK) return gzerror(L, "read_idx", path, err, &g);
  checklength(L, path, &h, g.got, g.more, 1);
  lgI_idxdecode(h.type, (unsigned char *)out + h.numel * 8 - h.dbytes, h.numel, out);
  return 1;
}

/* lg._data.idx(bytes, path) -> a float64 tensor of the file's sizes */
static int data_idx (lua_State *L) {
  size_t n;
  const unsigned char *p = (const unsigned char *)checkstr(L, 1, "data.read_idx", &n);
  const char *path = checkstr(L, 2, "data.read_idx", NULL);
  lg_IdxHeader h;
  size_t have;
  int err;
  double *out;
  lua_settop(L, 2);
  if (lgI_isgzip(p, n)) return readgz(L, path, p, n);
  if ((err = lgI_idxheader(p, n, &h)) != LG_OK) return idxerror(L, path, err, &h, n, 0);
  have = n - h.hbytes;
  checklength(L, path, &h, have, have > h.dbytes ? have - h.dbytes : 0, 0);
  out = newidx(L, &h);
  lgI_idxdecode(h.type, p + h.hbytes, h.numel, out);
  return 1;
}

/* }================================================================== */


/* {==================================================================
** Rows
** =================================================================== */

static int64_t checkcount (lua_State *L, int arg) {
  double x = lgL_checknumber(L, arg, "data.rows");
  if (x != x || x < 0 || x > 0x1p53 || x != (double)(int64_t)x)
    lgL_argerror(L, "data.rows", arg, "non-negative integer");
  return (int64_t)x;
}

/* lg._data.rows(X, first, count [, order]) -> a new contiguous tensor of X's dtype holding
   the rows order[first], ..., order[first + count - 1] of X (order: a 1-D tensor of row
   numbers, from 1), or X's rows first .. first + count - 1 without order */
static int data_rows (lua_State *L) {
  const lg_TensorRec *x = lgI_trec(lgL_checktensor(L, 1, "data.rows"));
  int64_t first = checkcount(L, 2) - 1, count = checkcount(L, 3), k, n, size[LGI_MAXDIM];
  const lg_TensorRec *o = NULL;
  lg_TensorRec *r;
  lg_TDesc d;
  if (!lua_isnoneornil(L, 4)) {
    o = lgI_trec(lgL_checktensor(L, 4, "data.rows"));
    if (o->d.ndim != 1) return lgL_argerror(L, "data.rows", 4, "1-D tensor");
  }
  n = o ? o->d.size[0] : x->d.size[0];
  if (first < 0 || count > n - first)
    return luaL_error(L, "luagrad.data.rows: rows %" PRId64 " to %" PRId64 " are out of "
                      "range (1 to %" PRId64 ")", first + 1, first + count, n);
  memcpy(size, x->d.size, sizeof size);
  size[0] = count;
  if (lgI_tinit(&d, x->d.dtype, x->d.ndim, size) != LG_OK) lgL_memerror(L);
  r = lgI_trec(lgL_newtensor(L, &d));
  for (k = 0; k < count; k++) {
    int64_t i = first + k;
    if (o != NULL) {
      double v = lgI_tget(o, o->d.offset + i * o->d.stride[0]);
      if (!(v >= 1 && v <= (double)x->d.size[0] && v == (double)(int64_t)v)) {
        char sv[32], sn[32];
        return luaL_error(L, "luagrad.data.rows: row %s is out of range (1 to %s)",
                          lgI_fmtshortest(sv, v, 0), lgI_fmtshortest(sn, (double)x->d.size[0], 0));
      }
      i = (int64_t)v - 1;
    }
    if (lgI_copyrow(&r->d, r->data, k, &x->d, x->data, i) != LG_OK)
      return luaL_error(L, "luagrad.data.rows: internal error copying a row");
  }
  return 1;
}

/* }================================================================== */


void lgL_opendata (lua_State *L, int module) {
  static const luaL_Reg funcs[] = {
    {"csv", data_csv}, {"idx", data_idx}, {"rows", data_rows}, {NULL, NULL}
  };
  lua_newtable(L);
  lgL_pushupvalues(L);
  luaL_setfuncs(L, funcs, NUPVALUES);
  lua_pushboolean(L, lgI_hasgzip());
  lua_setfield(L, -2, "gzip");
  lua_setfield(L, module, "_data");
}
