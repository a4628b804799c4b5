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
local error, ipairs, next, select, type = error, ipairs, next, select, type
local rawget, tostring = rawget, tostring
-- Tables are read raw, as the core reads every table it is given: metamethods are ignored
-- (before 5.2, # on a table is raw already).
local rawlen = rawlen or function (t) return #t end   -- luacheck: ignore 113
local getmetatable = getmetatable
local shared = loadpart and loadpart("luagrad.shared") or require("luagrad.shared")
local callable, spread = shared.callable, shared.spread

local function format (...) return string.format(...) end

local function typename (x) return lg.type(x) or type(x) end

-- "1 number", "2 numbers", "0 numbers"
local function count (n, noun) return format(n == 1 and "%d %s" or "%d %ss", n, noun) end

local function pack (...) return { n = select("#", ...), ... } end

-- The core's transform scopes: lg._transform(f, ...) runs f(...) one transform deeper,
-- recorded even inside lg.no_grad (as torch.func's transforms are), and lg._transform()
-- says how many transforms are running their function now: inside one, results are Values.
-- The count is the core's scope stack, so a transform ends however its function does, also
-- never (a coroutine suspended inside f and dropped, or closed on 5.4): an error or a lost
-- coroutine cannot leave later transforms believing they are nested.
local transform = lg._transform
if _VERSION == "Lua 5.1" then   -- only Lua's pcall lets f yield here (LuaJIT): see init.lua
  local running, scope, run = transform, lg._scope, shared.run
  transform = function (...)
    if select("#", ...) == 0 then return running() end
    return run(scope("transform"), ...)
  end
end

local function nested () return transform() > 0 end

-- f(...) one transform deeper; its results packed (r[1] is true, as pcall's status was). An
-- error passes through unchanged.
local function deeper (f, ...)
  return pack(true, transform(f, ...))
end

-- The argument trees (luagrad.tree): arrays and string-keyed tables whose leaves are
-- numbers and Values; other values pass through with no derivative.
local tree = loadpart and loadpart("luagrad.tree") or require("luagrad.tree")

-- Results, tangents and cotangents are trees too, but every leaf must be differentiable:
-- appends x's leaves to flat and returns its def, or raises naming what (as "result").
local function strict (x, flat, fn, what)
  local n = #flat
  local def = tree.flattento(x, flat, fn, what)
  local function check (d)
    if d == true then return end
    if d.keys == nil then
      error(format("luagrad.%s: bad %s (number, value or table of them expected, got %s)", fn,
                   what, typename(d.value)), 0)
    end
    for i = 1, #d.keys do check(d[i]) end
  end
  check(def)
  return def, #flat - n
end

-- Results without their graph: a Value's number, a tensor detached.
local function numbers (flat)
  local t = {}
  for i, x in ipairs(flat) do
    local k = lg.type(x)
    t[i] = k == "value" and x.data or k == "tensor" and x:detach() or x
  end
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
  if type(f) ~= "userdata" or getmetatable(f) ~= "luagrad.Compiled" or nested() then
    return nil
  end
  for i = 1, select("#", ...) do
    if lg.type((select(i, ...))) then return nil end
  end
  return pack(f(...))
end

--[[
Runs f on fresh inputs for the differentiable leaves of the arguments numbered in argnums
(args packed; argnums an array of argument numbers): a leaf for each number, x + 0 for each
Value x; the other arguments, and every leaf that is neither, reach f as they are. Returns
f's results (packed, from index 2), the inputs (flat, argument after argument), each
differentiated argument's def, and whether derivatives must be Values (inside a transform,
or given Values).
]]
local function hastensor (flat)
  for _, x in ipairs(flat) do
    if lg.type(x) == "tensor" then return true end
  end
  return false
end

-- Whether x holds a tensor anywhere (any key, read raw; never an error, even where a tree
-- would be one: arguments that are not differentiated are not trees).
local function containstensor (x, depth)
  if lg.type(x) == "tensor" then return true end
  if type(x) ~= "table" or lg.type(x) or depth > 64 then return false end
  for _, v in next, x do
    if containstensor(v, depth + 1) then return true end
  end
  return false
end

local function record (fn, f, args, argnums)
  local flat, defs, call = {}, {}, { n = args.n }
  for i = 1, args.n do call[i] = args[i] end
  for j, a in ipairs(argnums) do
    if a > args.n then
      error(format("luagrad.%s: argnums asks for argument #%d, but the function was given %d",
                   fn, a, args.n), 0)
    end
    defs[j] = tree.flattento(args[a], flat, fn, "argument #" .. a)
  end
  -- With tensors, derivatives are first order (no create_graph on tensors yet): outside
  -- any transform each tensor is a fresh leaf requiring grad and each Value is taken by its
  -- number; nested, they are kept connected, and the core says what is not supported.
  local graph, ins, tensors = nested(), {}, hastensor(flat)
  for i = 1, args.n do   -- a tensor among the other arguments counts too
    tensors = tensors or containstensor(args[i], 0)
  end
  for i, x in ipairs(flat) do
    if type(x) == "number" then ins[i] = lg.value(x)
    elseif tensors and not graph then
      ins[i] = lg.type(x) == "tensor" and x:detach():requires_grad_(true) or lg.value(x.data)
    else
      ins[i] = x + 0
      graph = true
    end
  end
  local pos = 0
  for j, a in ipairs(argnums) do call[a], pos = tree.unflatten(defs[j], ins, pos) end
  local r = deeper(f, spread(call, 1, call.n))
  return r, ins, defs, graph
end

-- The gradients (flat, as record's inputs) shaped as each differentiated argument: multiple
-- results. A leaf that passed through has none (nil).
local function shaped (defs, flat)
  local out, pos = {}, 0
  for j = 1, #defs do out[j], pos = tree.unflatten(defs[j], flat, pos, true) end
  return spread(out, 1, #defs)
end

local function all (n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

local KNOWN = { argnums = true, has_aux = true, mode = true }
local MODES = { forward = true, reverse = true }

--[[
The options table of a transform (argument #2): argnums (a number or an array of argument
numbers, 1-based: only those are differentiated, in that order), has_aux (f returns its value
and one more result, passed through), mode ("forward" or "reverse", for jacobian and
hessian). allowed names those this transform takes. Returns argnums as an array (nil: all),
has_aux and mode.
]]
local function options (opts, fn, allowed)
  if opts == nil then return nil, false, nil end
  if type(opts) ~= "table" or lg.type(opts) then
    error(format("luagrad.%s: bad argument #2 (table expected, got %s)", fn, typename(opts)), 3)
  end
  for k in next, opts do
    if not (KNOWN[k] and allowed[k]) then
      error(format("luagrad.%s: unknown option '%s'", fn, tostring(k)), 3)
    end
  end
  local argnums, aux, mode = rawget(opts, "argnums"), rawget(opts, "has_aux"), rawget(opts, "mode")
  if mode ~= nil and not MODES[mode] then
    error(format("luagrad.%s: bad option 'mode' (\"forward\" or \"reverse\" expected, got %s)",
                 fn, type(mode) == "string" and format("%q", mode) or typename(mode)), 3)
  end
  if aux ~= nil and type(aux) ~= "boolean" then
    error(format("luagrad.%s: bad option 'has_aux' (boolean expected, got %s)", fn,
                 typename(aux)), 3)
  end
  if argnums ~= nil then
    local list = type(argnums) == "table" and lg.type(argnums) == nil and argnums or { argnums }
    local seen, n = {}, rawlen(list)
    for k in next, list do
      if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then n = -1 end
    end
    if n < 1 then
      error(format("luagrad.%s: bad option 'argnums' (argument number or array of them "
                   .. "expected, got %s)", fn, n == 0 and "an empty table" or typename(argnums)), 3)
    end
    for i = 1, n do
      local a = rawget(list, i)
      if type(a) ~= "number" or a < 1 or a % 1 ~= 0 or seen[a] then
        error(format("luagrad.%s: bad option 'argnums' (%s at index %d)", fn,
                     seen[a] and "argument " .. tostring(a) .. " twice"
                     or "argument number expected, got " .. (type(a) == "number"
                        and format("%.14g", a) or typename(a)), i), 3)
      end
      seen[a] = true
    end
    argnums = {}
    for i = 1, n do argnums[i] = rawget(list, i) end
  end
  return argnums, aux == true, mode
end

local function scalar (y, fn)
  if type(y) ~= "number" and lg.type(y) ~= "value" then
    error(format("luagrad.%s: the function must return a value or a number, got %s", fn,
                 typename(y)), 0)
  end
  return y
end

-- f's value (checked), its aux (with has_aux) and the gradients of the arguments numbered in
-- argnums (all, when nil): what grad and value_and_grad share.
local function gradients (fn, f, args, argnums, aux)
  local r, ins, defs, graph = record(fn, f, args, argnums or all(args.n))
  local y = scalar(r[2], fn)
  local g = lg.gradients(y, ins, { create_graph = graph })
  if not graph and lg.type(y) == "value" then y = y.data end
  return y, aux and r[3] or nil, defs, g
end

--[[
lg.grad(f [, {argnums = ..., has_aux = b}]) -> a function of the same arguments as f (trees
of numbers and Values) returning the gradient of f's result (one Value or number) with
respect to each argument, shaped like it: dx, dy = lg.grad(f)(x, y). With argnums, only those
arguments, in that order; with has_aux, f returns its value and one more result, which comes
back after the gradients.
]]
function lg.grad (f, opts)
  checkfunction(f, "grad")
  local argnums, aux = options(opts, "grad", { argnums = true, has_aux = true })
  return function (...)
    local c = argnums == nil and not aux and compiled(f, ...)
    if c then return spread(c, 2, c.n) end
    local args = pack(...)
    local _, a, defs, g = gradients("grad", f, args, argnums, aux)
    if aux then
      local out = pack(shaped(defs, g))
      out[#defs + 1] = a
      return spread(out, 1, #defs + 1)
    end
    return shaped(defs, g)
  end
end

-- lg.value_and_grad(f [, opts]) -> as lg.grad(f, opts), with f's value first (then its aux).
function lg.value_and_grad (f, opts)
  checkfunction(f, "value_and_grad")
  local argnums, aux = options(opts, "value_and_grad", { argnums = true, has_aux = true })
  return function (...)
    local c = argnums == nil and not aux and compiled(f, ...)
    if c then return spread(c, 1, c.n) end
    local y, a, defs, g = gradients("value_and_grad", f, pack(...), argnums, aux)
    if aux then return y, a, shaped(defs, g) end
    return y, shaped(defs, g)
  end
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

local function sizes (x) return lg.type(x) == "tensor" and x.shape or {} end

local function numel (shape)
  local n = 1
  for _, k in ipairs(shape) do n = n * k end
  return n
end

-- Gradient g (a tensor or number) as a flat array of numbers.
local function flatnumbers (g)
  if lg.type(g) == "tensor" then return g:reshape(-1):totable() end
  return { g }
end

--[[
The Jacobian of outs (flat leaves: tensors, Values, numbers) with respect to ins, first order,
in PyTorch's layout: J[i][j] of shape out_i.shape .. in_j.shape (a Value or number has no
dimensions; with none at all it is a number), one reverse sweep per output element. Returns
one result per input, each J[.][j] for one output or the array of them for several.
]]
local function tjacobian (outs, ins)
  local J = {}
  for j = 1, #ins do J[j] = {} end
  for i, y in ipairs(outs) do
    local rows = {}
    for j = 1, #ins do rows[j] = {} end
    if lg.type(y) == "tensor" then
      local seed = lg.zeros(y.shape, { dtype = y.dtype })
      local flat = seed:reshape(-1)
      for e = 1, numel(y.shape) do
        flat[e] = 1
        local g = lg.gradients(y, ins, { seeds = seed })
        flat[e] = 0
        for j = 1, #ins do rows[j][e] = flatnumbers(g[j]) end
      end
    elseif lg.type(y) == "value" then
      local g = lg.gradients(y, ins)
      for j = 1, #ins do rows[j][1] = flatnumbers(g[j]) end
    else   -- a number: no derivative
      for j = 1, #ins do
        local z = {}
        for k = 1, numel(sizes(ins[j])) do z[k] = 0 end
        rows[j][1] = z
      end
    end
    for j, x in ipairs(ins) do
      local shape = {}
      for _, k in ipairs(sizes(y)) do shape[#shape + 1] = k end
      for _, k in ipairs(sizes(x)) do shape[#shape + 1] = k end
      if #shape == 0 then J[j][i] = rows[j][1][1]
      else
        local dtype = lg.type(x) == "tensor" and x.dtype or nil
        J[j][i] = lg.tensor(rows[j], { dtype = dtype }):reshape(shape)
      end
    end
  end
  local res = {}
  for j = 1, #ins do res[j] = #outs == 1 and J[j][1] or J[j] end
  return spread(res, 1, #ins)
end

--[[
lg.jacobian(f [, {mode = "forward" | "reverse", argnums = ...}]) -> a function returning the
Jacobian of f's results at its arguments: an array of rows, one per output, each an array
with one entry per input. Outputs are all of f's results and inputs all of its arguments (or
those numbered in argnums), each flattened in tree order. Without a mode, forward when there
are fewer inputs than outputs, else reverse (JAX's jacfwd and jacrev: lg.jacfwd(f),
lg.jacrev(f)).
]]
function lg.jacobian (f, opts)
  checkfunction(f, "jacobian")
  local argnums, _, mode = options(opts, "jacobian", { argnums = true, mode = true })
  return function (...)
    local args = pack(...)
    local r, ins, _, graph = record("jacobian", f, args, argnums or all(args.n))
    local outs = {}
    for i = 2, r.n do strict(r[i], outs, "jacobian", "result") end
    if not graph and (hastensor(outs) or hastensor(ins)) then
      if mode == "forward" then
        error("luagrad.jacobian: forward mode on tensors is not supported yet (lg.jacrev, or "
              .. "mode = \"reverse\", works on tensors)", 2)
      end
      return tjacobian(outs, ins)
    end
    return jacobianof(outs, ins, mode, graph)
  end
end

function lg.jacfwd (f, opts)
  local o = { mode = "forward" }
  if type(opts) == "table" then o.argnums = rawget(opts, "argnums") end
  return lg.jacobian(f, o)
end

function lg.jacrev (f, opts)
  local o = { mode = "reverse" }
  if type(opts) == "table" then o.argnums = rawget(opts, "argnums") end
  return lg.jacobian(f, o)
end

--[[
lg.hessian(f [, {mode = ..., argnums = ...}]) -> a function returning the matrix of second
derivatives of f's result with respect to its arguments (flattened as lg.jacobian's): the
Jacobian of its gradient, reverse over reverse unless mode = "forward" (forward over
reverse). Exact: no differences are taken. Reverse is the default because it measured faster
here (bench W5b): each row's sweep visits only what that gradient entry depends on.
]]
function lg.hessian (f, opts)
  checkfunction(f, "hessian")
  local argnums, _, mode = options(opts, "hessian", { argnums = true, mode = true })
  local h = lg.jacobian(lg.grad(f, { argnums = argnums }), { mode = mode or "reverse",
                                                          argnums = argnums })
  return function (...)
    for i = 1, select("#", ...) do
      if containstensor((select(i, ...)), 0) then
        error("luagrad.hessian: second derivatives of functions of tensors are not supported "
              .. "yet (first order only: lg.grad, lg.vjp and lg.jacrev work on tensors)", 2)
      end
    end
    return h(...)
  end
end

local function checkarray (x, fn, arg)
  if type(x) ~= "table" or lg.type(x) then
    error(format("luagrad.%s: bad argument #%d (table expected, got %s)", fn, arg,
                 typename(x)), 3)
  end
end

--[[
lg.jvp(f, primals, tangents) -> out1, ..., outm, t1, ..., tm. primals is the array of f's
arguments (trees), tangents a tree of the same shape; out1..outm are f's results (numbers,
unless nested) and t1..tm their derivatives in the direction of tangents, each shaped like
its result. Forward mode: one recording and one forward sweep, whatever the number of
outputs.
]]
function lg.jvp (f, primals, tangents)
  checkfunction(f, "jvp")
  checkarray(primals, "jvp", 2)
  checkarray(tangents, "jvp", 3)
  local args = { n = rawlen(primals) }
  for i = 1, args.n do args[i] = rawget(primals, i) end
  local t, ntangents = {}, rawlen(tangents)   -- read before f runs, which may change them
  local tdefs = {}
  for i = 1, ntangents do tdefs[i] = tree.flattento(rawget(tangents, i), t, "jvp", "tangent") end
  if hastensor(t) or containstensor(primals, 0) then
    error("luagrad.jvp: forward mode on tensors is not supported yet (lg.vjp works on "
          .. "tensors)", 2)
  end
  local r, ins, defs, graph = record("jvp", f, args, all(args.n))
  local fits = #t == #ins and ntangents == args.n
  for i = 1, ntangents do fits = fits and defs[i] ~= nil and tree.same(defs[i], tdefs[i]) end
  if not fits then
    error(format("luagrad.jvp: tangents (%s in %s) must be shaped as primals (%s in %s)",
                 count(#t, "number"), count(ntangents, "argument"), count(#ins, "number"),
                 count(args.n, "argument")), 2)
  end
  for _, x in ipairs(t) do
    if lg.type(x) == "value" then graph = true end
  end
  local outs, odefs = {}, {}
  for i = 2, r.n do odefs[i - 1] = strict(r[i], outs, "jvp", "result") end
  local dout = lg.tangents(outs, ins, { tangents = t, create_graph = graph })
  if not graph then outs = numbers(outs) end
  local results, pos, dpos = {}, 0, 0
  local m = r.n - 1
  for k = 1, m do
    results[k], pos = tree.unflatten(odefs[k], outs, pos)
    results[m + k], dpos = tree.unflatten(odefs[k], dout, dpos)
  end
  return spread(results, 1, 2 * m)
end

local function shapeof (t) return "{" .. table.concat(t.shape, ", ") .. "}" end

local function sameshape (a, b)
  local p, q = a.shape, b.shape
  if #p ~= #q then return false end
  for i = 1, #p do
    if p[i] ~= q[i] then return false end
  end
  return true
end

-- Cotangent i (x) for the result out, on a graph with tensors (first order): a tensor of a
-- tensor's shape, a number (a Value's) for a Value or number.
local function checkcotangent (out, x, i)
  if lg.type(out) == "tensor" then
    if lg.type(x) ~= "tensor" or not sameshape(out, x) then
      error(format("luagrad.vjp: cotangent %d must be a tensor of shape %s (its result's), got "
                   .. "%s", i, shapeof(out), lg.type(x) == "tensor" and "shape " .. shapeof(x)
                   or typename(x)), 3)
    end
    return x
  end
  if lg.type(x) == "tensor" then
    error(format("luagrad.vjp: cotangent %d must be a number or value (as its result), got "
                 .. "tensor", i), 3)
  end
  return lg.type(x) == "value" and x.data or x
end

--[[
lg.vjp(f, ...) -> out1, ..., outm, pullback. out1..outm are f's results at the arguments
(numbers, unless nested); pullback(c1, ..., cm), one cotangent per result shaped like it,
returns the cotangents times the Jacobian: one result per argument, shaped like it. The
pullback may be called any number of times.
]]
function lg.vjp (f, ...)
  checkfunction(f, "vjp")
  local args = pack(...)
  local r, ins, defs, graph = record("vjp", f, args, all(args.n))
  local outs, odefs, m = {}, {}, r.n - 1
  for i = 2, r.n do odefs[i - 1] = strict(r[i], outs, "vjp", "result") end
  local function pullback (...)
    local c, given = {}, select("#", ...)
    local fits = given == m
    for k = 1, given do
      local cdef = strict((select(k, ...)), c, "vjp", "cotangent")
      fits = fits and odefs[k] ~= nil and tree.same(odefs[k], cdef)
    end
    if not fits or #c ~= #outs then
      if m == 1 and given == 1 then
        error(format("luagrad.vjp: the cotangent (%s) must be shaped as the result (%s)",
                     count(#c, "number"), count(#outs, "number")), 2)
      end
      error(format("luagrad.vjp: the cotangents (%s in %d) must be shaped as the results "
                   .. "(%s in %d)", count(#c, "number"), given, count(#outs, "number"), m), 2)
    end
    local values = graph or nested()
    local tensors = not values and (hastensor(outs) or hastensor(ins))
    for i, x in ipairs(c) do
      if tensors then c[i] = checkcotangent(outs[i], x, i) end
      if lg.type(x) == "value" and not tensors then values = true end
    end
    return shaped(defs, lg.gradients(outs, ins, { seeds = c, create_graph = values }))
  end
  local out = graph and outs or numbers(outs)
  local results, pos = {}, 0
  for k = 1, m do results[k], pos = tree.unflatten(odefs[k], out, pos) end
  results[m + 1] = pullback
  return spread(results, 1, m + 1)
end

return lg
