-- LuaRocks package for Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT. From a clone, offline:
--   luarocks --lua-version=5.4 make luagrad-scm-1.rockspec
-- (the README shows LuaJIT, a private tree, and the test).
rockspec_format = "3.0"
package = "luagrad"
version = "scm-1"
source = {
  url = "git+file://./luagrad",   -- no public repository yet: `luarocks make` builds the clone
}
description = {
  summary = "Reverse-mode automatic differentiation for Lua, with a C core",
  detailed = [[
Values are Lua userdata recorded as a script computes with them (+ - * / ^, exp, log, tanh,
relu, sum, dot ...); v:backward() hands every Value d(output)/d(value). The garbage
collector frees a graph when nothing reaches it. Graphs of millions of nodes and chains
millions deep work.]],
  labels = { "autodiff", "gradient", "machine-learning" },
  license = "MIT",   -- LICENSE
}
dependencies = {
  "lua >= 5.1, < 5.5",
}
external_dependencies = {
  ZLIB = { header = "zlib.h", library = "z" },   -- Debian: zlib1g-dev
}
build = {
  type = "builtin",
  modules = {
    ["luagrad.core"] = {
      sources = { "src/core/ops.c", "src/core/call.c", "src/core/work.c", "src/core/text.c",
                  "src/core/shape.c", "src/core/iter.c", "src/core/reduce.c",
                  "src/core/blas.c", "src/core/random.c",
                  "src/core/tnode.c", "src/core/tops.c", "src/core/safetensors.c",
                  "src/core/csv.c", "src/core/idx.c", "src/core/gzip.c", "src/core/rows.c",
                  "src/core/optim.c",
                  "src/graph/order.c", "src/graph/sweep.c", "src/graph/tape.c", "src/graph/kinds.c",
                  "src/graph/graphmode.c",
                  "src/graph/dot.c", "src/graph/arena.c",
                  "src/lua/base.c", "src/lua/trace.c", "src/lua/record.c", "src/lua/tensor.c",
                  "src/lua/tensorops.c",
                  "src/lua/ops.c", "src/lua/host.c",
                  "src/lua/custom.c", "src/lua/grad.c", "src/lua/value.c",
                  "src/lua/compile.c", "src/lua/data.c", "src/lua/save.c", "src/lua/optim.c", "src/lua/sys.c",
                  "src/lua/open.c",
                  "src/lua/noembed.c" },
      defines = { "LUAGRAD_HAVE_ZLIB" },   -- gzip IDX files (lg.data.read_idx)
      incdirs = { "include", "src", "$(ZLIB_INCDIR)" },
      libdirs = { "$(ZLIB_LIBDIR)" },
      libraries = { "m", "z" },
    },
    luagrad = "lua/luagrad/init.lua",
    ["luagrad.busted"] = "lua/luagrad/busted.lua",
    ["luagrad.shared"] = "lua/luagrad/shared.lua",
    ["luagrad.functional"] = "lua/luagrad/functional.lua",
    ["luagrad.tree"] = "lua/luagrad/tree.lua",
    ["luagrad.data"] = "lua/luagrad/data.lua",
    ["luagrad.nn"] = "lua/luagrad/nn.lua",
    ["luagrad.options"] = "lua/luagrad/options.lua",
    ["luagrad.svg"] = "lua/luagrad/svg.lua",
    ["luagrad.contour"] = "lua/luagrad/contour.lua",
    ["luagrad.plot"] = "lua/luagrad/plot.lua",
    ["luagrad.progress"] = "lua/luagrad/progress.lua",
    ["luagrad.optim"] = "lua/luagrad/optim.lua",
  },
}
test = {
  type = "command",
  script = "tests/rock_check.lua",
}
