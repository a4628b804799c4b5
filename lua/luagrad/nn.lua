-- luagrad.nn: modules and losses, as PyTorch's torch.nn, in plain Lua over the tensor API.
-- A module is a table with a forward method; its parameters are the tensors (and Values) in
-- its fields, found by walking them: the array part in index order, then string keys sorted.
--
--   local net = nn.Sequential{nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)}
--   local loss = nn.binary_cross_entropy_with_logits(net(X), y)
local _, core = ...
if type(core) ~= "table" then core = require("luagrad") end
local lg = core

-- Loading touches only the base library (see init.lua); string and table are looked up when
-- a message is written or keys are sorted.
local error, getmetatable, ipairs, next, rawget, setmetatable, tostring, type =
      error, getmetatable, ipairs, next, rawget, setmetatable, tostring, type

local function format (...) return string.format(...) end

local function typename (x) return lg.type(x) or type(x) end

local function isinteger (x) return type(x) == "number" and x % 1 == 0 and x > -1 / 0 and x < 1 / 0 end

local function shapestr (shape)
  return "{" .. table.concat(shape, ", ") .. "}"
end

local M = {}

-- "luagrad.nn.<fn>: <message>", raised at the line that called the public function (level:
-- 2 from the public function itself, 3 from a helper it calls, ...).
local function fail (level, fn, fmt, ...)
  error(format("luagrad.nn.%s: " .. fmt, fn, ...), level + 1)
end

local function argerror (level, fn, i, what, x)
  fail(level + 1, fn, "bad argument #%d (%s expected, got %s)", i, what, typename(x))
end

-- The options table opts of fn (nil: none), its keys among names (a set).
local function options (level, fn, i, opts, names)
  if opts == nil then return {} end
  if type(opts) ~= "table" or lg.type(opts) then argerror(level + 1, fn, i, "table of options", opts) end
  for k in next, opts do
    if not names[k] then fail(level + 1, fn, "unknown option '%s'", tostring(k)) end
  end
  return opts
end

-- ==== Modules ==================================================================================

local Module = {}
Module.__index = Module
M.Module = Module

local function ismodule (x)
  if type(x) ~= "table" then return false end
  local mt = getmetatable(x)
  while type(mt) == "table" do
    if mt == Module then return true end
    local up = getmetatable(mt)
    mt = type(up) == "table" and rawget(up, "__index") or nil
  end
  return false
end
M.is_module = ismodule   -- extension

local function isparameter (x)
  local t = lg.type(x)
  return t == "tensor" or t == "value"
end

