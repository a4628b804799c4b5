/*
** luagrad.c: the `luagrad` command, a Lua 5.4 stand-alone interpreter with the luagrad
** module built in, so that require("luagrad") works with no search path set.
**
** It behaves as the stock `lua` command does (Lua 5.4 manual, section 7): the same options,
** the same global `arg`, LUA_INIT, the REPL and the exit status. Additions: -v also names
** luagrad, -h/--help prints the usage on stdout, and the REPL has the module as the globals
** `lg` and `luagrad`. Built with readline (LUAGRAD_READLINE), the REPL edits lines and keeps
** a history (the Up arrow) when stdin is a terminal; otherwise it reads plain lines, as text
** only, so that a stray escape sequence is a syntax error and not "bad binary format".
*/
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* isatty, sigaction */
#endif

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "luagrad.h"

#if defined(LUAGRAD_READLINE)
#include <readline/readline.h>
#include <readline/history.h>
#endif

#define EOFMARK "<eof>"  /* ends the message of a chunk cut short: read another line */
#define INITVAR "LUA_INIT"
#define INITVARVERSION INITVAR LUA_VERSUFFIX  /* "LUA_INIT_5_4", tried first */

static const char *progname = "luagrad";  /* argv[0] when there is one, as lua does */

/* the interrupted state, for the signal handler: a handler gets no arguments of ours */
static lua_State *globalL = NULL;

/* ---- messages --------------------------------------------------------------- */

static void usage (FILE *f) {
  fprintf(f,
    "usage: %s [options] [script [args]]\n"
    "Available options are:\n"
    "  -e stat   execute string 'stat'\n"
    "  -i        enter interactive mode after executing 'script'\n"
    "  -l mod    require library 'mod' into global 'mod'\n"
    "  -l g=mod  require library 'mod' into global 'g'\n"
    "  -v        show version information\n"
    "  -E        ignore environment variables\n"
    "  -W        turn warnings on\n"
    "  -h        show this help and exit (also --help)\n"
    "  --        stop handling options\n"
    "  -         stop handling options and execute stdin\n",
    progname);
  fflush(f);
}

static void badoption (const char *opt) {
  if (opt[1] == 'e' || opt[1] == 'l')
    fprintf(stderr, "%s: '%s' needs argument\n", progname, opt);
  else
    fprintf(stderr, "%s: unrecognized option '%s'\n", progname, opt);
  usage(stderr);
}

static void print_version (void) {
  fputs(LG_VERSION "\n" LUA_COPYRIGHT "\n", stdout);
  fflush(stdout);
}

