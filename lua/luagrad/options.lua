-- luagrad.options: checking the options table of a Lua part's function (plot, progress):
-- an unknown name or a bad value is an error in the library's shapes,
--   luagrad.<fn>: unknown option 'titel'
--   luagrad.<fn>: bad option 'width' (a number from 200 to 10000 expected, got 50)
-- Internal: these names may change.
--
-- Loading touches only the base library (see init.lua): string and table are looked up when
-- an options table is checked.
local _, core = ...
if type(core) ~= "table" then core = require("luagrad.core") end
local lg = core
local error, ipairs, pairs, tostring, type = error, ipairs, pairs, tostring, type

local options = {}

local function typename (x) return lg.type(x) or type(x) end

-- v as a message shows it: a number to 6 decimals at most, a string quoted, else its type
local function shown (v)
  if type(v) == "number" then
    local s = string.format("%.6f", v):gsub(",", ".")
    if s:find("%.") then s = s:gsub("0+$", ""):gsub("%.$", "") end
    return v ~= v and "nan" or s
  elseif type(v) == "string" then
    return string.format("%q", v)
  end
  return typename(v)
end
options.shown = shown

--[[
options.check(fn, opts, specs, arg) -> opts (a new empty table for nil)
opts must be a table (else "bad argument #arg"); each of its names must be a key of specs,
whose value is the name's check: a function of the value returning whether it is good and,
when not, what was expected. The names are checked in sorted order, so that the message is
the same on every run. The caller's caller is blamed.
]]
function options.check (fn, opts, specs, arg)
  if opts == nil then return {} end
  if type(opts) ~= "table" or lg.type(opts) then
    error(string.format("luagrad.%s: bad argument #%d (table expected, got %s)", fn, arg,
                        typename(opts)), 3)
  end
  local names = {}
  for k in pairs(opts) do
    if type(k) ~= "string" or specs[k] == nil then
      error(string.format("luagrad.%s: unknown option %s", fn, type(k) == "string" and
                          "'" .. k .. "'" or "(a " .. type(k) .. " key)"), 3)
    end
    names[#names + 1] = k
  end
  table.sort(names)
  for _, k in ipairs(names) do
    local ok, what = specs[k](opts[k])
    if not ok then
      error(string.format("luagrad.%s: bad option '%s' (%s expected, got %s)", fn, k, what,
                          shown(opts[k])), 3)
    end
  end
  return opts
end

-- The checks: a value of Lua type t; a number from lo to hi; one of the values given
function options.kind (t)
  return function (v) return type(v) == t, t end
end
options.STRING, options.BOOLEAN = options.kind("string"), options.kind("boolean")
options.FUNCTION = options.kind("function")

function options.between (lo, hi)
  return function (v)
    return type(v) == "number" and v >= lo and v <= hi,
           "a number from " .. shown(lo) .. " to " .. shown(hi)
  end
end

function options.oneof (...)
  local list = { ... }
  return function (v)
    local names = {}
    for i, x in ipairs(list) do
      if x == v then return true end
      names[i] = type(x) == "string" and string.format("%q", x) or tostring(x)
    end
    return false, table.concat(names, ", ", 1, #names - 1) .. " or " .. names[#names]
  end
end

return options
