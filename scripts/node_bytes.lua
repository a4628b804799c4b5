-- Prints the Lua heap bytes one Value takes, by kind, under the interpreter running it:
--   LUA_PATH='lua/?.lua;lua/?/init.lua' LUA_CPATH='build/lua/?.so' lua5.4 scripts/node_bytes.lua
-- (build/lua5.1/?.so for lua5.1, and so on). The README's table of bytes per node comes from it.
local lg = require("luagrad")
local jit = rawget(_G, "jit")   -- LuaJIT's module, nil elsewhere
local n = 200000

local function fullgc ()
  collectgarbage("collect")
  collectgarbage("collect")
end

-- bytes per element of t after filling t[1..n] with make(i)
local function measure (make)
  local t = {}
  for i = 1, n do t[i] = false end   -- the table's own slots are not counted
  fullgc()
  local before = collectgarbage("count")
  for i = 1, n do t[i] = make(i) end
  fullgc()
  return (collectgarbage("count") - before) * 1024 / n, t
end

local x, y = lg.value(1), lg.value(2)
local kinds = {
  { "leaf", function (i) return lg.value(i) end },
  { "unary (one parent)", function () return x:exp() end },
  { "binary, one parent and a constant", function () return x * 3 end },
  { "binary, two parents", function () return x * y end },
  { "sum of 4 Values", function () return lg.sum({ x, y, x, y }) end },
}
print(("%s (%s)"):format(jit and jit.version or _VERSION, lg._VERSION))
for _, k in ipairs(kinds) do
  print(("  %-36s %6.1f bytes"):format(k[1], (measure(k[2]))))
end
