/*
** sys.c: the facts of the operating system that the Lua parts need and Lua's own libraries
** do not give: whether a file is a terminal, and how wide (lg.progress redraws one line
** there and prints plain lines elsewhere), and a clock of wall time finer than os.time's.
** Both are internal (lg._isatty, lg._clock): progress.lua is their one user.
*/
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200112L   /* isatty, fileno, clock_gettime under -std=c99 */
#endif

#include <stdio.h>
#include <time.h>

#if defined(_WIN32)
#include <io.h>
#define lg_isatty(f) _isatty(_fileno(f))
#elif defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#include <sys/ioctl.h>
#define lg_isatty(f) isatty(fileno(f))
#else
#define lg_isatty(f) ((void)(f), 0)   /* unknown: never a terminal, so plain lines */
#endif

#include "lua/lg_lua.h"
#include "lualib.h"   /* LUA_FILEHANDLE, before 5.2 */

/* The C stream of the open Lua file at i, or NULL (not a file, or closed). Every version's
   file userdata starts with its FILE * (5.1: FILE **, LuaJIT: IOFileUD, 5.2+: luaL_Stream). */
static FILE *tofile (lua_State *L, int i) {
  void *ud = lua_touserdata(L, i);
  int isfile;
  if (ud == NULL || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, LUA_FILEHANDLE);
  isfile = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!isfile) return NULL;
#if LUA_VERSION_NUM >= 502
  if (((luaL_Stream *)ud)->closef == NULL) return NULL;   /* closed */
#endif
  return *(FILE **)ud;   /* NULL once closed, before 5.2 */
}

/* lg._isatty(file) -> boolean [, columns]: whether file is an open Lua file on a terminal,
   and the terminal's width where the system tells it */
static int sys_isatty (lua_State *L) {
  FILE *f = tofile(L, 1);
  int tty = f != NULL && lg_isatty(f);
  lua_pushboolean(L, tty);
#if defined(TIOCGWINSZ)
  if (tty) {
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
      lua_pushinteger(L, (lua_Integer)ws.ws_col);
      return 2;
    }
  }
#endif
  return 1;
}

/* lg._clock() -> seconds of wall time since some fixed point (only differences mean
   anything): the monotonic clock where POSIX has one, else the processor time */
static int sys_clock (lua_State *L) {
#if defined(CLOCK_MONOTONIC)
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) {
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
  }
#endif
  lua_pushnumber(L, (lua_Number)clock() / (lua_Number)CLOCKS_PER_SEC);
  return 1;
}

static const luaL_Reg sys_funcs[] = {
  {"_isatty", sys_isatty},
  {"_clock", sys_clock},
  {NULL, NULL}
};

void lgL_opensys (lua_State *L, int module) {
  lua_pushvalue(L, module);
  luaL_setfuncs(L, sys_funcs, 0);
  lua_pop(L, 1);
}
