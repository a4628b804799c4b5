-- luacheck configuration: `luacheck .` from the top of the tree (make test runs it as `lint`).
-- The library and the examples run on every Lua, so they may use only what all of 5.1, 5.2,
-- 5.3, 5.4 and LuaJIT have (std "min"). Specs and benchmarks run on every Lua too, but test
-- for version-specific names at run time (`if math.type then`), so they see the union ("max").
include_files = { "lua/**/*.lua", "examples/**/*.lua", "spec/**/*.lua", "bench/**/*.lua",
                  "scripts/**/*.lua", ".luacheckrc", "*.rockspec" }
exclude_files = { "build*/**" }
std = "min"

files["spec/"] = {
  std = "max+busted",
  -- Specs set locals to nil on purpose, so that the collector may free what they held, and
  -- callbacks take the arguments their caller passes whether they use them or not.
  ignore = { "212", "231", "241", "311" },
}
files["bench/"] = { std = "max" }
files[".luacheckrc"] = { globals = { "include_files", "exclude_files", "std", "files" } }
files["*.rockspec"] = { globals = { "rockspec_format", "package", "version", "source",
                                    "description", "dependencies", "external_dependencies",
                                    "build", "test" } }
-- the LÖVE toy runs in LÖVE's LuaJIT only, with LÖVE's callbacks as globals
files["examples/love/"] = { std = "luajit+love" }
