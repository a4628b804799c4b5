-- luagrad: reverse-mode automatic differentiation. The C core (luagrad.core) holds Values,
-- every op and backward; this file is the module table users get from require("luagrad"),
-- the place where the library's Lua parts join the core.
-- Loaded from a file, the arguments are (name, path); compiled into a host or the luagrad
-- command, they are (name, core), so that it also opens where `require` is removed.
local _, core, loadpart = ...
if type(core) ~= "table" then core = require("luagrad.core") end

local lg = core

-- The other Lua parts the module table is made of: each adds its functions to lg.
local function part (name)
  if loadpart then return loadpart(name) end
  return require(name)
end
local shared = part("luagrad.shared")   -- first: it keeps the core's lg.enable_grad
part("luagrad.functional")
lg.plot = part("luagrad.plot")           -- SVG figures
lg.progress = part("luagrad.progress")   -- a progress line for training loops

-- Parts loaded when first used, as fields of the module table: lg.data is the table that
-- require("luagrad.data") returns (the compiled-in copy, where `require` is missing).
local lazy = { data = "luagrad.data" }
lazy.nn = "luagrad.nn"                   -- modules and losses
lazy.optim = "luagrad.optim"   -- lg.optim: the optimizers and schedulers
local require, rawset, setmetatable = require, rawset, setmetatable
setmetatable(lg, { __index = function (t, k)
  local name = lazy[k]
  if name == nil then return nil end
  local m
  if require then m = require(name) else m = loadpart(name) end
  rawset(t, k, m)
  return m
end })
-- Loading touches only the base library: hosts may open luagrad in a state without math,
-- string or table. What gradcheck needs of them it looks up when it runs.
local error, ipairs, select, tonumber, type = error, ipairs, select, tonumber, type

local function abs (x) return x < 0 and -x or x end

local function format (...) return string.format(...) end

local function unpack (t, n)  -- t[1], ..., t[n], with no table library
  local function from (i)
    if i <= n then return t[i], from(i + 1) end
  end
  return from(1)
end

local function typename (x)
  return lg.type(x) or type(x)
end

local run, callable, unflattenall = shared.run, shared.callable, shared.unflattenall

-- lg.no_grad(f, ...) and lg.enable_grad(f, ...) are the core's: f runs under a pcall of its
-- own, which closes the scope however f ends, and from 5.2 on lets it yield. On 5.1 and
-- LuaJIT a C function cannot let f yield where Lua's pcall can (LuaJIT), so there the
-- function forms are made here from the core's lg._scope (which opens the scope only if f
-- can be called). A scope whose token is collected while open (a coroutine suspended in it
-- and dropped) ends then.
local function scoped (name, open, kind)
  return function (...)
    if select("#", ...) == 0 then return open() end
    local token = lg._scope(kind, (...))
    if not token then
      error(format("luagrad.%s: bad argument #1 (function expected, got %s)", name,
                   typename((...))), 2)
    end
    return run(token, ...)
  end
end
if _VERSION == "Lua 5.1" then
  lg.no_grad = scoped("no_grad", lg.no_grad, "no_grad")
  lg.enable_grad = scoped("enable_grad", lg.enable_grad, "enable_grad")
end

-- The shortest of %.15g, %.16g and %.17g that reads back as x (0.3, not 0.29999999999999999)
local function shortest (x)
  local s
  for digits = 15, 17 do
    s = format("%." .. digits .. "g", x)
    if tonumber(s) == x then return s end
  end
  return s   -- NaN and the infinities read back as nothing: their %.17g
end