-- The keys of t to walk, in order: 1..#t, then the string keys sorted (those starting with
-- "_" are private: a place for constants that are not parameters), raw reads only. A
-- module's class may list some keys first in its own order (_order: Linear's weight, bias).
local function fields (t)
  local keys, n = {}, 0
  while rawget(t, n + 1) ~= nil do n = n + 1; keys[n] = n end
  local first, taken = ismodule(t) and t._order or {}, {}
  for _, k in ipairs(first) do
    if rawget(t, k) ~= nil then n = n + 1; keys[n] = k; taken[k] = true end
  end
  local names = {}
  for k in next, t do
    if type(k) == "string" and k:sub(1, 1) ~= "_" and not taken[k] then names[#names + 1] = k end
  end
  table.sort(names)
  for _, k in ipairs(names) do n = n + 1; keys[n] = k end
  return keys
end

-- Calls visit(name, x, parent, key) for each parameter and module reachable from m (m itself
-- not included) through modules and plain tables, depth first in field order; each table
-- and parameter once, at its first name.
local function walk (m, visit)
  local seen = {}
  local function go (t, prefix)
    seen[t] = true
    for _, k in ipairs(fields(t)) do
      local x = rawget(t, k)
      local name = prefix .. tostring(k)
      if isparameter(x) then
        if not seen[x] then seen[x] = true; visit(name, x, t, k) end
      elseif (ismodule(x) or type(x) == "table" and getmetatable(x) == nil) and not seen[x] then
        if ismodule(x) then visit(name, x, t, k) end
        go(x, name .. ".")
      end
    end
  end
  go(m, "")
end

-- A class deriving from Module (or from a class made so): Class(...) makes an instance and
-- calls its init(...) method, if any. Extension: classes; nn.Module(t) makes t a module.
function Module.extend (base)
  local class = {}
  class.__index = class
  class.__call = base.__call
  class.__tostring = base.__tostring
  return setmetatable(class, {__index = base, __call = function (cls, ...)
    local self = setmetatable({training = true}, cls)
    if self.init then self:init(...) end
    return self
  end})
end

setmetatable(Module, {__call = function (_, t)
  if t == nil then t = {} end
  if type(t) ~= "table" or lg.type(t) or getmetatable(t) ~= nil then
    argerror(2, "Module", 1, "plain table", t)
  end
  if t.training == nil then t.training = true end
  return setmetatable(t, Module)
end})

function Module:__call (...)
  return self:forward(...)
end

function Module.forward ()
  fail(2, "Module", "forward is not defined (give the module a forward method)")
end

function Module:named_parameters ()
  local out = {}
  walk(self, function (name, x) if isparameter(x) then out[#out + 1] = {name, x} end end)
  return out
end

function Module:parameters ()
  local out = {}
  for i, p in ipairs(self:named_parameters()) do out[i] = p[2] end
  return out
end

-- Extension: the child modules, as {name, module} pairs in parameter order.
function Module:named_modules ()
  local out = {}
  walk(self, function (name, x) if ismodule(x) then out[#out + 1] = {name, x} end end)
  return out
end

function Module:zero_grad ()
  for _, p in ipairs(self:parameters()) do
    if lg.type(p) == "tensor" then p.grad = nil else p.grad = 0 end
  end
end

local function setmode (m, training)
  m.training = training
  for _, c in ipairs(m:named_modules()) do c[2].training = training end
  return m
end

function Module:train (mode)
  if mode == nil then mode = true end
  return setmode(self, mode and true or false)
end

function Module:eval () return setmode(self, false) end

-- name -> a leaf sharing the parameter's storage (a view made without history), or a copy
-- of a Value's number (a Value has no storage to share)
function Module:state_dict ()
  local sd = {}
  for _, p in ipairs(self:named_parameters()) do
    local x = p[2]
    if lg.type(x) == "value" then
      sd[p[1]] = x:detach()
    else
      sd[p[1]] = lg.no_grad(function () return x:view(x.shape) end)
    end
  end
  return sd
end

local function sortedkeys (t)
  local keys = {}
  for k in next, t do keys[#keys + 1] = k end
  table.sort(keys, function (a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- Checks every entry first and only then copies, so a refused state_dict changes nothing.
function Module:load_state_dict (sd)
  local fn = "Module:load_state_dict"
  if type(sd) ~= "table" or lg.type(sd) then argerror(2, fn, 1, "table", sd) end
  local params, known = self:named_parameters(), {}
  for _, p in ipairs(params) do
    local name, x = p[1], p[2]
    local e = rawget(sd, name)
    known[name] = true
    if e == nil then fail(2, fn, "missing entry '%s'", name) end
    if lg.type(x) == "value" then
      if lg.type(e) ~= "value" and type(e) ~= "number" then
        fail(2, fn, "entry '%s' is not a value or a number (got %s)", name, typename(e))
      end
    else
      if lg.type(e) ~= "tensor" then
        fail(2, fn, "entry '%s' is not a tensor (got %s)", name, typename(e))
      end
      local a, b = shapestr(e.shape), shapestr(x.shape)
      if a ~= b then fail(2, fn, "entry '%s' has shape %s, expected %s", name, a, b) end
    end
  end
  for _, k in ipairs(sortedkeys(sd)) do
    if not known[k] then fail(2, fn, "unexpected entry '%s'", tostring(k)) end
  end
  lg.no_grad(function ()
    for _, p in ipairs(params) do
      local x, e = p[2], rawget(sd, p[1])
      if lg.type(x) == "value" then
        x.data = type(e) == "number" and e or e.data
      else
        x:copy_(e)
      end
    end
  end)
  return self
end

function Module:save (path, metadata)
  lg.save(path, self:state_dict(), metadata)
end

function Module:load (path)
  local sd, metadata = lg.load(path)
  self:load_state_dict(sd)
  return self, metadata
end

-- Extension: PyTorch's layout, children indented in field order.
function Module:__tostring ()
  local name = rawget(getmetatable(self), "_name") or "Module"
  local extra = self.extra_repr and self:extra_repr() or ""
  local lines = {}
  for _, k in ipairs(fields(self)) do
    local x = rawget(self, k)
    if ismodule(x) then
      lines[#lines + 1] = "  (" .. tostring(k) .. "): " .. tostring(x):gsub("\n", "\n  ")
    end
  end
  if #lines == 0 then return name .. "(" .. extra .. ")" end
  return name .. "(" .. extra .. "\n" .. table.concat(lines, "\n") .. "\n)"
end

local function class (name)
  local c = Module:extend()
  c._name = name
  return c
end

-- ---- Linear ------------------------------------------------------------------------------

local function checksize (fn, i, x)
  if not (isinteger(x) and x >= 1) then
    fail(3, fn, "bad argument #%d (positive integer expected, got %s)", i,
         type(x) == "number" and format("%.14g", x) or typename(x))
  end
end

local Linear = class("Linear")
M.Linear = Linear
Linear._order = {"weight", "bias"}

-- uniform in [-1/sqrt(nin), 1/sqrt(nin)) from the seeded generator, weight then bias
function Linear:init (nin, nout, opts)
  checksize("Linear", 1, nin)
  checksize("Linear", 2, nout)
  opts = options(3, "Linear", 3, opts, {bias = true, dtype = true})
  if opts.bias ~= nil and type(opts.bias) ~= "boolean" then
    fail(3, "Linear", "bad option 'bias' (boolean expected, got %s)", typename(opts.bias))
  end
  if opts.dtype ~= nil and opts.dtype ~= "float64" and opts.dtype ~= "float32" then
    fail(3, "Linear", "bad option 'dtype' ('float64' or 'float32' expected, got %s)",
         type(opts.dtype) == "string" and "'" .. opts.dtype .. "'" or typename(opts.dtype))
  end
  local bound = 1 / math.sqrt(nin)
  local dtype = {dtype = opts.dtype}
  self.nin, self.nout = nin, nout   -- numbers: not parameters
  self.weight = ((lg.rand({nout, nin}, dtype) * 2 - 1) * bound):requires_grad_()
  if opts.bias ~= false then
    self.bias = ((lg.rand({nout}, dtype) * 2 - 1) * bound):requires_grad_()
  end
end

function Linear:forward (x)
  if lg.type(x) ~= "tensor" then argerror(2, "Linear", 1, "tensor", x) end
  local shape = x.shape
  if shape[#shape] ~= self.nin then
    fail(2, "Linear", "input of shape %s has %d features, expected %d", shapestr(shape),
         shape[#shape], self.nin)
  end
  local y = x:matmul(self.weight:t())
  if self.bias then y = y + self.bias end
  return y
end

function Linear:extra_repr ()
  return format("in_features=%d, out_features=%d, bias=%s", self.nin, self.nout,
                tostring(self.bias ~= nil))
end

-- ---- Activations ---------------------------------------------------------------------------

local function activation (name, f)
  local c = class(name)
  c.forward = function (_, x) return f(x) end
  M[name] = c
  return c
end

activation("ReLU", lg.relu)
activation("Tanh", lg.tanh)
activation("Sigmoid", lg.sigmoid)
activation("Softplus", lg.softplus)
activation("Identity", function (x) return x end)

local LeakyReLU = class("LeakyReLU")
M.LeakyReLU = LeakyReLU

function LeakyReLU:init (slope)
  if slope == nil then slope = 0.01 end
  if type(slope) ~= "number" then argerror(3, "LeakyReLU", 1, "number", slope) end
  self.negative_slope = slope
end

function LeakyReLU:forward (x) return lg.leaky_relu(x, self.negative_slope) end

function LeakyReLU:extra_repr () return format("negative_slope=%.14g", self.negative_slope) end

local Dropout = class("Dropout")
M.Dropout = Dropout

function Dropout:init (p)
  if p == nil then p = 0.5 end
  if not (type(p) == "number" and p >= 0 and p <= 1) then
    fail(3, "Dropout", "bad argument #1 (probability from 0 to 1 expected, got %s)",
         type(p) == "number" and format("%.14g", p) or typename(p))
  end
  self.p = p
end

-- in training, each entry kept with probability 1 - p and scaled by 1 / (1 - p)
function Dropout:forward (x)
  if not self.training or self.p == 0 then return x end
  if lg.type(x) ~= "tensor" then argerror(2, "Dropout", 1, "tensor", x) end
  if self.p == 1 then return x * 0 end
  local keep = lg.rand(x.shape, {dtype = x.dtype}):ge(self.p)
  return x * keep * (1 / (1 - self.p))
end

function Dropout:extra_repr () return format("p=%.14g", self.p) end

-- ---- Sequential and MLP --------------------------------------------------------------------

local Sequential = class("Sequential")
M.Sequential = Sequential

function Sequential:init (list)
  if type(list) ~= "table" or lg.type(list) or ismodule(list) then
    argerror(3, "Sequential", 1, "array of modules", list)
  end
  for i = 1, #list do
    if not ismodule(list[i]) then
      fail(3, "Sequential", "entry %d is not a module (got %s)", i, typename(list[i]))
    end
    self[i] = list[i]
  end
end

function Sequential:forward (x)
  for i = 1, #self do x = self[i](x) end
  return x
end

local ACTIVATIONS = {relu = "ReLU", tanh = "Tanh", sigmoid = "Sigmoid", leaky_relu = "LeakyReLU",
                     softplus = "Softplus", identity = "Identity"}

-- a Sequential: Linear, activation, Linear, ..., Linear (no activation after the last)
function M.MLP (nin, sizes, opts)
  checksize("MLP", 1, nin)
  if type(sizes) ~= "table" or lg.type(sizes) or #sizes == 0 then
    argerror(2, "MLP", 2, "non-empty array of layer sizes", sizes)
  end
  for i = 1, #sizes do
    if not (isinteger(sizes[i]) and sizes[i] >= 1) then
      fail(2, "MLP", "bad argument #2 (layer size %d is not a positive integer: %s)", i,
           type(sizes[i]) == "number" and format("%.14g", sizes[i]) or typename(sizes[i]))
    end
  end
  opts = options(2, "MLP", 3, opts, {activation = true, bias = true, dtype = true})
  local act = opts.activation or "relu"
  if not ACTIVATIONS[act] then
    fail(2, "MLP", "bad option 'activation' ('relu', 'tanh', 'sigmoid', 'leaky_relu', " ..
         "'softplus' or 'identity' expected, got %s)",
         type(act) == "string" and "'" .. act .. "'" or typename(act))
  end
  if opts.dtype ~= nil and opts.dtype ~= "float64" and opts.dtype ~= "float32" then
    fail(2, "MLP", "bad option 'dtype' ('float64' or 'float32' expected, got %s)",
         type(opts.dtype) == "string" and "'" .. opts.dtype .. "'" or typename(opts.dtype))
  end
  local layers, n = {}, nin
  for i, h in ipairs(sizes) do
    layers[#layers + 1] = Linear(n, h, {bias = opts.bias, dtype = opts.dtype})
    if i < #sizes then layers[#layers + 1] = M[ACTIVATIONS[act]]() end
    n = h
  end
  return Sequential(layers)
end

-- ==== Losses =====================================================================================

local REDUCTIONS = {mean = true, sum = true, none = true}

-- the reduction of loss fn's options (third argument)
local function reduction (fn, opts)
  opts = options(3, fn, 3, opts, {reduction = true})
  local r = rawget(opts, "reduction")
  if r == nil then return "mean" end
  if not REDUCTIONS[r] then
    fail(3, fn, "bad option 'reduction' ('mean', 'sum' or 'none' expected, got %s)",
         type(r) == "string" and "'" .. r .. "'" or typename(r))
  end
  return r
end

local function reduce (loss, r, count)
  if r == "none" then return loss end
  local s = loss:sum()
  if r == "sum" then return s end
  return s / count
end

-- input (#1) a tensor, target (#2) a tensor of the same shape
local function pair (fn, input, target, iname, tname)
  if lg.type(input) ~= "tensor" then argerror(3, fn, 1, "tensor", input) end
  if lg.type(target) ~= "tensor" then argerror(3, fn, 2, "tensor", target) end
  local a, b = shapestr(input.shape), shapestr(target.shape)
  if a ~= b then
    fail(3, fn, "%s of shape %s and %s of shape %s differ", iname, a, tname, b)
  end
end

function M.mse_loss (input, target, opts)
  pair("mse_loss", input, target, "input", "target")
  local r = reduction("mse_loss", opts)
  return reduce((input - target):square(), r, input:numel())
end

-- PyTorch's: each log clamped at -100, so p = 0 or 1 gives a finite loss
function M.binary_cross_entropy (p, target, opts)
  local fn = "binary_cross_entropy"
  pair(fn, p, target, "input", "target")
  local r = reduction(fn, opts)
  if p:numel() > 0 then
    local lo, hi = p:detach():amin(), p:detach():amax()
    lo, hi = lg.type(lo) and lo.data or lo, lg.type(hi) and hi.data or hi
    if not (lo >= 0 and hi <= 1) then
      fail(2, fn, "input values must be from 0 to 1 (got %.14g)", (lo >= 0) and hi or lo)
    end
  end
  local logp = lg.clamp(lg.log(p), -100, nil)
  local log1mp = lg.clamp(lg.log(1 - p), -100, nil)
  return reduce(-(target * logp + (1 - target) * log1mp), r, p:numel())
end

-- softplus(z) - t*z, written for each sign of z so that neither side loses digits or
-- overflows: (1 - t) z + log(1 + e^-z) for z > 0, log(1 + e^z) - t z otherwise
function M.binary_cross_entropy_with_logits (z, target, opts)
  local fn = "binary_cross_entropy_with_logits"
  pair(fn, z, target, "input", "target")
  local r = reduction(fn, opts)
  local pos = (1 - target) * z + lg.softplus(-z)
  local neg = lg.softplus(z) - target * z
  return reduce(lg.where(z:gt(0), pos, neg), r, z:numel())
end

function M.hinge_loss (scores, target, opts)
  pair("hinge_loss", scores, target, "scores", "target")
  local r = reduction("hinge_loss", opts)
  if target:numel() > 0 then   -- the first target that is neither -1 nor 1, if any
    local flat = target:reshape(-1)
    local ok = lg.no_grad(function () return flat:eq(1) + flat:eq(-1) end)
    local i = ok:argmin()
    if ok:get(i) == 0 then
      fail(2, "hinge_loss", "target %.14g at index %d is not -1 or 1", flat:get(i), i)
    end
  end
  return reduce(lg.relu(1 - target * scores), r, scores:numel())
end

-- A one-hot N x C float tensor of the classes (1-based, an array or a 1-D tensor of N).
local function onehot (fn, classes, n, c, dtype)
  local list = classes
  if lg.type(classes) == "tensor" then
    if classes:dim() ~= 1 then
      fail(3, fn, "classes must be 1-D (got shape %s)", shapestr(classes.shape))
    end
    list = classes:totable()
  elseif type(classes) ~= "table" or lg.type(classes) then
    argerror(3, fn, 2, "array or tensor of class indices", classes)
  end
  if #list ~= n then
    fail(3, fn, "input has %d rows and classes %d entries", n, #list)
  end
  local rows = {}
  for i = 1, n do
    local k = list[i]
    if type(k) ~= "number" then
      fail(3, fn, "class at index %d is not a number (got %s)", i, typename(k))
    end
    if not isinteger(k) then fail(3, fn, "class %.14g at index %d is not an integer", k, i) end
    if k < 1 or k > c then
      fail(3, fn, "class %d at index %d is out of range (1 to %d)", k, i, c)
    end
    local row = {}
    for j = 1, c do row[j] = 0 end
    row[k] = 1
    rows[i] = row
  end
  if n == 0 then return lg.zeros({0, c}, {dtype = dtype}) end
  return lg.tensor(rows, {dtype = dtype})
end

-- -sum of logp at the classes, over the N rows of an N x C input (a 1-D input is one row)
local function nll (fn, logp, classes, opts, transform)
  if lg.type(logp) ~= "tensor" then argerror(3, fn, 1, "tensor", logp) end
  local one = logp:dim() == 1
  if one then
    logp = logp:view(1, logp:size(1))
    if type(classes) == "number" then classes = {classes} end
  elseif logp:dim() ~= 2 then
    fail(3, fn, "bad argument #1 (N x C tensor expected, got shape %s)", shapestr(logp.shape))
  end
  local n, c = logp:size(1), logp:size(2)
  local hot = onehot(fn, classes, n, c, logp.dtype)
  local r = reduction(fn, opts)
  if transform then logp = transform(logp) end
  local loss = -(logp * hot):sum(2)
  if one and r == "none" then return loss[1] end
  return reduce(loss, r, n)
end

function M.nll_loss (logp, classes, opts)
  return nll("nll_loss", logp, classes, opts)
end

function M.cross_entropy (logits, classes, opts)
  return nll("cross_entropy", logits, classes, opts, function (x) return x:log_softmax(2) end)
end

return M
