-- luagrad.optim: PyTorch's optimizers (SGD, Adam, AdamW, RMSprop, LBFGS) and learning-rate
-- schedulers (StepLR, CosineAnnealingLR) over an array of tensors and Values, updated in
-- place. Each update follows PyTorch 1.13's torch/optim formulas in the same order of
-- operations; the loops over elements are C's (lg._optim_*, src/core/optim.c): a tensor is
-- one call, and the Values of a list are packed into one float64 tensor, updated by the same
-- loop and written back. docs/learning.md says how to use them.
--
--   local opt = optim.Adam(model:parameters(), {lr = 1e-2})
--   opt:zero_grad(); loss:backward(); opt:step()
local _, core, loadpart = ...
if type(core) ~= "table" then core = require("luagrad.core") end
local lg = core
local options = loadpart and loadpart("luagrad.options") or require("luagrad.options")

local error, getmetatable, ipairs, pairs, pcall = error, getmetatable, ipairs, pairs, pcall
local setmetatable, type = setmetatable, type
local huge = 1 / 0

local function format (...) return string.format(...) end
local function typename (x) return lg.type(x) or type(x) end
local shown = options.shown

local M = {}

-- ---- option checks ------------------------------------------------------------------------

local function nonneg (v) return type(v) == "number" and v >= 0, "a non-negative number" end
local function number (v) return type(v) == "number" and v == v, "a number" end
local function positive (v) return type(v) == "number" and v > 0, "a positive number" end
local function count (v)
  return type(v) == "number" and v >= 1 and v == math.floor(v) and v < huge,
         "a positive integer"
end
local function boolean (v) return type(v) == "boolean", "boolean" end
local function betas (v)
  local ok = type(v) == "table" and lg.type(v) == nil and #v == 2
  if ok then
    for i = 1, 2 do
      local b = v[i]
      if type(b) ~= "number" or not (b >= 0 and b < 1) then ok = false end
    end
  end
  return ok, "a pair of numbers in [0, 1)"
end
local function linesearch (v) return v == "strong_wolfe", '"strong_wolfe" or nil' end

-- ---- parameters ---------------------------------------------------------------------------

