-- luagrad.shared: what init.lua and functional.lua both use.
-- Loading touches only the base library (see init.lua).
local _, core, loadpart = ...
if type(core) ~= "table" then core = require("luagrad.core") end
local error, pcall, type = error, pcall, type
local scope = core._scope   -- a token for a scope, opened only for what can be called

local M = {}

-- run(closer, f, ...): f(...), then closer:close() however f ends; f's error passes through
-- unchanged. On 5.4 closer is a to-be-closed variable (luagrad.close), so the error keeps its
-- traceback; elsewhere Lua's pcall, and the error raised again (its message keeps the
-- position where f failed). Either way f may yield on 5.2+ and LuaJIT.
if _VERSION == "Lua 5.4" then
  M.run = loadpart and loadpart("luagrad.close") or require("luagrad.close")
else
  local function leave (closer, ok, ...)
    closer:close()
    if not ok then error((...), 0) end
    return ...
  end
  M.run = function (closer, f, ...) return leave(closer, pcall(f, ...)) end
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
