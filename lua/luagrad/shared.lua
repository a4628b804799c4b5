-- luagrad.shared: what init.lua and functional.lua both use.
-- Loading touches only the base library (see init.lua).
local _, core = ...
if type(core) ~= "table" then core = require("luagrad.core") end
local select, type, xpcall = select, type, xpcall
local unpack = unpack   -- luacheck: ignore 113 (5.1's: only 5.1's xpcall needs it)
local scope = core._scope   -- a token for a scope, opened only for what can be called
local catch, rethrow = core._trace.catch, core._trace.rethrow

local M = {}

-- run(closer, f, ...): f(...), then closer:close() however f ends; what the scopes and
-- transforms of 5.1 and LuaJIT are made of (from 5.2 on the core's own C functions do
-- this), since only Lua's own pcall lets f yield there (LuaJIT). f's error passes through
-- unchanged: caught with the core's catcher, which keeps the traceback of where f raised
-- it, and raised again by the core, so that lg.traceback shows those frames.
local function leave (closer, ok, ...)
  closer:close()
  if not ok then rethrow((...)) end
  return ...
end
if select(2, xpcall(function (a) return a end, catch, true)) then   -- xpcall passes arguments
  M.run = function (closer, f, ...) return leave(closer, xpcall(f, catch, ...)) end
else   -- 5.1's xpcall calls f with none
  M.run = function (closer, f, ...)
    local n, args = select("#", ...), { ... }
    return leave(closer, xpcall(function () return f(unpack(args, 1, n)) end, catch))
  end
end

-- Whether f can be called: a function, or a table or userdata with __call (the core looks
-- behind a locked metatable, a compiled function's: it opens a scope only for a callable).
function M.callable (f)
  if type(f) == "function" then return true end
  local token = scope("enable_grad", f)
  if token then token:close() end
  return token ~= nil
end

-- t[i], ..., t[j]
local function spread (t, i, j)
  if i <= j then return t[i], spread(t, i + 1, j) end
end
M.spread = spread

-- The element at flat[pos + 1 ...] shaped as shape (true: one element; else a table of the
-- elements' shapes), and the new pos.
local function unflatten (shape, flat, pos)
  if shape == true then return flat[pos + 1], pos + 1 end
  if shape.tensor then   -- a tensor's elements (Values: lg.stack keeps them connected)
    local list = {}
    for i = 1, shape.n do list[i] = flat[pos + i] end
    return core.stack(list):reshape(shape.tensor), pos + shape.n
  end
  local t = {}
  for i = 1, #shape do t[i], pos = unflatten(shape[i], flat, pos) end
  return t, pos
end
M.unflatten = unflatten

-- Each argument's part of flat, shaped as shapes (with shapes.n of them) say: multiple results.
function M.unflattenall (shapes, flat)
  local out, pos = {}, 0
  for i = 1, shapes.n do out[i], pos = unflatten(shapes[i], flat, pos) end
  return spread(out, 1, shapes.n)
end

return M
