/*
** save.c: lg.save and lg.load, tables of tensors and Values in safetensors files
** (docs/learning.md). The format, and every check of a file read, is core/safetensors.c's;
** here are the arguments, the file and the Lua objects. An open file is held by a userdata
** whose finalizer closes it, so that an error raised anywhere (out of memory included)
** leaks nothing; everything else either function holds is Lua's.
*/
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "lua/lg_lua.h"
#include "core/lg_safetensors.h"

#define FILE_MT "luagrad.stfile"   /* the holder of an open file */

typedef struct File {
  FILE *f;
} File;

static int file_gc (lua_State *L) {
  File *F = (File *)lua_touserdata(L, 1);
  if (F->f != NULL) fclose(F->f);
  F->f = NULL;
  return 0;
}

/* Pushes the holder of path opened with mode; its f is NULL, with errno set, when the
   file cannot be opened. */
static File *openfile (lua_State *L, const char *path, const char *mode) {
  File *F = (File *)lgC_newuserdata(L, sizeof(File), 0);
  F->f = NULL;
  if (luaL_newmetatable(L, FILE_MT)) {
    lua_pushcfunction(L, file_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, FILE_MT);
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);
  errno = 0;
  F->f = fopen(path, mode);
  return F;
}

/* "luagrad.<fn>: <path>: <the system's message>", the file closed */
static int oserror (lua_State *L, const char *fn, const char *path, File *F, int err) {
  if (F != NULL && F->f != NULL) { fclose(F->f); F->f = NULL; }
  return luaL_error(L, "luagrad.%s: %s: %s", fn, path,
                    err != 0 ? strerror(err) : "input/output error");
}


/* {==================================================================
** lg.load
** =================================================================== */

/* "luagrad.load: <path>: <what is wrong with the file>", the file closed */
static int fileerror (lua_State *L, const char *path, File *F, const char *msg) {
  fclose(F->f);
  F->f = NULL;
  return luaL_error(L, "luagrad.load: %s: %s", path, msg);
}

/* Reads n bytes at offset at into p: a short read is an error of the system's or, when
   the system reports none, a file that shrank since its size was taken. */
static void readat (lua_State *L, const char *path, File *F, uint64_t at, void *p, size_t n) {
  if (n == 0) return;
  if (at > (uint64_t)LONG_MAX) fileerror(L, path, F, "file too large for this system");
  errno = 0;
  if (fseek(F->f, (long)at, SEEK_SET) != 0) oserror(L, "load", path, F, errno);
  if (fread(p, 1, n, F->f) != n) {
    if (ferror(F->f)) oserror(L, "load", path, F, errno);
    fileerror(L, path, F, "truncated file (it changed while it was read)");
  }
}

/* Pushes entry e, whose data starts at offset start of the file: a Value for a 0-d entry,
   else a tensor. */
static void pushentry (lua_State *L, const char *path, File *F, uint64_t start,
                       const lg_STEntry *e) {
  if (e->ndim == 0) {
    double x;
    float xf;
    void *p = e->dtype == LGI_F32 ? (void *)&xf : (void *)&x;
    readat(L, path, F, start + e->begin, p, (size_t)(e->end - e->begin));
    lgI_stle(e->dtype, p, 1);
    lgL_newleaf(L, e->dtype == LGI_F32 ? (double)xf : x);
  }
  else {
    lg_TDesc d;
    lg_TensorRec *r;
    if (lgI_tinit(&d, e->dtype, e->ndim, e->size) != LG_OK) lgL_memerror(L);
    r = lgI_trec(lgL_newtensor(L, &d));
    readat(L, path, F, start + e->begin, r->data, (size_t)(e->end - e->begin));
    lgI_stle(e->dtype, r->data, lgI_tnumel(&d));
  }
}

/* lg.load(path) -> tensors, metadata */
static int mod_load (lua_State *L) {
  const char *path;
  unsigned char head[8];
  char msg[LGI_STMSG];
  char *text;
  uint64_t n, size;
  long end = 0;
  size_t got, k;
  lg_STSize S;
  lg_STHeader H;
  File *F;
  int err;
  if (lua_type(L, 1) != LUA_TSTRING) lgL_argerror(L, "load", 1, "string");
  path = lua_tostring(L, 1);
  lua_settop(L, 1);
  F = openfile(L, path, "rb");
  if (F->f == NULL) oserror(L, "load", path, F, errno);
  got = fread(head, 1, sizeof head, F->f);
  if (got < sizeof head && ferror(F->f)) oserror(L, "load", path, F, errno);
  if (fseek(F->f, 0, SEEK_END) != 0 || (end = ftell(F->f)) < 0)
    oserror(L, "load", path, F, errno);
  size = (uint64_t)end;
  if (lgI_stlength(head, got < sizeof head ? got : size, &n, msg) != LG_OK)
    fileerror(L, path, F, msg);
  text = (char *)lgC_newuserdata(L, (size_t)n + 1, 0);
  readat(L, path, F, 8, text, (size_t)n);
  if (lgI_stmeasure(text, (size_t)n, size - 8 - n, &S, msg) != LG_OK)
    fileerror(L, path, F, msg);
  err = lgI_stparse(text, (size_t)n, size - 8 - n, &S, lgC_newuserdata(L, S.need, 0), &H, msg);
  if (err != LG_OK) fileerror(L, path, F, err == LGI_ESTFILE ? msg : "internal error");
  lua_createtable(L, 0, H.nentry < INT_MAX ? (int)H.nentry : 0);
  for (k = 0; k < H.nentry; k++) {
    lua_pushlstring(L, H.entry[k].name, H.entry[k].namelen);
    pushentry(L, path, F, 8 + n, &H.entry[k]);
    lua_rawset(L, -3);
  }
  lua_createtable(L, 0, H.nmeta < INT_MAX ? (int)H.nmeta : 0);
  for (k = 0; k < H.nmeta; k++) {
    lua_pushlstring(L, H.meta[k].key, H.meta[k].keylen);
    lua_pushlstring(L, H.meta[k].value, H.meta[k].valuelen);
    lua_rawset(L, -3);
  }
  fclose(F->f);
  F->f = NULL;
  return 2;
}