-- Appends the numbers of x (a number or nested arrays of them) to flat, depth first; returns
-- x's shape (true for a number, else a table of its elements' shapes), or nil and what is
-- wrong, where: path names x ("index 2", then "inputs[2][1]" inside).
-- Tensor x's numbers appended to flat, each named in names by its argument and index.
local function flattentensor (x, flat, names, arg)
  local shape, first = x.shape, #flat
  local numbers = x:reshape(-1):totable()
  for e = 1, #numbers do
    local index, rest = "", e - 1
    for d = #shape, 1, -1 do
      local k = rest % shape[d]
      index = format(d == #shape and "%d%s" or "%d, %s", k + 1, index)
      rest = (rest - k) / shape[d]
    end
    flat[first + e] = numbers[e]
    names[first + e] = format("input %d element {%s}", arg, index)
  end
  return { tensor = shape, n = #numbers }
end

local function flatten (x, flat, path, nest, names, arg)
  if type(x) == "number" then
    flat[#flat + 1] = x
    return true
  elseif lg.type(x) == "tensor" then
    return flattentensor(x, flat, names, arg)
  elseif type(x) == "table" and lg.type(x) == nil and nest < 64 then
    local shape = {}
    for i = 1, #x do
      local inner = nest == 1 and path:gsub("^index ", "inputs[") .. "]" or path
      local s, bad = flatten(x[i], flat, format("%s[%d]", inner, i), nest + 1, names, arg)
      if s == nil then return nil, bad end
      shape[i] = s
    end
    return shape
  end
  return nil, format("at %s, got %s", path,
                     type(x) == "table" and "an array nested too deeply" or typename(x))
end

-- f's value (a number) at the numbers xs, with input i (if any) moved by d
local function evaluate (f, xs, i, d)
  local args = {}
  for j, x in ipairs(xs) do args[j] = lg.value(j == i and x + d or x) end
  local y = f(unpack(args, #xs))
  if lg.type(y) == "value" then return y.data end
  return y
end

--[[
Checks the arguments; returns f as a function of the flat inputs (each argument of f may be
a number or nested arrays of them, as lg.grad takes), the flat inputs, eps, atol and rtol.
]]
local function checkargs (fn, f, inputs, opts)
  if not callable(f) then
    error(format("luagrad.%s: bad argument #1 (function expected, got %s)", fn,
                 typename(f)), 3)
  end
  if type(inputs) ~= "table" or lg.type(inputs) then
    error(format("luagrad.%s: bad argument #2 (table expected, got %s)", fn,
                 typename(inputs)), 3)
  end
  local flat, shapes, nested, names = {}, { n = #inputs }, false, {}
  for i = 1, #inputs do
    local shape, bad = flatten(inputs[i], flat, format("index %d", i), 1, names, i)
    if shape == nil then
      error(format("luagrad.%s: bad argument #2 (number expected %s)", fn, bad), 3)
    end
    shapes[i] = shape
    if shape ~= true then nested = true end
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(format("luagrad.%s: bad argument #3 (table expected, got %s)", fn,
                 typename(opts)), 3)
  end
  opts = opts or {}
  local g = f
  if nested then
    g = function (...) return f(unflattenall(shapes, { ... })) end
  end
  for k = 1, #flat do names[k] = names[k] or format("input %d", k) end
  return g, flat, opts.eps or 1e-6, opts.atol or 1e-5, opts.rtol or 1e-3, names
end

-- f at fresh leaves for inputs: the leaves, and f's Value (anything else is an error).
local function record (fn, f, inputs)
  local leaves = {}
  for i, x in ipairs(inputs) do leaves[i] = lg.value(x) end
  local y = lg.enable_grad(f, unpack(leaves, #inputs))   -- recorded even inside lg.no_grad
  if lg.type(y) ~= "value" then
    error(format("luagrad.%s: the function must return a value, got %s", fn, typename(y)), 3)
  end
  return leaves, y
end

--[[
Compares the derivatives back[i] of f with central differences of f's value, input by
input: input i passes when |back - difference| <= atol + rtol * |difference|. Returns
whether all pass, and the worst input's index, report and score (error / tolerance).
]]
local function compare (f, inputs, back, eps, atol, rtol)
  local ok, worst, wi, wscore = true, nil, nil, -1
  for i, x in ipairs(inputs) do
    local diff = (evaluate(f, inputs, i, eps) - evaluate(f, inputs, i, -eps)) / (2 * eps)
    local tol = atol + rtol * abs(diff)
    local err = abs(back[i] - diff)
    local pass = err <= tol or (back[i] ~= back[i] and diff ~= diff)  -- NaN where both are
    local score = pass and err / tol or 1 / 0
    if not pass then ok = false end
    if score > wscore then
      wi, wscore = i, score
      worst = format("(x = %s): backward %s, central difference %s, error %.3g, tolerance %.3g",
                     shortest(x), shortest(back[i]), shortest(diff), err, tol)
    end
  end
  return ok, wi, worst, wscore
end

--[[
lg.gradcheck(f, inputs [, opts]) -> ok, report
Compares backward's gradient of f (a function of Values returning one Value) at the numbers
in the array inputs with central differences, as PyTorch's gradcheck does: input i passes
when |backward - difference| <= atol + rtol * |difference|. opts: eps (1e-6), atol (1e-5),
rtol (1e-3). report names the worst input and both numbers.
]]
function lg.gradcheck (f, inputs, opts)
  local eps, atol, rtol, names
  f, inputs, eps, atol, rtol, names = checkargs("gradcheck", f, inputs, opts)
  local leaves, y = record("gradcheck", f, inputs)
  y:backward()
  local back = {}
  for i, leaf in ipairs(leaves) do back[i] = leaf.grad end
  local ok, i, worst = compare(f, inputs, back, eps, atol, rtol)
  if worst == nil then return true, "no inputs" end
  return ok, (ok and "gradients agree; closest to failing: " or "gradients differ at ") ..
             names[i] .. " " .. worst
end

--[[
lg.gradgradcheck(f, inputs [, opts]) -> ok, report
The same for second derivatives: each entry of f's Hessian, made by differentiating the
gradient (itself Values, create_graph), against central differences of that gradient.
report names the worst entry: d/d(input j) of d/d(input i).
]]
function lg.gradgradcheck (f, inputs, opts)
  local eps, atol, rtol, names
  f, inputs, eps, atol, rtol, names = checkargs("gradgradcheck", f, inputs, opts)
  local ok, worst, wscore = true, nil, -1
  record("gradgradcheck", f, inputs)
  for i = 1, #inputs do
    local function gradient (...)   -- d f / d(input i), as a Value (or a number)
      return lg.gradients(lg.enable_grad(f, ...), { ... }, { create_graph = true })[i]
    end
    local leaves = {}
    for k, x in ipairs(inputs) do leaves[k] = lg.value(x) end
    local back = lg.gradients(gradient(unpack(leaves, #inputs)), leaves)
    local oki, j, w, score = compare(gradient, inputs, back, eps, atol, rtol)
    if not oki then ok = false end
    if score > wscore then
      wscore = score
      worst = format("d/d(%s) of d/d(%s) ", names[j], names[i]) .. w
    end
  end
  if worst == nil then return true, "no inputs" end
  return ok, (ok and "second derivatives agree; closest to failing: "
                 or "second derivatives differ at ") .. worst
end

return lg
