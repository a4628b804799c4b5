/*
** noembed.c: no Lua parts compiled in. The module that LuaRocks builds finds
** the files of lua/luagrad as installed files, as the build tree's module does, so it links this
** empty list in place of the one cmake/embed.cmake generates for the command and hosts.
*/
#include "lua/lg_sources.h"

const lg_Source lgI_sources[] = {
  {NULL, NULL, NULL, 0}
};
