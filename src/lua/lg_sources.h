/*
** lg_sources.h: the module's Lua parts, compiled in (generated from the files in lua/luagrad
** by cmake/embed.cmake). Never installed.
*/
#ifndef LG_SOURCES_H
#define LG_SOURCES_H

#include "core/lg_core.h"

typedef struct lg_Source {
  const char *module;     /* "luagrad", "luagrad.nn", ... */
  const char *chunkname;  /* "=luagrad/init.lua", ... */
  const char *text;
  size_t len;
} lg_Source;

LGI_FUNC const lg_Source lgI_sources[];   /* ends with a NULL module */

#endif
