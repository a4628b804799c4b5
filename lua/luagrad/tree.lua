-- luagrad.tree: argument trees, as JAX's pytrees. A tree is a leaf, or a Lua table (not a
-- Value or tensor) whose entries are trees: its array part first, in index order (1 .. its
-- raw length), then its string keys in byte order. Leaves are numbers, Values and tensors
-- (what can be differentiated); anything else (strings, booleans, functions, other userdata)
-- passes through unchanged and has no derivative. Tables are read raw, as the core reads
-- every table: metamethods are ignored.
--
--   local leaves, def = tree.flatten(x)      -- the differentiable leaves, in order
--   tree.unflatten(def, leaves)              -- x again, with those leaves replaced
--   tree.unflatten(def, grads, true)         -- the same shape, pass-through leaves absent
local _, core = ...
if type(core) ~= "table" then core = require("luagrad.core") end
local lg = core

-- Loading touches only the base library (see init.lua); string's format is looked up when
-- an error is raised, and keys are sorted here.
local error, next, rawget, type = error, next, rawget, type
local rawlen = rawlen or function (t) return #t end   -- luacheck: ignore 113
local function format (...) return string.format(...) end

-- a sorted in place (strings, byte order), by merging runs: n log n, and no table library
local function sort (a)
  local n, width, src, dst = #a, 1, a, {}
  while width < n do
    for lo = 1, n, 2 * width do
      local mid, hi = lo + width, lo + 2 * width
      if mid > n + 1 then mid = n + 1 end
      if hi > n + 1 then hi = n + 1 end
      local i, j = lo, mid
      for k = lo, hi - 1 do
        if i < mid and (j >= hi or src[i] <= src[j]) then dst[k] = src[i]; i = i + 1
        else dst[k] = src[j]; j = j + 1 end
      end
    end
    src, dst = dst, src
    width = width * 2
  end
  if src ~= a then
    for k = 1, n do a[k] = src[k] end
  end
end

local M = {}

local MAXNEST = 64

-- a leaf that can be differentiated
local function isleaf (x)
  return type(x) == "number" or lg.type(x) ~= nil
end
M.isleaf = isleaf

-- A table that is a container, not a leaf of its own.
local function iscontainer (x)
  return type(x) == "table" and lg.type(x) == nil
end

-- The keys of container t in traversal order: 1 .. raw length, then string keys sorted.
-- Any other key (0, 2.5, a key past a hole, a boolean) is an error naming it.
local function keysof (t, fn, what)
  local n, keys, strings = rawlen(t), {}, {}
  for i = 1, n do keys[i] = i end
  for k in next, t do
    if type(k) == "string" then strings[#strings + 1] = k
    elseif not (type(k) == "number" and k >= 1 and k <= n and k % 1 == 0) then
      error(format("luagrad.%s: bad %s (a table's keys must be 1 .. #t or strings, got %s%s)",
                   fn, what, type(k), type(k) == "number" and format(" %.14g", k) or ""), 0)
    end
  end
  sort(strings)
  for i = 1, #strings do keys[n + i] = strings[i] end
  return keys
end

--[[
tree.flatten(x [, fn, what]) -> leaves, def. leaves is the array of x's differentiable
leaves in traversal order; def describes x: for a leaf `true`, for a pass-through value
{value = v}, for a container {keys = ..., children defs}. fn and what name x in errors
("grad", "argument #2").
]]
local function flatten (x, leaves, fn, what, depth)
  if isleaf(x) then
    leaves[#leaves + 1] = x
    return true
  end
  if not iscontainer(x) then return { value = x } end
  if depth >= MAXNEST then
    error(format("luagrad.%s: %s nested too deeply (or a table that contains itself)", fn,
                 what), 0)
  end
  local keys = keysof(x, fn, what)
  local def = { keys = keys }
  for i = 1, #keys do def[i] = flatten(rawget(x, keys[i]), leaves, fn, what, depth + 1) end
  return def
end

function M.flatten (x, fn, what)
  local leaves = {}
  local def = flatten(x, leaves, fn or "tree", what or "tree", 0)
  return leaves, def
end

-- Appends to leaves the leaves of x; returns x's def (tree.flatten over many).
function M.flattento (x, leaves, fn, what)
  return flatten(x, leaves, fn or "tree", what or "tree", 0)
end

--[==[
tree.unflatten(def, leaves [, pos [, bare]]) -> x, pos. The tree def describes, with its
leaves taken from leaves[pos + 1 ...] (pos defaults to 0), and the position after them.
With bare, pass-through values are left out (nil: what a gradient holds for them) and a
container whose entries are all left out is left out too.
]==]
local function unflatten (def, leaves, pos, bare)
  if def == true then return leaves[pos + 1], pos + 1 end
  if def.keys == nil then
    if bare then return nil, pos end
    return def.value, pos
  end
  local t, any = {}, false
  for i = 1, #def.keys do
    local v
    v, pos = unflatten(def[i], leaves, pos, bare)
    if v ~= nil then
      t[def.keys[i]] = v
      any = true
    end
  end
  if bare and not any and #def.keys > 0 then return nil, pos end
  return t, pos
end

function M.unflatten (def, leaves, pos, bare) return unflatten(def, leaves, pos or 0, bare) end

-- The number of differentiable leaves def holds.
local function count (def)
  if def == true then return 1 end
  local n = 0
  for i = 1, #(def.keys or {}) do n = n + count(def[i]) end
  return n
end
M.count = count

-- Whether two defs have the same structure (keys and leaf positions; pass-through values
-- not compared).
local function same (a, b)
  if a == true or b == true then return a == b end
  if (a.keys == nil) ~= (b.keys == nil) then return false end
  if a.keys == nil then return true end
  if #a.keys ~= #b.keys then return false end
  for i = 1, #a.keys do
    if a.keys[i] ~= b.keys[i] or not same(a[i], b[i]) then return false end
  end
  return true
end
M.same = same

return M