/* }================================================================== */


/* {==================================================================
** lg.save
** =================================================================== */

/* The string at i as a name or key of argument arg (of fn's table), checked: valid UTF-8
   (a JSON header holds only text), and for a tensor's name, not "__metadata__". */
static const char *checkname (lua_State *L, int arg, int i, size_t *len) {
  const char *s;
  char shown[LGI_STSHOWN];
  if (lua_type(L, i) != LUA_TSTRING)
    luaL_error(L, "luagrad.save: bad argument #%d (string %s expected, got %s)", arg,
               arg == 2 ? "name" : "key", lgL_typename(L, i));
  s = lua_tolstring(L, i, len);
  if (!lgI_stutf8(s, *len))
    luaL_error(L, "luagrad.save: bad argument #%d (%s '%s' is not valid UTF-8)", arg,
               arg == 2 ? "name" : "key", lgI_stshown(shown, s, *len));
  if (arg == 2 && *len == 12 && memcmp(s, "__metadata__", 12) == 0)
    luaL_error(L, "luagrad.save: bad argument #2 (the name '__metadata__' is reserved for "
                  "the metadata)");
  return s;
}

/* The number of pairs of the table at t (no allocation, so nothing can change it). */
static size_t countpairs (lua_State *L, int t) {
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    lua_pop(L, 1);
    n++;
  }
  return n;
}

/* The entries of the tensors table (argument 2), at most n, into H, each name and value
   also kept in the table at anchor (2n slots, so that storing there allocates nothing):
   then no finalizer run by a later allocation can take them away. */
static void getentries (lua_State *L, int anchor, size_t n, lg_STHeader *H) {
  size_t k = 0;
  lua_pushnil(L);
  while (lua_next(L, 2) != 0) {
    lg_STEntry *e = &H->entry[k];
    lg_Value *v;
    char shown[LGI_STSHOWN];
    if (k == n) luaL_error(L, "luagrad.save: the table changed while it was read");
    e->name = checkname(L, 2, -2, &e->namelen);
    if ((v = lgL_totensor(L, -1)) != NULL) {
      const lg_TensorRec *r = lgI_trec(v);
      e->dtype = r->d.dtype;
      e->ndim = r->d.ndim;
      e->size = r->d.size;
    }
    else if ((v = lgL_tovalue(L, -1)) != NULL) {
      e->dtype = LGI_F64;
      e->ndim = 0;
      e->size = NULL;
    }
    else
      luaL_error(L, "luagrad.save: bad argument #2 (tensor or value expected at '%s', got %s)",
                 lgI_stshown(shown, e->name, e->namelen), lgL_typename(L, -1));
    e->src = v;
    lua_rawseti(L, anchor, (int)(2 * k + 2));   /* the value */
    lua_pushvalue(L, -1);
    lua_rawseti(L, anchor, (int)(2 * k + 1));   /* the name, still the iteration's key */
    k++;
  }
  H->nentry = k;
}

/* The metadata (argument 3, a table of at most n pairs) into H, anchored likewise. */
static void getmeta (lua_State *L, int anchor, size_t n, lg_STHeader *H) {
  size_t k = 0;
  lua_pushnil(L);
  while (lua_next(L, 3) != 0) {
    lg_STPair *m = &H->meta[k];
    char shown[LGI_STSHOWN];
    if (k == n) luaL_error(L, "luagrad.save: the table changed while it was read");
    m->key = checkname(L, 3, -2, &m->keylen);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "luagrad.save: bad argument #3 (string expected at '%s', got %s)",
                 lgI_stshown(shown, m->key, m->keylen), lgL_typename(L, -1));
    m->value = lua_tolstring(L, -1, &m->valuelen);
    if (!lgI_stutf8(m->value, m->valuelen))
      luaL_error(L, "luagrad.save: bad argument #3 (the value at '%s' is not valid UTF-8)",
                 lgI_stshown(shown, m->key, m->keylen));
    lua_rawseti(L, anchor, (int)(2 * k + 2));
    lua_pushvalue(L, -1);
    lua_rawseti(L, anchor, (int)(2 * k + 1));
    k++;
  }
  H->nmeta = k;
}