-- The array of parameters: tensors and leaf Values. Returns a copy, the tensors' positions
-- and the Values (with their positions).
local function checkparams (fn, params, level)
  if type(params) ~= "table" or lg.type(params) ~= nil then
    error(format("luagrad.%s: bad argument #1 (array of tensors and Values expected, got %s)",
                 fn, typename(params)), level)
  end
  local n = #params
  if n == 0 then
    error(format("luagrad.%s: bad argument #1 (an empty parameter list)", fn), level)
  end
  local list, tensors, values, vpos = {}, {}, {}, {}
  for i = 1, n do
    local p, t = params[i], lg.type(params[i])
    if t == "tensor" then
      tensors[#tensors + 1] = i
    elseif t == "value" and p.op == "leaf" then
      values[#values + 1], vpos[#vpos + 1] = p, i
    else
      error(format("luagrad.%s: bad argument #1 (tensor or leaf Value expected at index %d, " ..
                   "got %s)", fn, i, t == "value" and "a computed Value" or typename(p)), level)
    end
    list[i] = p
  end
  for k, v in pairs(params) do
    if type(k) ~= "number" or k < 1 or k > n or k ~= math.floor(k) then
      error(format("luagrad.%s: bad argument #1 (an array expected, got the key %s)", fn,
                   type(k) == "string" and "'" .. k .. "'" or typename(k)), level)
    end
    local _ = v
  end
  return list, tensors, values, vpos
end

local Optimizer = {}
Optimizer.__index = Optimizer

-- A new optimizer of class cls ("optim.Adam"): hyperparameters from opts over the defaults,
-- each checked by specs[name]. Errors blame the caller's caller (level 3 here).
local function new (cls, params, opts, defaults, specs)
  local fn = cls.name
  local list, tensors, values, vpos = checkparams(fn, params, 4)
  local ok, e = pcall(options.check, fn, opts, specs, 2)
  if not ok then error((e:gsub("^.-(luagrad%.)", "%1", 1)), 3) end
  opts = e
  local self = setmetatable({ params = list, state = {}, _tensors = tensors, _values = values,
                              _vpos = vpos }, cls)
  for _, from in ipairs({ defaults, opts }) do
    for k, v in pairs(from) do
      if type(v) == "table" then   -- betas: a copy, shared with no other optimizer or caller
        local c = {}
        for i, x in ipairs(v) do c[i] = x end
        v = c
      end
      self[k] = v
    end
  end
  if #values > 0 then
    self._vdata = lg.zeros(#values)
    self._vgrad = lg.zeros(#values)
  end
  return self
end

-- The hyperparameters as they are now (a scheduler, or a user, may have assigned them):
-- each checked again, so that a bad assignment is an error, not a wrong update.
local function validate (self)
  local specs = self._specs
  for _, k in ipairs(self._names) do
    local ok, what = specs[k](self[k])
    if not ok and not (k == "line_search_fn" and self[k] == nil) then
      error(format("luagrad.%s: bad option '%s' (%s expected, got %s)", self.name, k, what,
                   shown(self[k])), 3)
    end
  end
end

-- opt:zero_grad(): every tensor's grad to nil, every Value's to 0
function Optimizer:zero_grad ()
  for _, p in ipairs(self.params) do
    if lg.type(p) == "tensor" then p.grad = nil else p.grad = 0 end
  end
end

local function lossof (x)
  if lg.type(x) == "value" then return x.data end
  if lg.type(x) == "tensor" then return x:item() end
  return x
end

-- opt:step([closure]) -> the closure's loss: one update from the grads as they are. A tensor
-- whose grad is nil is skipped; a non-contiguous one is updated through a contiguous copy
-- written back with copy_; Values are one packed tensor.
function Optimizer:step (closure)
  local loss
  if closure ~= nil then loss = lg.enable_grad(closure) end
  validate(self)
  local state = self.state
  for _, i in ipairs(self._tensors) do
    local p = self.params[i]
    local g = p.grad
    if g ~= nil then
      local s = state[i]
      if s == nil then s = self:_init(p); state[i] = s end
      local c = p:contiguous()
      if c ~= p then
        lg.no_grad(function ()
          self:_update(c, g:contiguous(), s)
          p:copy_(c)
        end)
      else
        self:_update(p, g:contiguous(), s)
      end
    end
  end
  local values = self._values
  if #values > 0 then
    local s = self._vstate
    if s == nil then s = self:_init(self._vdata); self._vstate = s end
    lg._optim_gather(values, self._vdata, self._vgrad)
    self:_update(self._vdata, self._vgrad, s)
    lg._optim_scatter(values, self._vdata)
  end
  return loss
end

-- ---- state_dict -----------------------------------------------------------------------------

local function copy (x)   -- numbers, strings, booleans, tensors (cloned) and arrays of them
  if lg.type(x) == "tensor" then return lg.no_grad(function () return x:detach():clone() end) end
  if type(x) == "table" and lg.type(x) == nil then
    local c = {}
    for k, v in pairs(x) do c[k] = copy(v) end
    return c
  end
  return x
end

-- The state of the Values' pack as one entry per Value: numbers
local function unpackvalues (self, sd)
  local s = self._vstate
  if s == nil then return end
  for k, pos in ipairs(self._vpos) do
    local e = {}
    for name, x in pairs(s) do
      if lg.type(x) == "tensor" then e[name] = x:get(k) else e[name] = x end
    end
    sd[pos] = e
  end
end

-- opt:state_dict() -> {state = {[i] = {...}}, param_groups = {{lr = ..., params = {1..n}}}},
-- PyTorch's layout with 1-based indices; a copy (later steps do not change it).
function Optimizer:state_dict ()
  local st = {}
  for i, s in pairs(self.state) do st[i] = copy(s) end
  unpackvalues(self, st)
  local group = { params = {} }
  for i = 1, #self.params do group.params[i] = i end
  for _, k in ipairs(self._names) do group[k] = copy(self[k]) end
  group.initial_lr = self.initial_lr
  return { state = st, param_groups = { group } }
end

-- raises at the line that called load_state_dict, level frames up from sderror's caller
local function sderror (self, level, fmt, ...)
  error(format("luagrad.%s.load_state_dict: ", self.name) .. format(fmt, ...), level + 1)
end

-- Checks entry e (a table) of the state dict for parameter i; returns its copy, cast to
-- the parameter's dtype.
local function loadentry (self, i, e)
  local p, names, out = self.params[i], self._statenames, {}
  if type(e) ~= "table" or lg.type(e) ~= nil then
    sderror(self, 3, "state[%d] is a %s, not a table", i, typename(e))
  end
  for k, x in pairs(e) do
    local kind = names[k]
    if kind == nil then
      sderror(self, 3, "state[%d] has an unknown entry %s", i,
              type(k) == "string" and "'" .. k .. "'" or "(a " .. type(k) .. " key)")
    elseif kind == "any" then
      out[k] = copy(x)   -- LBFGS's own entries
    elseif kind == "number" or lg.type(p) == "value" then
      if type(x) ~= "number" then
        sderror(self, 3, "state[%d].%s must be a number, got %s", i, k, typename(x))
      end
      out[k] = x
    elseif kind == "tensor" then
      if lg.type(x) ~= "tensor" then
        sderror(self, 3, "state[%d].%s must be a tensor, got %s", i, k, typename(x))
      end
      local a, b = table.concat(x.shape, ", "), table.concat(p.shape, ", ")
      if a ~= b then
        sderror(self, 3, "state[%d].%s has shape {%s}, the parameter {%s}", i, k, a, b)
      end
      out[k] = lg.no_grad(function () return x:detach():to(p.dtype):contiguous():clone() end)
    end
  end
  return out
end

-- opt:load_state_dict(sd): the state and hyperparameters of sd (copied), for an optimizer
-- of the same class over parameters of the same number and shapes.
function Optimizer:load_state_dict (sd)
  if type(sd) ~= "table" or lg.type(sd) ~= nil then
    error(format("luagrad.%s.load_state_dict: bad argument #1 (table expected, got %s)",
                 self.name, typename(sd)), 2)
  end
  local groups, st = sd.param_groups, sd.state
  if type(groups) ~= "table" or #groups ~= 1 or type(groups[1]) ~= "table" then
    sderror(self, 2, "param_groups must be an array of one table")
  end
  if type(st) ~= "table" then sderror(self, 2, "state must be a table, got %s", typename(st)) end
  local group, n = groups[1], #self.params
  if type(group.params) ~= "table" or #group.params ~= n then
    sderror(self, 2, "the state dict has %s parameters, the optimizer %d",
            type(group.params) == "table" and #group.params or "no", n)
  end
  local hyper = {}
  for k, v in pairs(group) do
    if k ~= "params" and k ~= "initial_lr" then
      if self._specs[k] == nil then
        sderror(self, 2, "param_groups[1] has an unknown option %s",
                type(k) == "string" and "'" .. k .. "'" or "(a " .. type(k) .. " key)")
      end
      local ok, what = self._specs[k](v)
      if not ok then
        sderror(self, 2, "bad option '%s' (%s expected, got %s)", k, what, shown(v))
      end
      hyper[k] = copy(v)
    end
  end
  local loaded, vals = {}, {}
  for i, e in pairs(st) do
    if type(i) ~= "number" or i < 1 or i > n or i ~= math.floor(i) then
      sderror(self, 2, "state has an entry for no parameter (%s)", shown(i))
    end
    loaded[i] = loadentry(self, i, e)
  end
  local state, vstate = {}, nil
  for _, i in ipairs(self._tensors) do state[i] = loaded[i] end
  if #self._values > 0 and loaded[self._vpos[1]] ~= nil and not self._afterload then
    vstate = {}
    for k, pos in ipairs(self._vpos) do
      local e = loaded[pos]
      if e == nil then sderror(self, 2, "state has no entry for parameter %d (a Value)", pos) end
      for name, x in pairs(e) do
        if self._statenames[name] == "number" then
          if vstate[name] ~= nil and vstate[name] ~= x then
            sderror(self, 2, "the Values' state.%s differ (%s and %s)", name, shown(vstate[name]),
                    shown(x))
          end
          vstate[name] = x
        else
          vals[name] = vals[name] or {}
          vals[name][k] = x
        end
      end
    end
    for name, xs in pairs(vals) do vstate[name] = lg.tensor(xs) end
  end
  for k, v in pairs(hyper) do self[k] = v end
  self.initial_lr = group.initial_lr
  self.state, self._vstate = state, vstate
  if self._afterload then self:_afterload(loaded) end
end

-- ---- the optimizers -------------------------------------------------------------------------

local function class (name, names, specs, statenames)
  local cls = setmetatable({}, { __index = Optimizer })
  cls.__index = cls
  cls.name, cls._names, cls._specs, cls._statenames = name, names, specs, statenames
  return cls
end

-- SGD(params, {lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false})
local SGD = class("optim.SGD", { "lr", "momentum", "dampening", "weight_decay", "nesterov" },
  { lr = nonneg, momentum = nonneg, dampening = number, weight_decay = nonneg,
    nesterov = boolean }, { momentum_buffer = "tensor" })

function M.SGD (params, opts)
  local self = new(SGD, params, opts, { lr = 1e-3, momentum = 0, dampening = 0,
                                        weight_decay = 0, nesterov = false }, SGD._specs)
  if self.nesterov and (self.momentum <= 0 or self.dampening ~= 0) then
    error("luagrad.optim.SGD: nesterov momentum requires a momentum and zero dampening", 2)
  end
  return self
end

function SGD._init () return {} end

function SGD:_update (p, g, s)
  local buf, first = s.momentum_buffer, false
  if self.momentum ~= 0 and buf == nil then
    buf, first = lg.zeros_like(p), true
    s.momentum_buffer = buf
  end
  lg._optim_sgd(p, g, buf, first, self.lr, self.momentum, self.dampening, self.weight_decay,
                self.nesterov)
end

-- Adam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0,
-- amsgrad = false}); AdamW the same with decoupled weight decay, 1e-2 by default
local ADAM_NAMES = { "lr", "betas", "eps", "weight_decay", "amsgrad" }
local ADAM_SPECS = { lr = nonneg, betas = betas, eps = nonneg, weight_decay = nonneg,
                     amsgrad = boolean }
local ADAM_STATE = { step = "number", exp_avg = "tensor", exp_avg_sq = "tensor",
                     max_exp_avg_sq = "tensor" }
local Adam = class("optim.Adam", ADAM_NAMES, ADAM_SPECS, ADAM_STATE)
local AdamW = class("optim.AdamW", ADAM_NAMES, ADAM_SPECS, ADAM_STATE)

local ADAM_DEFAULTS = { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, amsgrad = false }
function M.Adam (params, opts)
  ADAM_DEFAULTS.weight_decay = 0
  local self = new(Adam, params, opts, ADAM_DEFAULTS, ADAM_SPECS)
  return self
end
function M.AdamW (params, opts)
  ADAM_DEFAULTS.weight_decay = 1e-2
  local self = new(AdamW, params, opts, ADAM_DEFAULTS, ADAM_SPECS)
  return self
end

local function adaminit (self, p)
  local s = { step = 0, exp_avg = lg.zeros_like(p), exp_avg_sq = lg.zeros_like(p) }
  if self.amsgrad then s.max_exp_avg_sq = lg.zeros_like(p) end
  return s
end
Adam._init, AdamW._init = adaminit, adaminit

local function adamupdate (decoupled)
  return function (self, p, g, s)
    if self.amsgrad and s.max_exp_avg_sq == nil then s.max_exp_avg_sq = lg.zeros_like(p) end
    s.step = s.step + 1
    local b = self.betas
    lg._optim_adam(p, g, s.exp_avg, s.exp_avg_sq, self.amsgrad and s.max_exp_avg_sq or nil,
                   self.lr, b[1], b[2], self.eps, self.weight_decay, s.step, decoupled)
  end
end
Adam._update, AdamW._update = adamupdate(false), adamupdate(true)

-- RMSprop(params, {lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0,
-- centered = false})
local RMSprop = class("optim.RMSprop",
  { "lr", "alpha", "eps", "weight_decay", "momentum", "centered" },
  { lr = nonneg, alpha = nonneg, eps = nonneg, weight_decay = nonneg, momentum = nonneg,
    centered = boolean },
  { step = "number", square_avg = "tensor", momentum_buffer = "tensor", grad_avg = "tensor" })

function M.RMSprop (params, opts)
  local self = new(RMSprop, params, opts, { lr = 1e-2, alpha = 0.99, eps = 1e-8,
                   weight_decay = 0, momentum = 0, centered = false }, RMSprop._specs)
  return self
end

function RMSprop:_init (p)
  local s = { step = 0, square_avg = lg.zeros_like(p) }
  if self.momentum > 0 then s.momentum_buffer = lg.zeros_like(p) end
  if self.centered then s.grad_avg = lg.zeros_like(p) end
  return s
end

function RMSprop:_update (p, g, s)
  if self.momentum > 0 and s.momentum_buffer == nil then s.momentum_buffer = lg.zeros_like(p) end
  if self.centered and s.grad_avg == nil then s.grad_avg = lg.zeros_like(p) end
  s.step = s.step + 1
  lg._optim_rmsprop(p, g, s.square_avg, self.centered and s.grad_avg or nil,
                    self.momentum > 0 and s.momentum_buffer or nil, self.lr, self.alpha,
                    self.eps, self.weight_decay, self.momentum)
end

-- ---- LBFGS ------------------------------------------------------------------------------------
-- PyTorch's algorithm on one flat float64 vector: the tensors' elements in the parameters'
-- order, then the Values'. Its state (directions, steps, history) is kept across step calls,
-- as state[1] in a state dict, as PyTorch keeps it.

local LBFGS = class("optim.LBFGS",
  { "lr", "max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size",
    "line_search_fn" },
  { lr = positive, max_iter = count, max_eval = count, tolerance_grad = nonneg,
    tolerance_change = nonneg, history_size = count, line_search_fn = linesearch },
  { func_evals = "number", n_iter = "number", d = "any", t = "any", old_dirs = "any",
    old_stps = "any", ro = "any", H_diag = "any", prev_flat_grad = "any", prev_loss = "any",
    al = "any" })

function M.LBFGS (params, opts)
  local max_iter = type(opts) == "table" and opts.max_iter or 20
  local self = new(LBFGS, params, opts, { lr = 1, max_iter = max_iter,
    max_eval = type(max_iter) == "number" and math.floor(max_iter * 5 / 4) or nil,
    tolerance_grad = 1e-7, tolerance_change = 1e-9, history_size = 100 }, LBFGS._specs)
  return self
end

function LBFGS:_afterload (loaded)   -- the whole state is the first parameter's
  self.state, self._vstate = {}, nil
  self._lstate = loaded[1] or {}
end

function LBFGS:state_dict ()
  local sd = Optimizer.state_dict(self)
  sd.state = { [1] = copy(self._lstate or {}) }
  return sd
end

local function flatgrad (self)
  local pieces = {}
  for _, i in ipairs(self._tensors) do
    local p = self.params[i]
    local g = p.grad
    if g == nil then pieces[#pieces + 1] = lg.zeros(p:numel())
    else pieces[#pieces + 1] = g:reshape(-1):to("float64") end
  end
  if #self._values > 0 then
    lg._optim_gather(self._values, self._vdata, self._vgrad)
    pieces[#pieces + 1] = self._vgrad:clone()
  end
  return lg.cat(pieces, 1)
end

local function addgrad (self, t, d)   -- params += t * d
  local off = 0
  for _, i in ipairs(self._tensors) do
    local p = self.params[i]
    local n = p:numel()
    p:add_(d:narrow(1, off + 1, n):view(p.shape), t)
    off = off + n
  end
  if #self._values > 0 then
    lg._optim_gather(self._values, self._vdata)
    self._vdata:add_(d:narrow(1, off + 1, #self._values), t)
    lg._optim_scatter(self._values, self._vdata)
  end
end

local function cloneparams (self)
  local x = {}
  for k, i in ipairs(self._tensors) do x[k] = self.params[i]:clone() end
  if #self._values > 0 then
    lg._optim_gather(self._values, self._vdata)
    x.values = self._vdata:clone()
  end
  return x
end

local function setparams (self, x)
  for k, i in ipairs(self._tensors) do self.params[i]:copy_(x[k]) end
  if x.values then lg._optim_scatter(self._values, x.values) end
end

local function dot (a, b) return lg.dot(a, b).data end
local function absmax (a) return a:abs():amax().data end

local function cubic (x1, f1, g1, x2, f2, g2, lo, hi)
  local xmin, xmax = lo, hi
  if lo == nil then
    if x1 <= x2 then xmin, xmax = x1, x2 else xmin, xmax = x2, x1 end
  end
  local d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
  local d2sq = d1 * d1 - g1 * g2
  if d2sq >= 0 then
    local d2 = math.sqrt(d2sq)
    local pos
    if x1 <= x2 then pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2)) end
    return math.min(math.max(pos, xmin), xmax)
  end
  return (xmin + xmax) / 2
end

-- PyTorch's _strong_wolfe (c1 1e-4, c2 0.9, at most 25 evaluations)
local function wolfe (obj, x, t, d, f, g, gtd, tolerance_change)
  local c1, c2, max_ls = 1e-4, 0.9, 25
  local d_norm = absmax(d)
  local f_new, g_new = obj(x, t, d)
  local evals = 1
  local gtd_new = dot(g_new, d)
  local t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
  local done, ls_iter = false, 0
  local br, bf, bg, bgtd
  while ls_iter < max_ls do
    if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev) then
      br, bf, bg, bgtd = { t_prev, t }, { f_prev, f_new }, { g_prev, g_new }, { gtd_prev, gtd_new }
      break
    end
    if math.abs(gtd_new) <= -c2 * gtd then
      br, bf, bg, done = { t }, { f_new }, { g_new }, true
      break
    end
    if gtd_new >= 0 then
      br, bf, bg, bgtd = { t_prev, t }, { f_prev, f_new }, { g_prev, g_new }, { gtd_prev, gtd_new }
      break
    end
    local min_step, max_step, tmp = t + 0.01 * (t - t_prev), t * 10, t
    t = cubic(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step)
    t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
    f_new, g_new = obj(x, t, d)
    evals = evals + 1
    gtd_new = dot(g_new, d)
    ls_iter = ls_iter + 1
  end
  if ls_iter == max_ls then
    br, bf, bg = { 0, t }, { f, f_new }, { g, g_new }
  end
  local insuf = false
  local low, high = 2, 1
  if bf[1] <= bf[#bf] then low, high = 1, 2 end
  while not done and ls_iter < max_ls do
    if math.abs(br[2] - br[1]) * d_norm < tolerance_change then break end
    t = cubic(br[1], bf[1], bgtd[1], br[2], bf[2], bgtd[2])
    local bmax, bmin = math.max(br[1], br[2]), math.min(br[1], br[2])
    local eps = 0.1 * (bmax - bmin)
    if math.min(bmax - t, t - bmin) < eps then
      if insuf or t >= bmax or t <= bmin then
        if math.abs(t - bmax) < math.abs(t - bmin) then t = bmax - eps else t = bmin + eps end
        insuf = false
      else
        insuf = true
      end
    else
      insuf = false
    end
    f_new, g_new = obj(x, t, d)
    evals = evals + 1
    gtd_new = dot(g_new, d)
    ls_iter = ls_iter + 1
    if f_new > (f + c1 * t * gtd) or f_new >= bf[low] then
      br[high], bf[high], bg[high], bgtd[high] = t, f_new, g_new, gtd_new
      if bf[1] <= bf[2] then low, high = 1, 2 else low, high = 2, 1 end
    else
      if math.abs(gtd_new) <= -c2 * gtd then
        done = true
      elseif gtd_new * (br[high] - br[low]) >= 0 then
        br[high], bf[high], bg[high], bgtd[high] = br[low], bf[low], bg[low], bgtd[low]
      end
      br[low], bf[low], bg[low], bgtd[low] = t, f_new, g_new, gtd_new
    end
  end
  return bf[low], bg[low], br[low], evals
end

local function lbfgsstep (self, closure)
  local lr, max_iter, max_eval = self.lr, self.max_iter, self.max_eval
  local tolerance_grad, tolerance_change = self.tolerance_grad, self.tolerance_change
  local history_size = self.history_size
  local function evaluate () return lg.enable_grad(closure) end
  local state = self._lstate or {}
  self._lstate = state
  state.func_evals = state.func_evals or 0
  state.n_iter = state.n_iter or 0

  local orig_loss = evaluate()
  local loss = lossof(orig_loss)
  local current_evals = 1
  state.func_evals = state.func_evals + 1
  local flat_grad = flatgrad(self)
  local opt_cond = absmax(flat_grad) <= tolerance_grad
  if opt_cond then return orig_loss end

  local d, t = state.d, state.t
  local old_dirs, old_stps, ro = state.old_dirs, state.old_stps, state.ro
  local H_diag, prev_flat_grad, prev_loss = state.H_diag, state.prev_flat_grad, state.prev_loss
  local n_iter = 0
  while n_iter < max_iter do
    n_iter = n_iter + 1
    state.n_iter = state.n_iter + 1
    if state.n_iter == 1 then
      d = -flat_grad
      old_dirs, old_stps, ro, H_diag = {}, {}, {}, 1
    else
      local y = flat_grad - prev_flat_grad
      local s = d * t
      local ys = dot(y, s)
      if ys > 1e-10 then
        if #old_dirs == history_size then
          table.remove(old_dirs, 1); table.remove(old_stps, 1); table.remove(ro, 1)
        end
        old_dirs[#old_dirs + 1], old_stps[#old_stps + 1], ro[#ro + 1] = y, s, 1 / ys
        H_diag = ys / dot(y, y)
      end
      local num_old = #old_dirs
      state.al = state.al or {}
      local al = state.al
      local q = -flat_grad
      for i = num_old, 1, -1 do
        al[i] = dot(old_stps[i], q) * ro[i]
        q:add_(old_dirs[i], -al[i])
      end
      d = q * H_diag
      for i = 1, num_old do
        local be_i = dot(old_dirs[i], d) * ro[i]
        d:add_(old_stps[i], al[i] - be_i)
      end
    end
    if prev_flat_grad == nil then prev_flat_grad = flat_grad:clone()
    else prev_flat_grad:copy_(flat_grad) end
    prev_loss = loss
    if state.n_iter == 1 then
      t = math.min(1, 1 / flat_grad:abs():sum().data) * lr
    else
      t = lr
    end
    local gtd = dot(flat_grad, d)
    if gtd > -tolerance_change then break end
    local ls_func_evals = 0
    if self.line_search_fn ~= nil then
      local x_init = cloneparams(self)
      local function obj (x, step, dir)
        addgrad(self, step, dir)
        local l = lossof(evaluate())
        local fg = flatgrad(self)
        setparams(self, x)
        return l, fg
      end
      loss, flat_grad, t, ls_func_evals = wolfe(obj, x_init, t, d, loss, flat_grad, gtd,
                                                tolerance_change)
      addgrad(self, t, d)
      opt_cond = absmax(flat_grad) <= tolerance_grad
    else
      addgrad(self, t, d)
      if n_iter ~= max_iter then
        loss = lossof(evaluate())
        flat_grad = flatgrad(self)
        opt_cond = absmax(flat_grad) <= tolerance_grad
        ls_func_evals = 1
      end
    end
    current_evals = current_evals + ls_func_evals
    state.func_evals = state.func_evals + ls_func_evals
    if n_iter == max_iter then break end
    if current_evals >= max_eval then break end
    if opt_cond then break end
    if absmax(d * t) <= tolerance_change then break end
    if math.abs(loss - prev_loss) < tolerance_change then break end
  end
  state.d, state.t, state.old_dirs, state.old_stps, state.ro = d, t, old_dirs, old_stps, ro
  state.H_diag, state.prev_flat_grad, state.prev_loss = H_diag, prev_flat_grad, prev_loss
  return orig_loss
end

-- opt:step(closure) -> the closure's first loss: up to max_iter iterations
function LBFGS:step (closure)
  if type(closure) ~= "function" then
    error(format("luagrad.optim.LBFGS.step: bad argument #1 (function expected, got %s)",
                 typename(closure)), 2)
  end
  validate(self)
  return lg.no_grad(lbfgsstep, self, closure)
end

-- ---- schedulers -------------------------------------------------------------------------------

local function isoptimizer (x)
  local mt = type(x) == "table" and getmetatable(x)
  return mt and mt._names ~= nil and mt.name ~= nil
end

local Scheduler = {}
Scheduler.__index = Scheduler

local function scheduler (fn, opt, extra)
  if not isoptimizer(opt) then
    error(format("luagrad.%s: bad argument #1 (optimizer expected, got %s)", fn,
                 typename(opt)), 3)
  end
  if opt.initial_lr == nil then opt.initial_lr = opt.lr end
  local self = setmetatable(extra, Scheduler)
  self.optimizer, self.base_lr, self.last_epoch, self.name = opt, opt.initial_lr, -1, fn
  self:step()
  return self
end

-- sch:step(): one epoch on; the optimizer's lr follows
function Scheduler:step ()
  self.last_epoch = self.last_epoch + 1
  local lr = self:_lr(self.optimizer.lr)
  self.optimizer.lr = lr
  self._last_lr = lr
end

-- sch:get_last_lr() -> {lr}, as PyTorch's list of one group
function Scheduler:get_last_lr () return { self._last_lr } end

local function checkarg (fn, i, v, spec)
  local ok, what = spec(v)
  if not ok then
    error(format("luagrad.%s: bad argument #%d (%s expected, got %s)", fn, i, what,
                 shown(v)), 3)
  end
end

-- StepLR(opt, step_size [, gamma = 0.1]): lr times gamma every step_size epochs
function M.StepLR (opt, step_size, gamma)
  if gamma == nil then gamma = 0.1 end
  checkarg("optim.StepLR", 2, step_size, count)
  checkarg("optim.StepLR", 3, gamma, number)
  local self = scheduler("optim.StepLR", opt, { step_size = step_size, gamma = gamma,
    _lr = function (self, lr)
      if self.last_epoch == 0 or self.last_epoch % self.step_size ~= 0 then return lr end
      return lr * self.gamma
    end })
  return self
end

-- CosineAnnealingLR(opt, T_max [, eta_min = 0]): PyTorch's recursive form, periodic past
-- T_max
function M.CosineAnnealingLR (opt, T_max, eta_min)
  if eta_min == nil then eta_min = 0 end
  checkarg("optim.CosineAnnealingLR", 2, T_max, count)
  checkarg("optim.CosineAnnealingLR", 3, eta_min, number)
  local self = scheduler("optim.CosineAnnealingLR", opt, { T_max = T_max, eta_min = eta_min,
    _lr = function (self, lr)
      local e, T, lo, base = self.last_epoch, self.T_max, self.eta_min, self.base_lr
      if e == 0 then return lr end
      if (e - 1 - T) % (2 * T) == 0 then
        return lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
      end
      return (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) *
             (lr - lo) + lo
    end })
  return self
end

return M
