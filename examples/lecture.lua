-- The lecture's example: J = 3(a + bc) with a = 5, b = 3, c = 2, forward left to right, then
-- backward right to left, with the lecture's own check beside each derivative: nudge that
-- variable by 0.001, recompute J, and look at the slope.
-- Run: build/luagrad examples/lecture.lua [outdir]  (writes outdir/lecture.dot and .svg)
local lg = require("luagrad")

local function forward (a, b, c)
  local u = b * c
  local v = a + u
  local J = 3 * v
  return J, u, v
end

local a, b, c = lg.value(5, "a"), lg.value(3, "b"), lg.value(2, "c")
local J, u, v = forward(a, b, c)
u.label, v.label, J.label = "u", "v", "J"
-- %.1f, not tostring: Lua 5.1, 5.2 and LuaJIT print the float 6.0 as "6"
print(string.format("forward:  u = b*c = %.1f   v = a+u = %.1f   J = 3v = %.1f",
                    u.data, v.data, J.data))

J:backward()

-- The lecture's check, on plain numbers: J with one variable 0.001 larger. u and v are
-- nudged by holding them at their value + 0.001 instead of computing them.
local h = 0.001
local at = {a = 5, b = 3, c = 2, u = 6, v = 11}
local function J_of (x)
  local uu = x.u or x.b * x.c
  local vv = x.v or x.a + uu
  return 3 * vv
end
local function slope (name)
  local base, nudged = {a = 5, b = 3, c = 2}, {a = 5, b = 3, c = 2}
  nudged[name] = at[name] + h
  return (J_of(nudged) - J_of(base)) / h
end

print()
print(string.format("%-8s %8s %16s", "dvar", "backward", "nudge by 0.001"))
for _, row in ipairs({ {"dJ/dv", v, "v"}, {"dJ/da", a, "a"}, {"dJ/du", u, "u"},
                       {"dJ/db", b, "b"}, {"dJ/dc", c, "c"} }) do
  print(string.format("%-8s %8.4g %16.6f", row[1], row[2].grad, slope(row[3])))
end

local outdir = arg and arg[1] or "."
local path = outdir .. "/lecture.dot"
local f = assert(io.open(path, "w"))
f:write(lg.to_dot(J))
f:close()
print()
print("graph: " .. path)
local function succeeded (cmd)   -- os.execute gives true from Lua 5.2 on, 0 in 5.1 and LuaJIT
  local r = os.execute(cmd)
  return r == true or r == 0
end
if succeeded("command -v dot >/dev/null 2>&1") then
  local svg = outdir .. "/lecture.svg"
  if succeeded(string.format("dot -Tsvg %q -o %q", path, svg)) then print("picture: " .. svg) end
end