/* Writes entry e's data (packed, little-endian) to F; 0 on an error of the system's. */
static int writeentry (lua_State *L, File *F, const lg_STEntry *e) {
  const lg_Value *v = (const lg_Value *)e->src;
  const lg_TensorRec *r;
  size_t bytes = (size_t)(e->end - e->begin), es;
  int ok;
  if (v->kind != LGI_KTENSOR) {
    double x = v->data;
    lgI_stle(LGI_F64, &x, 1);
    return fwrite(&x, sizeof x, 1, F->f) == 1;
  }
  r = lgI_trec(v);
  es = lgI_elemsize(r->d.dtype);
  if (bytes == 0) return 1;
  if (lgI_stlittle() && lgI_iscontig(&r->d))
    return fwrite((const char *)r->data + r->d.offset * (int64_t)es, 1, bytes, F->f) == bytes;
  {
    void *buf = lgC_newuserdata(L, bytes, 0);   /* a strided view, or a big-endian host */
    if (lgI_stpack(&r->d, r->data, buf) != LG_OK)
      luaL_error(L, "luagrad.save: internal error packing a tensor");
    ok = fwrite(buf, 1, bytes, F->f) == bytes;
    lua_pop(L, 1);
  }
  return ok;
}

/* lg.save(path, tensors [, metadata]): every check made, and everything the file needs
   at hand, before the file is opened, so that a bad argument leaves an existing file as
   it was. */
static int mod_save (lua_State *L) {
  const char *path;
  unsigned char len[8];
  char *text;
  size_t n, nmeta = 0, hlen, k, *order;
  uint64_t datasize;
  lg_STHeader H;
  File *F;
  int anchor, ok;
  if (lua_type(L, 1) != LUA_TSTRING) lgL_argerror(L, "save", 1, "string");
  if (lua_type(L, 2) != LUA_TTABLE) lgL_argerror(L, "save", 2, "table");
  if (!lua_isnoneornil(L, 3) && lua_type(L, 3) != LUA_TTABLE)
    lgL_argerror(L, "save", 3, "table");
  path = lua_tostring(L, 1);
  lua_settop(L, 3);
  n = countpairs(L, 2);
  if (lua_istable(L, 3)) nmeta = countpairs(L, 3);
  if (n + nmeta > INT_MAX / 2 - 1 ||
      n + 1 > SIZE_MAX / (sizeof(lg_STEntry) + sizeof(size_t)))   /* a 32-bit size_t */
    lgL_memerror(L);
  H.entry = (lg_STEntry *)lgC_newuserdata(L, (n + 1) * (sizeof(lg_STEntry) + sizeof(size_t)), 0);
  order = (size_t *)(void *)(H.entry + n + 1);
  H.meta = (lg_STPair *)lgC_newuserdata(L, (nmeta + 1) * sizeof(lg_STPair), 0);
  lua_createtable(L, (int)(2 * (n + nmeta)), 0);
  anchor = lua_gettop(L);
  getentries(L, anchor, n, &H);
  H.nmeta = 0;
  if (nmeta > 0) getmeta(L, anchor, nmeta, &H);
  lgI_stsort(&H);
  if (lgI_stlayout(&H, order, &datasize) != LG_OK) lgL_memerror(L);   /* overflows */
  hlen = lgI_stheader(&H, NULL);
  if (hlen == 0) lgL_memerror(L);
  text = (char *)lgC_newuserdata(L, hlen, 0);
  lgI_stheader(&H, text);
  lgI_stputlength(len, (uint64_t)hlen);
  F = openfile(L, path, "wb");
  if (F->f == NULL) oserror(L, "save", path, F, errno);
  errno = 0;
  ok = fwrite(len, 1, sizeof len, F->f) == sizeof len && fwrite(text, 1, hlen, F->f) == hlen;
  for (k = 0; ok && k < H.nentry; k++) ok = writeentry(L, F, &H.entry[order[k]]);
  if (!ok || fflush(F->f) != 0 || ferror(F->f)) oserror(L, "save", path, F, errno);
  ok = fclose(F->f) == 0;
  F->f = NULL;
  if (!ok) oserror(L, "save", path, F, errno);
  return 0;
}

/* }================================================================== */


void lgL_opensave (lua_State *L, int module) {
  static const luaL_Reg funcs[] = {{"save", mod_save}, {"load", mod_load}, {NULL, NULL}};
  const luaL_Reg *l;
  for (l = funcs; l->name != NULL; l++) {
    lgL_pushupvalues(L);
    lua_pushcclosure(L, l->func, NUPVALUES);
    lua_setfield(L, module, l->name);
  }
}
