-- luagrad.data: data sets as tensors. read_csv and read_idx read a file with Lua's io and
-- hand its bytes to the C parsers (lg._data, src/lua/data.c); batches and split pick rows,
-- copied by a C loop. Nothing here records history: batches are data.
--
--   local X, header = data.read_csv("iris.csv")
--   local Xtr, ytr, Xte, yte = data.split(X, y, 0.8)
--   for xb, yb in data.batches(Xtr, ytr, {batch_size = 16}) do ... end
local _, core = ...
if type(core) ~= "table" then core = require("luagrad.core") end
local lg = core
local C = lg._data

-- Loading touches only the base library (see init.lua); io and string are looked up when a
-- file is read or a message written, so that a host without io can still load the module.
local error, next, rawget, tostring, type = error, next, rawget, tostring, type

local function format (...) return string.format(...) end

local function typename (x) return lg.type(x) or type(x) end

local M = { gzip = C.gzip }   -- whether read_idx reads gzip files (the build has zlib)

-- What a message says was got: the value itself when it has the expected type (a number or
-- a string out of range: "got 0", "got '::'"), else its type.
local function got (x, expected)
  if type(x) ~= expected then return typename(x) end
  if type(x) == "number" then return format("%.14g", x) end
  return format("'%s'", x)
end

-- Errors are raised at the level of the line that called data.<fn>: level 3 from a helper
-- that the public function calls (the helper is level 1), 4 from a helper's helper.
local function argerror (fn, i, what, x, level, expected)
  error(format("luagrad.data.%s: bad argument #%d (%s expected, got %s)", fn, i, what,
               got(x, expected)), level or 3)
end

-- The options table opts (nil: none) of fn, its keys among names (a set); read raw.
local function checkoptions (fn, i, opts, names)
  if opts == nil then return {} end
  if type(opts) ~= "table" or lg.type(opts) then argerror(fn, i, "table", opts) end
  for k in next, opts do
    if not names[k] then
      if type(k) == "string" then error(format("luagrad.data.%s: unknown option '%s'", fn, k), 3) end
      error(format("luagrad.data.%s: unknown option (a %s key)", fn, type(k)), 3)
    end
  end
  return opts
end

local function option (fn, opts, name, default, ok, what)
  local x = rawget(opts, name)
  if x == nil then return default end
  if not ok(x) then
    error(format("luagrad.data.%s: bad option '%s' (%s expected, got %s)", fn, name, what,
                 got(x, type(default))), 3)
  end
  return x
end

local function isboolean (x) return type(x) == "boolean" end

local function ispositive (x) return type(x) == "number" and x >= 1 and x % 1 == 0 and x < 1 / 0 end

local function isseparator (x)
  return type(x) == "string" and #x == 1 and x ~= '"' and x ~= "\n" and x ~= "\r"
end

