/*
** lg_compat.h: the differences between Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT that the binding
** meets, behind 5.4's names (where the older API has the same meaning) or an lgC_ function.
** Included by lua/lg_lua.h only, after lua.h and lauxlib.h. LuaJIT reports LUA_VERSION_NUM 501
** and is treated exactly as 5.1: everything below for 5.1 is in LuaJIT's API too.
*/
#ifndef LG_COMPAT_H
#define LG_COMPAT_H

#include "lua.h"
#include "lauxlib.h"

#if !defined(LUA_VERSION_NUM) || LUA_VERSION_NUM < 501 || LUA_VERSION_NUM > 504
#error "luagrad builds for Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT"
#endif


/* {==================================================================
** Parents: how a node keeps the userdata of its parents alive
**   5.4        user values 1..n of the node (lua_newuserdatauv), no other object;
**   5.3        the node's one user value: the parent itself when there is one, else a C
**              closure with the parents as upvalues (64 bytes for two, where a table takes 88);
**   5.2        the node's one user value, which must be a table;
**   5.1/LuaJIT the node's environment table (userdata have no user values).
** A node with no parents (a leaf) costs nothing extra anywhere.
** =================================================================== */

#if LUA_VERSION_NUM >= 504

/* Most parents kept as separate user values; above it they go in one table (5.4 caps user
   values at 65535 per userdata and does not check it in release builds). */
#define LGC_MAXUV LG_MAXUSERVALUES
#define lgC_newuserdata(L, size, nparents) lua_newuserdatauv(L, size, nparents)
/* Pops the value on top into parent slot i (1-based, i <= LGC_MAXUV) of the node at index
   node; lgC_setanchors pops a table holding them all into it instead (more than LGC_MAXUV) */
#define lgC_setparent(L, node, i) ((void)lua_setiuservalue(L, node, i))
#define lgC_setanchors(L, node) ((void)lua_setiuservalue(L, node, 1))

#else

#define LGC_MAXUV 0   /* always a table, or (5.3) the parent itself */
#define lgC_newuserdata(L, size, nparents) ((void)(nparents), lua_newuserdata(L, size))
#define lgC_setparent(L, node, i) \
  ((void)(node), (void)(i), lua_pop(L, 1), (void)luaL_error(L, "luagrad: no user values"))
#if LUA_VERSION_NUM >= 502
#define lgC_setanchors(L, node) lua_setuservalue(L, node)
#else
#define lgC_setanchors(L, node) ((void)lua_setfenv(L, node))
#endif

#endif

#if LUA_VERSION_NUM == 503
static int lgC_holder (lua_State *L) {   /* the function of a closure that only holds values */
  return luaL_error(L, "luagrad: internal object");
}
#endif

/* Anchoring n values one at a time in the node at (absolute) index node, which
   lgC_newuserdata made with room for n parents, with nothing else pushed meanwhile:
     lgC_beginparents(L, n); then n times: push a value, lgC_addparent(L, node, i) for
     i = 1..n; then lgC_endparents(L, node).
   5.4: user values 1..n; before 5.4: a table on the stack meanwhile, then the anchor. */
#if LUA_VERSION_NUM >= 504
#define lgC_beginparents(L, n) ((void)0)
#define lgC_addparent(L, node, i) ((void)lua_setiuservalue(L, node, i))
#define lgC_endparents(L, node) ((void)0)
#else
#define lgC_beginparents(L, n) lua_createtable(L, n, 0)
#define lgC_addparent(L, node, i) ((void)(node), lua_rawseti(L, -2, i))
#define lgC_endparents(L, node) lgC_setanchors(L, node)
#endif

/* Anchors the values at stack indices p[0..n-1] (positive) in the node on top of the stack,
   which lgC_newuserdata made with room for n parents. */
