-- luagrad.functional: transforms of functions, as JAX's: lg.grad, lg.value_and_grad,
-- lg.jacobian (lg.jacfwd, lg.jacrev), lg.hessian, lg.jvp and lg.vjp. Each records the
-- function once on fresh inputs and differentiates the graph with the core's lg.gradients
-- (reverse) or lg.tangents (forward).
--
-- Inside another transform, or given Values, a transform returns Values whose graph records
-- the derivative itself (create_graph), so transforms nest to any order: lg.grad(lg.grad(f)).
-- Each input is a fresh node (a leaf for a number, x + 0 for a Value), so that an inner
-- transform differentiates with respect to its own inputs only, never an outer one's.
local _, core, loadpart = ...
if type(core) ~= "table" then core = require("luagrad.core") end
local lg = core

-- Loading touches only the base library (see init.lua).
local error, ipairs, select, type = error, ipairs, select, type
local getmetatable, setmetatable = getmetatable, setmetatable
local shared = loadpart and loadpart("luagrad.shared") or require("luagrad.shared")
local run, callable, spread = shared.run, shared.callable, shared.spread
local unflatten, unflattenall = shared.unflatten, shared.unflattenall

local function format (...) return string.format(...) end

local function typename (x) return lg.type(x) or type(x) end

-- "1 number", "2 numbers", "0 numbers"
local function count (n, noun) return format(n == 1 and "%d %s" or "%d %ss", n, noun) end

local function pack (...) return { n = select("#", ...), ... } end

-- How many transforms are running their function now: inside one, results are Values.
local depth = 0

local function shallower () depth = depth - 1 end
local unnest = setmetatable({}, { __close = shallower, __index = { close = shallower } })

-- f(...) one transform deeper, recorded even inside lg.no_grad (as torch.func's transforms
-- are); its results packed, from index 2 (r[1] is true). An error passes through unchanged.
local function deeper (f, ...)
  depth = depth + 1
  return pack(true, run(unnest, lg.enable_grad, f, ...))
end

local MAXNEST = 64

-- Appends the numbers and Values of x (one, or nested arrays of them) to flat; returns its
-- shape: true for one, else a table of the elements' shapes.
local function flatten (x, flat, fn, what, nest)
  if type(x) == "number" or lg.type(x) == "value" then
    flat[#flat + 1] = x
    return true
  elseif type(x) == "table" and (nest or 0) < MAXNEST then
    local shape = {}
    for i = 1, #x do shape[i] = flatten(x[i], flat, fn, what, (nest or 0) + 1) end
    return shape
  elseif type(x) == "table" then
    error(format("luagrad.%s: %s nested too deeply", fn, what), 0)
  end
  error(format("luagrad.%s: bad %s (number, value or array expected, got %s)", fn, what,
               typename(x)), 0)
end

local function numbers (flat)
  local t = {}
  for i, x in ipairs(flat) do t[i] = lg.type(x) == "value" and x.data or x end
  return t
end

local function checkfunction (f, fn)
  if not callable(f) then
    error(format("luagrad.%s: bad argument #1 (function expected, got %s)", fn,
                 typename(f)), 3)
  end
end

-- A compiled function (lg.compile) returns its value and then its gradients itself: given
-- numbers outside any transform, lg.grad and lg.value_and_grad take them from it, replayed
-- in C. Given Values, it raises its own error (it takes numbers only).
local function compiled (f, ...)
  if type(f) ~= "userdata" or getmetatable(f) ~= "luagrad.Compiled" or depth > 0 then
    return nil
  end
  for i = 1, select("#", ...) do
    if lg.type((select(i, ...))) then return nil end
  end
  return pack(f(...))
end

--[[
Runs f on fresh inputs for the arguments in args (packed): a leaf for each number, x + 0
for each Value x. Returns f's results (packed, from index 2), the inputs (flat), the
arguments' shapes, and whether derivatives must be Values (inside a transform, or given
Values).
]]
local function record (fn, f, args)
  local flat, shapes = {}, { n = args.n }
  for i = 1, args.n do shapes[i] = flatten(args[i], flat, fn, "argument #" .. i) end
  local graph, ins = depth > 0, {}
  for i, x in ipairs(flat) do
    if type(x) == "number" then ins[i] = lg.value(x)
    else
      ins[i] = x + 0
      graph = true
    end
  end
  local r = deeper(f, unflattenall(shapes, ins))
  return r, ins, shapes, graph