-- The bytes of the file at path, read for fn (the error names the file and why).
local function slurp (fn, path)
  local lib = io   -- looked up now: a sandbox may have removed it
  if type(lib) ~= "table" or type(lib.open) ~= "function" then
    error(format("luagrad.data.%s: cannot read '%s' (this Lua state has no io library)",
                 fn, path), 3)
  end
  local f, why = lib.open(path, "rb")
  if f == nil then
    why = tostring(why)
    if why:sub(1, #path + 2) == path .. ": " then why = why:sub(#path + 3) end
    error(format("luagrad.data.%s: cannot open '%s' (%s)", fn, path, why), 3)
  end
  local text, rwhy = f:read("*a")
  f:close()
  if text == nil then
    error(format("luagrad.data.%s: cannot read '%s' (%s)", fn, path, tostring(rwhy)), 3)
  end
  return text
end

local csvoptions = { header = true, sep = true }

--[[
data.read_csv(path [, {header = true, sep = ","}]) -> X, header
X: a rows x columns float64 tensor of the file's numbers; header: the first record's fields
as strings (nil with header = false). A field that is not a number, a record with another
number of fields than the first, a quote left open: an error naming the line (and column).
]]
function M.read_csv (path, opts)
  if type(path) ~= "string" then argerror("read_csv", 1, "string", path) end
  opts = checkoptions("read_csv", 2, opts, csvoptions)
  local header = option("read_csv", opts, "header", true, isboolean, "boolean")
  local sep = option("read_csv", opts, "sep", ",", isseparator,
                     "one character other than a quote or a line break")
  local text = slurp("read_csv", path)
  local X, names = C.csv(text, path, sep, header)   -- not a tail call: errors name the caller
  return X, names
end

--[[
data.read_idx(path) -> X
The IDX file at path (MNIST's format; gzip-compressed when it starts as gzip does) as a
float64 tensor of its sizes. A malformed file is an error naming it.
]]
function M.read_idx (path)
  if type(path) ~= "string" then argerror("read_idx", 1, "string", path) end
  local X = C.idx(slurp("read_idx", path), path)
  return X
end

-- The number of rows of X and of Y (nil or a tensor), checked to agree, for fn.
local function rows (fn, X, Y)
  if lg.type(X) ~= "tensor" then argerror(fn, 1, "tensor", X, 4) end
  if Y ~= nil and lg.type(Y) ~= "tensor" then argerror(fn, 2, "tensor or nil", Y, 4) end
  local n = #X
  if Y ~= nil and #Y ~= n then
    error(format("luagrad.data.%s: X has %d rows and Y has %d", fn, n, #Y), 3)
  end
  return n
end

local batchoptions = { batch_size = true, shuffle = true, drop_last = true }

--[[
data.batches(X [, Y] [, {batch_size = 32, shuffle = true, drop_last = false}]) -> iterator
Each step gives xb (and yb): batch_size rows of X (and the same rows of Y), fresh tensors
with no history. With shuffle, the order is a permutation drawn from lg.manual_seed's
generator when batches is called: the same seed gives the same batches, and each call (each
pass) a new order. The last batch holds what is left, unless drop_last.
]]
function M.batches (X, Y, opts)
  if opts == nil and type(Y) == "table" and lg.type(Y) == nil and rawget(Y, 1) == nil then
    Y, opts = nil, Y   -- batches(X, opts)
  end
  local n = rows("batches", X, Y)
  opts = checkoptions("batches", 3, opts, batchoptions)
  local size = option("batches", opts, "batch_size", 32, ispositive, "positive integer")
  local shuffle = option("batches", opts, "shuffle", true, isboolean, "boolean")
  local drop = option("batches", opts, "drop_last", false, isboolean, "boolean")
  local order = (shuffle and n > 0) and lg.randperm(n) or nil
  local first = 1
  return function ()
    local count = n - first + 1
    if count > size then count = size end
    if count <= 0 or (drop and count < size) then return nil end
    local xb = C.rows(X, first, count, order)
    local yb = Y and C.rows(Y, first, count, order)
    first = first + count
    return xb, yb
  end
end

--[[
data.split(X, Y, fraction) -> Xtrain, Ytrain, Xtest, Ytest
The first round(fraction * rows) rows for training, the rest for testing, in order (shuffle
first where the file is sorted). Y may be nil (then Ytrain and Ytest are nil), or left
out: data.split(X, fraction).
]]
function M.split (X, Y, fraction)
  if fraction == nil and type(Y) == "number" then Y, fraction = nil, Y end
  local n = rows("split", X, Y)
  if type(fraction) ~= "number" or not (fraction >= 0 and fraction <= 1) then
    argerror("split", 3, "number from 0 to 1", fraction, 3, "number")
  end
  local k = fraction * n + 0.5
  k = k - k % 1
  local Xtrain, Xtest = C.rows(X, 1, k), C.rows(X, k + 1, n - k)
  if Y == nil then return Xtrain, nil, Xtest, nil end
  return Xtrain, C.rows(Y, 1, k), Xtest, C.rows(Y, k + 1, n - k)
end

return M