static inline void lgC_setparents (lua_State *L, const int *p, int n) {
  int i;
#if LUA_VERSION_NUM >= 504
  for (i = 0; i < n; i++) {
    lua_pushvalue(L, p[i]);
    lua_setiuservalue(L, -2, i + 1);
  }
#else
  if (n == 0) return;
#if LUA_VERSION_NUM == 503
  if (n == 1) {   /* 5.3 takes any value as the user value: no table needed */
    lua_pushvalue(L, p[0]);
    lua_setuservalue(L, -2);
    return;
  }
  if (n <= 255) {   /* a closure is the smallest object holding several (never called) */
    for (i = 0; i < n; i++) lua_pushvalue(L, p[i]);
    lua_pushcclosure(L, lgC_holder, n);
    lua_setuservalue(L, -2);
    return;
  }
#endif
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    lua_pushvalue(L, p[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lgC_setanchors(L, -2);
#endif
}

/*
** Numbered user values read back later (objects other than nodes): lgC_newuserdatauv makes
** a userdata with n of them; lgC_getiuservalue pushes number i; lgC_setiuservalue pops the
** top into number i. Before 5.4 they are the slots of a table made with the userdata (its
** one user value, or its environment), so use them only on userdata made this way.
*/
#if LUA_VERSION_NUM >= 504
#define lgC_newuserdatauv(L, size, n) lua_newuserdatauv(L, size, n)
#define lgC_getiuservalue(L, idx, i) ((void)lua_getiuservalue(L, idx, i))
#define lgC_setiuservalue(L, idx, i) ((void)lua_setiuservalue(L, idx, i))
#else
#if LUA_VERSION_NUM >= 502
#define lgC_getuvtable(L, idx) ((void)lua_getuservalue(L, idx))
#else
#define lgC_getuvtable(L, idx) lua_getfenv(L, idx)
#endif
static inline void *lgC_newuserdatauv (lua_State *L, size_t size, int n) {
  void *p = lua_newuserdata(L, size);
  if (n > 0) {
    lua_createtable(L, n, 0);
    lgC_setanchors(L, -2);
  }
  return p;
}
static inline void lgC_getiuservalue (lua_State *L, int idx, int i) {
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
  lgC_getuvtable(L, idx);
  lua_rawgeti(L, -1, i);
  lua_remove(L, -2);
}
static inline void lgC_setiuservalue (lua_State *L, int idx, int i) {
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
  lgC_getuvtable(L, idx);
  lua_insert(L, -2);
  lua_rawseti(L, -2, i);
  lua_pop(L, 1);
}
#endif

/* }================================================================== */


/* {==================================================================
** The 5.2+ API the binding uses, for 5.1 and LuaJIT
** =================================================================== */

#if LUA_VERSION_NUM < 503

/* lua_getfield returns the value's type from 5.3 on */
static inline int lgC_getfield (lua_State *L, int idx, const char *k) {
  lua_getfield(L, idx, k);
  return lua_type(L, -1);
}
#define lua_getfield lgC_getfield

#endif

#if LUA_VERSION_NUM < 502

#ifndef LUA_OK
#define LUA_OK 0
#endif

#define lua_rawlen(L, i) lua_objlen(L, (i))

#define lua_absindex(L, i) \
  ((i) > 0 || (i) <= LUA_REGISTRYINDEX ? (i) : lua_gettop(L) + (i) + 1)

#define luaL_setmetatable lgC_setmetatable
static inline void lgC_setmetatable (lua_State *L, const char *tname) {
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}

#ifndef luaL_newlibtable
#define luaL_newlibtable(L, l) lua_createtable(L, 0, (int)(sizeof(l) / sizeof((l)[0]) - 1))
#endif

/* the text is always our own source: no binary chunks to refuse */
#define luaL_loadbufferx(L, b, sz, name, mode) ((void)(mode), luaL_loadbuffer(L, b, sz, name))

#define lua_rawgetp lgC_rawgetp
static inline void lgC_rawgetp (lua_State *L, int t, const void *p) {
  if (t < 0 && t > LUA_REGISTRYINDEX) t = lua_gettop(L) + t + 1;
  lua_pushlightuserdata(L, (void *)p);
  lua_rawget(L, t);
}

#define lua_rawsetp lgC_rawsetp
static inline void lgC_rawsetp (lua_State *L, int t, const void *p) {   /* t[p] = top; pop */
  if (t < 0 && t > LUA_REGISTRYINDEX) t = lua_gettop(L) + t + 1;
  lua_pushlightuserdata(L, (void *)p);
  lua_insert(L, -2);
  lua_rawset(L, t);
}

/* As 5.2's: registers l in the table below the nup upvalues on top, which it pops. */
#define luaL_setfuncs lgC_setfuncs
static inline void lgC_setfuncs (lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup, "too many upvalues");
  for (; l->name != NULL; l++) {
    int i;
    if (l->func == NULL) lua_pushboolean(L, 0);   /* a placeholder */
    else {
      for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
      lua_pushcclosure(L, l->func, nup);
    }
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

/* As 5.2's: pushes t[fname] of the table at idx, making it a new table if it is not one;
   true if it was already there. */
#define luaL_getsubtable lgC_getsubtable
static inline int lgC_getsubtable (lua_State *L, int idx, const char *fname) {
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
  lua_getfield(L, idx, fname);
  if (lua_istable(L, -1)) return 1;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_setfield(L, idx, fname);
  return 0;
}

/* As 5.2's: opens modname with openf unless package.loaded has it; leaves the module on the
   stack (and, with glb, sets the global). */
#define luaL_requiref lgC_requiref
static inline void lgC_requiref (lua_State *L, const char *modname, lua_CFunction openf,
                                 int glb) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, "_LOADED");
  lua_getfield(L, -1, modname);
  if (!lua_toboolean(L, -1)) {
    lua_pop(L, 1);
    lua_pushcfunction(L, openf);
    lua_pushstring(L, modname);
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, modname);
  }
  lua_remove(L, -2);
  if (glb) {
    lua_pushvalue(L, -1);
    lua_setglobal(L, modname);
  }
}