end

local function scalar (y, fn)
  if type(y) ~= "number" and lg.type(y) ~= "value" then
    error(format("luagrad.%s: the function must return a value or a number, got %s", fn,
                 typename(y)), 0)
  end
  return y
end

--[[
lg.grad(f) -> a function of the same arguments as f (numbers, Values, nested arrays of them)
returning the gradient of f's result (one Value or number) with respect to each argument,
shaped like it: dx, dy = lg.grad(f)(x, y).
]]
function lg.grad (f)
  checkfunction(f, "grad")
  return function (...)
    local c = compiled(f, ...)
    if c then return spread(c, 2, c.n) end
    local r, ins, shapes, graph = record("grad", f, pack(...))
    local y = scalar(r[2], "grad")
    return unflattenall(shapes, lg.gradients(y, ins, { create_graph = graph }))
  end
end

-- lg.value_and_grad(f) -> as lg.grad(f), with f's value first.
function lg.value_and_grad (f)
  checkfunction(f, "value_and_grad")
  return function (...)
    local c = compiled(f, ...)
    if c then return spread(c, 1, c.n) end
    local r, ins, shapes, graph = record("value_and_grad", f, pack(...))
    local y = scalar(r[2], "value_and_grad")
    local g = lg.gradients(y, ins, { create_graph = graph })
    if not graph and lg.type(y) == "value" then y = y.data end
    return y, unflattenall(shapes, g)
  end
end

local MODES = { forward = true, reverse = true }

local function checkopts (opts, fn)
  if opts ~= nil and type(opts) ~= "table" then
    error(format("luagrad.%s: bad argument #2 (table expected, got %s)", fn, typename(opts)), 3)
  end
  local mode = opts and opts.mode
  if mode ~= nil and not MODES[mode] then
    error(format("luagrad.%s: bad option 'mode' (\"forward\" or \"reverse\" expected, got %s)",
                 fn, type(mode) == "string" and format("%q", mode) or typename(mode)), 3)
  end
  return mode
end

-- The Jacobian of outs (flat) with respect to ins: rows = outputs. Reverse mode sweeps once
-- per output; forward mode once per input, so it is chosen when there are fewer inputs.
local function jacobianof (outs, ins, mode, graph)
  local m, n, J = #outs, #ins, {}
  if mode == nil then mode = (n < m) and "forward" or "reverse" end
  if mode == "reverse" then
    for i = 1, m do J[i] = lg.gradients(outs[i], ins, { create_graph = graph }) end
  else
    for i = 1, m do J[i] = {} end
    local t = {}
    for j = 1, n do t[j] = 0 end
    for j = 1, n do
      t[j] = 1
      local col = lg.tangents(outs, ins, { tangents = t, create_graph = graph })
      t[j] = 0
      for i = 1, m do J[i][j] = col[i] end
    end
  end
  return J
end