/* pname is NULL in the REPL, where lua too drops the program name */
static void l_message (const char *pname, const char *msg) {
  if (pname) fprintf(stderr, "%s: ", pname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

/* prints and pops the error message, if the status is an error */
static int report (lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);  /* msghandler made it a string, nearly always */
    l_message(progname, (msg != NULL) ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* ---- running code ----------------------------------------------------------- */

/* the hook set by laction: raising from a hook is safe, raising from a signal is not */
static void lstop (lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void setsignal (int sig, void (*handler) (int)) {
  struct sigaction sa;
  sa.sa_handler = handler;
  sa.sa_flags = 0;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

/* SIGINT: stop the Lua code at its next step; a second Ctrl-C kills the process */
static void laction (int sig) {
  int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
  setsignal(sig, SIG_DFL);
  lua_sethook(globalL, lstop, flag, 1);
}

/* turns the error object into a message with a traceback (or its own __tostring). An error
   that luagrad caught in the user's code and raised again gets the traceback of where it was
   raised, which the module keeps (its registry function "luagrad.errortrace", the one behind
   lg.traceback: errortrace(err, level) gives it when the function at that level raised err
   again for luagrad) */
static int msghandler (lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {  /* not a string or number */
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;  /* the object describes itself: lua adds no traceback here either */
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  if (lua_getfield(L, LUA_REGISTRYINDEX, "luagrad.errortrace") == LUA_TFUNCTION) {
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 1);  /* the level that raised it, counted from here */
    lua_call(L, 2, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      lua_pushfstring(L, "%s\n%s", msg, lua_tostring(L, -1));
      return 1;
    }
  }
  lua_pop(L, 1);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* calls the function under narg arguments, with msghandler and Ctrl-C handling */
static int docall (lua_State *L, int narg, int nres) {
  int status;
  int base = lua_gettop(L) - narg;  /* the function's index */
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  globalL = L;
  setsignal(SIGINT, laction);
  status = lua_pcall(L, narg, nres, base);
  setsignal(SIGINT, SIG_DFL);  /* outside Lua code, Ctrl-C ends the process */
  lua_remove(L, base);
  return status;
}

static int dochunk (lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

/* name NULL: stdin */
static int dofile (lua_State *L, const char *name) {
  return dochunk(L, luaL_loadfile(L, name));
}

static int dostring (lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l spec: spec is "mod" (global mod = require "mod") or "g=mod" (global g) */
static int dolibrary (lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *modname = (eq != NULL) ? eq + 1 : spec;
  int status;
  /* copy the global's name, as argv (and so arg) must not change */
  lua_pushlstring(L, spec, (eq != NULL) ? (size_t)(eq - spec) : strlen(spec));
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  status = docall(L, 1, 1);
  if (status == LUA_OK)
    lua_setglobal(L, lua_tostring(L, -2));  /* the name stays anchored at -2 meanwhile */
  lua_remove(L, (status == LUA_OK) ? -1 : -2);  /* the name */
  return report(L, status);
}

/* LUA_INIT_5_4, or else LUA_INIT: "@file" runs the file, anything else is code */
static int handle_luainit (lua_State *L) {
  const char *name = "=" INITVARVERSION;  /* "=" names the chunk as the variable, verbatim */
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=" INITVAR;
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  else if (init[0] == '@') return dofile(L, init + 1);
  else return dostring(L, init, name);
}

/* ---- the REPL --------------------------------------------------------------- */

/* _PROMPT and _PROMPT2 override the prompts, as in lua: pushes the prompt and returns it */
static const char *pushprompt (lua_State *L, int firstline) {
  if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
    lua_pop(L, 1);
    return lua_pushstring(L, firstline ? "> " : ">> ");
  }
  else {
    const char *p = luaL_tolstring(L, -1, NULL);
    lua_remove(L, -2);
    return p;
  }
}

#if defined(LUAGRAD_READLINE)
static int use_readline = 0;  /* stdin is a terminal: read through readline */

/* readline's line, pushed; 0 at end of input */
static int readline_push (lua_State *L, int firstline) {
  char *line = readline(pushprompt(L, firstline));
  lua_pop(L, 1);
  if (line == NULL) return 0;
  lua_pushstring(L, line);
  free(line);
  return 1;
}

/* a chunk that compiled (or failed with anything but an unfinished end), for the Up arrow */
static void saveline (const char *chunk) {
  if (use_readline && chunk[0] != '\0') add_history(chunk);
}
#else
#define readline_push(L, firstline) ((void)(L), (void)(firstline), 0)
#define saveline(chunk) ((void)(chunk))
static const int use_readline = 0;
#endif

/* pushes the next line of stdin without its newline, of any length; 0 at end of input */
static int pushline (lua_State *L, int firstline) {
  luaL_Buffer b;
  int got = 0;  /* read anything? */
  if (use_readline) {
    if (!readline_push(L, firstline)) return 0;
    got = 1;
    goto done;
  }
  fputs(pushprompt(L, firstline), stdout);
  fflush(stdout);
  lua_pop(L, 1);
  luaL_buffinit(L, &b);
  for (;;) {  /* in buffer-sized pieces, as io.read("l") does */
    char *p = luaL_prepbuffer(&b);
    size_t l;
    if (fgets(p, LUAL_BUFFERSIZE, stdin) == NULL) break;
    got = 1;
    l = strlen(p);
    if (l > 0 && p[l - 1] == '\n') {  /* the end of the line */
      luaL_addsize(&b, l - 1);
      break;
    }
    luaL_addsize(&b, l);
  }
  luaL_pushresult(&b);
  if (!got) {
    lua_pop(L, 1);
    return 0;
  }
done:
  if (firstline && lua_tostring(L, -1)[0] == '=') {  /* "=x" means "return x", as in 5.2 */
    lua_pushfstring(L, "return %s", lua_tostring(L, -1) + 1);
    lua_remove(L, -2);
  }
  return 1;
}

/* a syntax error at <eof> means the chunk may go on in the next line */
static int incomplete (lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg, lmark = sizeof(EOFMARK) - 1;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    if (lmsg >= lmark && strcmp(msg + lmsg - lmark, EOFMARK) == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

/* compiles "return <line>;" so that expressions print their values */
static int addreturn (lua_State *L) {
  const char *retline = lua_pushfstring(L, "return %s;", lua_tostring(L, -1));
  int status = luaL_loadbufferx(L, retline, strlen(retline), "=stdin", "t");
  if (status == LUA_OK)
    lua_remove(L, -2);  /* the modified line */
  else
    lua_pop(L, 2);  /* the error message and the modified line */
  return status;
}

/* compiles the line as a statement, reading more lines while it is incomplete */
static int multiline (lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbufferx(L, line, len, "=stdin", "t");  /* text: see the top */
    if (status == LUA_ERRSYNTAX && line[0] == '\033') {  /* an arrow key, read as text */
      lua_pop(L, 1);
      lua_pushliteral(L, "stdin: a key (an arrow?) reached the REPL as text: this luagrad has "
                      "no line editing (install libreadline-dev, then build again)");
      saveline(line);
      return status;
    }
    if (!incomplete(L, status) || !pushline(L, 0)) {
      saveline(line);
      return status;
    }
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);  /* line .. "\n" .. next line, at index 1 */
  }
}

/* leaves the compiled chunk (or error message) alone on the stack; -1 at end of input */
static int loadline (lua_State *L) {
  int status;
  lua_settop(L, 0);
  if (!pushline(L, 1))
    return -1;
  if ((status = addreturn(L)) != LUA_OK)
    status = multiline(L);
  else
    saveline(lua_tostring(L, 1));
  lua_remove(L, 1);  /* the line */
  return status;
}

/* prints all the results through the global print, so __tostring applies */
static void l_print (lua_State *L) {
  int n = lua_gettop(L);
  if (n > 0) {
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
      l_message(progname, lua_pushfstring(L, "error calling 'print' (%s)",
                                          lua_tostring(L, -1)));
  }
}

/* The module as the globals lg and luagrad, for the REPL: what one types first there */
static int bindmodule (lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luagrad");
  lua_call(L, 1, 1);
  lua_pushvalue(L, -1);
  lua_setglobal(L, "lg");
  lua_setglobal(L, "luagrad");
  return 0;
}

/* errors in the REPL are reported and forgotten: they change no exit status */
static void doREPL (lua_State *L) {
  int status;
  const char *oldprogname = progname;
  lua_pushcfunction(L, bindmodule);
  report(L, docall(L, 0, 0));
#if defined(LUAGRAD_READLINE)
  use_readline = isatty(0);
  rl_readline_name = "luagrad";
#endif
  progname = NULL;
  while ((status = loadline(L)) != -1) {
    if (status == LUA_OK)
      status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) l_print(L);
    else report(L, status);
  }
  lua_settop(L, 0);
  fputs("\n", stdout);
  fflush(stdout);
  progname = oldprogname;
}

/* ---- options and main ------------------------------------------------------- */

/* what collectargs found: has_error for a bad option, has_h for -h or --help */
enum { has_error = 1, has_i = 2, has_v = 4, has_e = 8, has_E = 16, has_h = 32 };

/*
** Checks the options; sets *first to the index of the script (argc when there is none),
** or of the bad option. -e, -l and -W are acted on later, by runargs, in their order.
*/
static int collectargs (char **argv, int *first) {
  int args = 0;
  int i;
  for (i = 1; argv[i] != NULL; i++) {
    *first = i;
    if (argv[i][0] != '-')  /* the script */
      return args;
    switch (argv[i][1]) {
      case '-':
        if (strcmp(argv[i], "--help") == 0) return args | has_h;
        if (argv[i][2] != '\0') return has_error;
        *first = i + 1;  /* "--": what follows is the script */
        return args;
      case '\0':  /* "-": the script is stdin */
        return args;
      case 'E': args |= has_E; break;
      case 'W': break;
      case 'h': args |= has_h; break;
      case 'i': args |= has_i | has_v; break;  /* -i shows the version, as in lua */
      case 'v': args |= has_v; break;
      case 'e': case 'l':  /* both need an argument: "-lname" or "-l name" */
        if (argv[i][1] == 'e') args |= has_e;
        if (argv[i][2] == '\0') {
          i++;
          if (argv[i] == NULL || argv[i][0] == '-')
            return has_error;  /* *first still names the option */
        }
        continue;
      default:
        return has_error;
    }
    if (argv[i][2] != '\0')  /* a flag with extra characters, "-vx" */
      return has_error;
    if (args & has_h)  /* nothing else runs */
      return args;
  }
  *first = i;
  return args;
}

/* runs -e, -l and -W in their order; 0 when one fails */
static int runargs (lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    int option = argv[i][1];
    if (option == 'e' || option == 'l') {
      const char *extra = argv[i] + 2;
      int status;
      if (*extra == '\0') extra = argv[++i];  /* collectargs checked it is there */
      status = (option == 'e') ? dostring(L, extra, "=(command line)")
                               : dolibrary(L, extra);
      if (status != LUA_OK) return 0;
    }
    else if (option == 'W')
      lua_warning(L, "@on", 0);
  }
  return 1;
}

/*
** arg[0] is the script, arg[1..n] its arguments, and the interpreter and options go to
** negative indices. With no script, arg[0] is the interpreter and the options follow it.
*/
static void createargtable (lua_State *L, char **argv, int argc, int script) {
  int i, narg;
  if (script == argc) script = 0;
  narg = argc - (script + 1);
  lua_createtable(L, narg, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* pushes arg[1..n], the script's `...` */
static int pushargs (lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE)
    luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++)
    lua_rawgeti(L, -i, i);
  lua_remove(L, -i);  /* the table */
  return n;
}

static int handle_script (lua_State *L, char **argv) {
  const char *fname = argv[0];
  int status;
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
    fname = NULL;  /* "-" is stdin, unless "--" made it a file name */
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK)
    status = docall(L, pushargs(L), LUA_MULTRET);
  return report(L, status);
}

/* everything runs here, under lua_pcall, so that even memory errors are caught */
static int pmain (lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script = argc;
  int args = collectargs(argv, &script);
  int optlim = (script < argc) ? script : argc;  /* the first argument that is no option */
  luaL_checkversion(L);
  if (args == has_error) {
    badoption(argv[script]);
    return 0;
  }
  if (args & has_h) {
    usage(stdout);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (args & has_v) print_version();
  if (args & has_E) {  /* the package library reads this: no LUA_PATH or LUA_CPATH */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  lg_preload(L);
  createargtable(L, argv, argc, script);
  lua_gc(L, LUA_GCRESTART);  /* stopped by main while the state was built */
  lua_gc(L, LUA_GCGEN, 0, 0);  /* generational, as lua 5.4 runs */
  if (!(args & has_E) && handle_luainit(L) != LUA_OK)
    return 0;
  if (!runargs(L, argv, optlim))
    return 0;
  if (script < argc && handle_script(L, argv + script) != LUA_OK)
    return 0;
  if (args & has_i)
    doREPL(L);
  else if (script == argc && !(args & (has_e | has_v))) {  /* nothing asked: read stdin */
    if (isatty(0)) {
      print_version();
      doREPL(L);
    }
    else if (dofile(L, NULL) != LUA_OK)  /* lua 5.4.4 exits 0 here; any error is 1 */
      return 0;
  }
  lua_pushboolean(L, 1);  /* success */
  return 1;
}

int main (int argc, char **argv) {
  int status, result;
  lua_State *L = luaL_newstate();
  if (argv[0] != NULL && argv[0][0] != '\0') progname = argv[0];
  if (L == NULL) {
    l_message(progname, "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_gc(L, LUA_GCSTOP);  /* no collections while the libraries load */
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  result = lua_toboolean(L, -1);
  report(L, status);
  lua_close(L);
  return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}