/* As 5.2's, in the words of 5.1's debug.traceback: "msg\nstack traceback:" and one line per
   level of L1 from level on, the middle left out of a deep stack. */
#define luaL_traceback lgC_traceback
static inline void lgC_traceback (lua_State *L, lua_State *L1, const char *msg, int level) {
  lua_Debug ar;
  int top = lua_gettop(L), last = 0, skipto;
  while (lua_getstack(L1, last + 1, &ar)) last++;
  skipto = last - 10;   /* the first 12 levels and the last 10 */
  if (msg != NULL) lua_pushfstring(L, "%s\n", msg);
  lua_pushliteral(L, "stack traceback:");
  while (lua_getstack(L1, level++, &ar)) {
    if (level == 12 && skipto > 12) {
      lua_pushliteral(L, "\n\t...");
      level = skipto;
    }
    else {
      lua_getinfo(L1, "Sln", &ar);
      lua_pushfstring(L, "\n\t%s:", ar.short_src);
      if (ar.currentline > 0) lua_pushfstring(L, "%d:", ar.currentline);
      if (*ar.namewhat != '\0') lua_pushfstring(L, " in function '%s'", ar.name);
      else if (*ar.what == 'm') lua_pushliteral(L, " in main chunk");
      else if (*ar.what == 'C' || *ar.what == 't') lua_pushliteral(L, " ?");
      else lua_pushfstring(L, " in function <%s:%d>", ar.short_src, ar.linedefined);
    }
    lua_concat(L, lua_gettop(L) - top);
  }
  lua_concat(L, lua_gettop(L) - top);
}

#endif

/* Pushes the table require's preload searcher reads: the registry's _PRELOAD from 5.2 on
   (and in LuaJIT), only package.preload in 5.1. Without a package library, a table of the
   registry that no one reads, so the caller still works. */
static inline void lgC_getpreload (lua_State *L) {
#if LUA_VERSION_NUM < 502
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "package");
    if (lua_istable(L, -1)) {
      lua_remove(L, -2);
      luaL_getsubtable(L, -1, "preload");
      lua_remove(L, -2);
      return;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
#endif
  luaL_getsubtable(L, LUA_REGISTRYINDEX, "_PRELOAD");
}

/* }================================================================== */

#endif