--[[
lg.jacobian(f [, {mode = "forward" | "reverse"}]) -> a function returning the Jacobian of
f's results at its arguments: an array of rows, one per output, each an array with one entry
per input. Outputs are all of f's results and inputs all of its arguments, each flattened in
order (nested arrays depth first). Without a mode, forward when there are fewer inputs than
outputs, else reverse (JAX's jacfwd and jacrev: lg.jacfwd(f), lg.jacrev(f)).
]]
function lg.jacobian (f, opts)
  checkfunction(f, "jacobian")
  local mode = checkopts(opts, "jacobian")
  return function (...)
    local r, ins, _, graph = record("jacobian", f, pack(...))
    local outs = {}
    for i = 2, r.n do flatten(r[i], outs, "jacobian", "result") end
    return jacobianof(outs, ins, mode, graph)
  end
end

function lg.jacfwd (f) return lg.jacobian(f, { mode = "forward" }) end
function lg.jacrev (f) return lg.jacobian(f, { mode = "reverse" }) end

--[[
lg.hessian(f [, {mode = ...}]) -> a function returning the matrix of second derivatives of
f's result with respect to its arguments (flattened as lg.jacobian's): the Jacobian of its
gradient, reverse over reverse unless mode = "forward" (forward over reverse). Exact: no
differences are taken. Reverse is the default because it measured faster here (bench W5b):
each row's sweep visits only what that gradient entry depends on.
]]
function lg.hessian (f, opts)
  checkfunction(f, "hessian")
  local mode = checkopts(opts, "hessian") or "reverse"
  return lg.jacobian(lg.grad(f), { mode = mode })
end

local function checkarray (x, fn, arg)
  if type(x) ~= "table" or lg.type(x) then
    error(format("luagrad.%s: bad argument #%d (table expected, got %s)", fn, arg,
                 typename(x)), 3)
  end
end

--[[
lg.jvp(f, primals, tangents) -> out, tangent_out. primals is the array of f's arguments,
tangents the same shape; out is f's result (numbers, unless nested) and tangent_out the
derivative of f's result in the direction of tangents, shaped like out. Forward mode: one
recording and one forward sweep, whatever the number of outputs.
]]
function lg.jvp (f, primals, tangents)
  checkfunction(f, "jvp")
  checkarray(primals, "jvp", 2)
  checkarray(tangents, "jvp", 3)
  local args = { n = #primals }
  for i = 1, args.n do args[i] = primals[i] end
  local r, ins, _, graph = record("jvp", f, args)
  local t = {}
  for i = 1, #tangents do flatten(tangents[i], t, "jvp", "tangent") end
  if #t ~= #ins or #tangents ~= #primals then
    error(format("luagrad.jvp: tangents (%s in %s) must be shaped as primals (%s in %s)",
                 count(#t, "number"), count(#tangents, "argument"), count(#ins, "number"),
                 count(#primals, "argument")), 2)
  end
  for _, x in ipairs(t) do
    if lg.type(x) == "value" then graph = true end
  end
  local outs = {}
  local shape = flatten(r[2], outs, "jvp", "result")
  local dout = lg.tangents(outs, ins, { tangents = t, create_graph = graph })
  if not graph then outs = numbers(outs) end
  return (unflatten(shape, outs, 0)), (unflatten(shape, dout, 0))
end

--[[
lg.vjp(f, ...) -> out, pullback. out is f's result at the arguments (numbers, unless nested);
pullback(cotangent), with cotangent shaped like out, returns cotangent times the Jacobian:
one result per argument, shaped like it. The pullback may be called any number of times.
]]
function lg.vjp (f, ...)
  checkfunction(f, "vjp")
  local r, ins, shapes, graph = record("vjp", f, pack(...))
  local outs = {}
  local shape = flatten(r[2], outs, "vjp", "result")
  local function pullback (cotangent)
    local c = {}
    local cshape = flatten(cotangent, c, "vjp", "cotangent")
    if #c ~= #outs or (shape == true) ~= (cshape == true) then
      error(format("luagrad.vjp: the cotangent (%s) must be shaped as the result (%s)",
                   count(#c, "number"), count(#outs, "number")), 2)
    end
    local values = graph or depth > 0
    for _, x in ipairs(c) do
      if lg.type(x) == "value" then values = true end
    end
    return unflattenall(shapes, lg.gradients(outs, ins, { seeds = c, create_graph = values }))
  end
  local out = graph and outs or numbers(outs)
  return (unflatten(shape, out, 0)), pullback
end

return lg
