-- luagrad.optim against torch.optim: the trajectories of tests/fixtures/optim_fixture.lua
-- (made by tests/fixtures/optim_fixture.py with PyTorch 1.13), every option, float64 and
-- float32, tensors and Values, skipped grads, schedulers, state dicts, LBFGS, errors.
local lg = require("luagrad")
local optim = require("luagrad.optim")
local F = dofile("tests/fixtures/optim_fixture.lua")

-- asserts that the numbers of t (a tensor, or an array of Values) are xs to rel (relative),
-- or to floor (absolute) where that is larger: float32's rounding, not its relative error,
-- is what a value near 0 differs by
local function agree (xs, t, rel, what, floor)
  local got = {}
  if lg.type(t) == "tensor" then
    local flat = t:reshape(-1):totable()
    for i = 1, #flat do got[i] = flat[i] end
  else
    for i, v in ipairs(t) do got[i] = v.data end
  end
  assert.are.equal(#xs, #got, what)
  for i = 1, #xs do
    local ok = math.abs(got[i] - xs[i]) <= math.max(rel * math.abs(xs[i]), floor or 1e-300)
    if not ok then
      error(string.format("%s: element %d is %.17g, torch's %.17g", what, i, got[i], xs[i]), 2)
    end
  end
end

local function params (dtype)
  local o = { dtype = dtype, requires_grad = true }
  local s = dtype == "float32" and "_32" or ""
  return lg.tensor(F["p0" .. s], o), lg.tensor(F["p1" .. s], o), F["grads" .. s]
end

local function label (c)
  local keys = {}
  for k, v in pairs(c.opts) do
    keys[#keys + 1] = k .. "=" .. (type(v) == "table" and "{" .. table.concat(v, ",") .. "}"
                                   or tostring(v))
  end
  table.sort(keys)
  return c.name .. "{" .. table.concat(keys, ", ") .. "}"
end

describe("optimizers against torch.optim", function ()
  for _, c in ipairs(F.cases) do
    it(label(c) .. " follows torch's float64 trajectory to 1e-12", function ()
      local a, b, grads = params("float64")
      local opt = optim[c.name]({ a, b }, c.opts)
      for k, g in ipairs(grads) do
        a.grad, b.grad = lg.tensor(g[1]), lg.tensor(g[2])
        opt:step()
        agree(c.float64[k][1], a, 1e-12, "step " .. k .. " a")
        agree(c.float64[k][2], b, 1e-12, "step " .. k .. " b")
      end
    end)

    it(label(c) .. " follows torch's float32 trajectory", function ()
      local a, b, grads = params("float32")
      local opt = optim[c.name]({ a, b }, c.opts)
      for k, g in ipairs(grads) do
        a.grad = lg.tensor(g[1], { dtype = "float32" })
        b.grad = lg.tensor(g[2], { dtype = "float32" })
        opt:step()
        assert.are.equal("float32", a.dtype)
        agree(c.float32[k][1], a, 1e-6, "step " .. k .. " a", 1e-6)
        agree(c.float32[k][2], b, 1e-6, "step " .. k .. " b", 1e-6)
      end
    end)

    it(label(c) .. " skips a tensor whose grad is nil, as torch skips None", function ()
      local a, b, grads = params("float64")
      local opt = optim[c.name]({ a, b }, c.opts)
      for k, g in ipairs(grads) do
        a.grad = lg.tensor(g[1])
        if k == 2 or k == 3 or k == 5 then b.grad = nil else b.grad = lg.tensor(g[2]) end
        opt:step()
        agree(c.skip[k][1], a, 1e-12, "step " .. k .. " a")
        agree(c.skip[k][2], b, 1e-12, "step " .. k .. " b")
      end
    end)

    it(label(c) .. " updates Values as torch updates a tensor of them", function ()
      local a, _, grads = params("float64")
      local vs = {}
      for i, x in ipairs(F.p1) do vs[i] = lg.value(x) end
      local list = { a }
      for i, v in ipairs(vs) do list[i + 1] = v end
      local opt = optim[c.name](list, c.opts)
      for k, g in ipairs(grads) do
        a.grad = lg.tensor(g[1])
        for i, v in ipairs(vs) do v.grad = g[2][i] end
        opt:step()
        agree(c.float64[k][1], a, 1e-12, "step " .. k .. " a")
        agree(c.float64[k][2], vs, 1e-12, "step " .. k .. " values")
      end
    end)
  end

  it("SGD's lr defaults to 1e-3", function ()
    local a, b, grads = params("float64")
    local opt = optim.SGD({ a, b })
    assert.are.equal(1e-3, opt.lr)
    for k, g in ipairs(grads) do
      a.grad, b.grad = lg.tensor(g[1]), lg.tensor(g[2])
      opt:step()
      agree(F.sgd_default[k][1], a, 1e-12, "a")
    end
  end)

  it("takes every default from {} as from nothing", function ()
    local a = lg.zeros(2)
    for _, name in ipairs({ "SGD", "Adam", "AdamW", "RMSprop", "LBFGS" }) do
      local x, y = optim[name]({ a }), optim[name]({ a }, {})
      assert.are.same(x:state_dict().param_groups, y:state_dict().param_groups)
    end
    local d = optim.Adam({ a }):state_dict().param_groups[1]
    assert.are.same({ lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0,
                      amsgrad = false, params = { 1 } }, d)
    assert.are.equal(1e-2, optim.AdamW({ a }).weight_decay)
    local l = optim.LBFGS({ a })
    assert.are.same({ 1, 20, 25, 1e-7, 1e-9, 100 }, { l.lr, l.max_iter, l.max_eval,
                    l.tolerance_grad, l.tolerance_change, l.history_size })
    assert.are.equal(10, optim.LBFGS({ a }, { max_iter = 8 }).max_eval)
    local r = optim.RMSprop({ a })
    assert.are.same({ 1e-2, 0.99, 1e-8, 0, 0, false },
                    { r.lr, r.alpha, r.eps, r.weight_decay, r.momentum, r.centered })
  end)
end)

describe("opt:zero_grad", function ()
  it("sets a tensor's grad to nil and a Value's to 0", function ()
    local t, v = lg.tensor({ 1, 2 }, { requires_grad = true }), lg.value(3)
    ;((t * t):sum() * v):backward()
    assert.is_not_nil(t.grad)
    assert.are.equal(5, v.grad)
    optim.SGD({ t, v }):zero_grad()
    assert.is_nil(t.grad)
    assert.are.equal(0, v.grad)
  end)

  it("a Value with a zero grad is still updated: decay and momentum apply", function ()
    local v = lg.value(1)
    local opt = optim.SGD({ v }, { lr = 0.1, weight_decay = 0.5 })
    opt:step()
    assert.are.equal(1 - 0.1 * (0 + 0.5 * 1), v.data)
  end)
end)

describe("NaN", function ()
  it("amsgrad's running maximum keeps a NaN, as torch.maximum does", function ()
    local p = lg.tensor({ 1, 2 })
    local opt = optim.Adam({ p }, { amsgrad = true })
    p.grad = lg.tensor({ 0 / 0, 1 })
    opt:step()
    p.grad = lg.tensor({ 1, 1 })
    opt:step()
    local m = opt.state[1].max_exp_avg_sq:totable()
    assert.is_true(m[1] ~= m[1])
    assert.is_true(m[2] == m[2])
    local x = p:totable()
    assert.is_true(x[1] ~= x[1])
  end)
end)

describe("parameters that are views", function ()
  it("a non-contiguous tensor is updated through a copy written back", function ()
    local base = lg.tensor({ { 1, 2 }, { 3, 4 } })
    local p = base:t()
    p.grad = lg.tensor({ { 1, 1 }, { 0, 0 } })
    local opt = optim.SGD({ p }, { lr = 0.5, momentum = 0.9 })
    opt:step()
    assert.are.same({ { 0.5, 2.5 }, { 2, 4 } }, p:totable())
    assert.are.same({ { 0.5, 2 }, { 2.5, 4 } }, base:totable())
    assert.are.same({ { 1, 1 }, { 0, 0 } }, opt.state[1].momentum_buffer:totable())
  end)
end)

describe("training end to end", function ()
  it("Adam fits a line with tensors and a Value from backward", function ()
    local X = lg.tensor({ { 1 }, { 2 }, { 3 }, { 4 } })
    local Y = lg.tensor({ { 3 }, { 5 }, { 7 }, { 9 } })
    local w, b = lg.tensor({ { 0 } }, { requires_grad = true }), lg.value(0)
    local opt = optim.Adam({ w, b }, { lr = 0.1 })
    for _ = 1, 500 do
      opt:zero_grad()
      local loss = ((X:matmul(w) + b - Y) ^ 2):mean()
      loss:backward()
      opt:step()
    end
    assert.is_true(math.abs(w:item() - 2) < 1e-3)
    assert.is_true(math.abs(b.data - 1) < 1e-3)
  end)

  it("a step after backward leaves later backwards right (the versions moved)", function ()
    local w = lg.tensor({ 1, 2 }, { requires_grad = true })
    local y = (w * w):sum()
    y:backward()
    optim.SGD({ w }, { lr = 0.1 }):step()
    assert.has_error(function () y:backward() end)
  end)
end)

describe("state_dict", function ()
  local configs = {
    { "SGD", { lr = 0.1, momentum = 0.9 } },
    { "Adam", { lr = 0.05, amsgrad = true } },
    { "AdamW", { lr = 0.05 } },
    { "RMSprop", { lr = 0.01, centered = true, momentum = 0.5 } },
  }
  for _, c in ipairs(configs) do
    it(c[1] .. ": a state dict loaded into a new optimizer resumes identically", function ()
      local function make ()
        local a, b = lg.tensor(F.p0, { requires_grad = true }), lg.tensor(F.p1)
        local vs = { lg.value(0.5), lg.value(-2) }
        return { a, b, vs[1], vs[2] }
      end
      local p, q = make(), make()
      local function feed (list, k)
        local g = F.grads[k]
        list[1].grad, list[2].grad = lg.tensor(g[1]), lg.tensor(g[2])
        list[3].grad, list[4].grad = g[2][1], g[2][2]
      end
      local o1 = optim[c[1]](p, c[2])
      for k = 1, 3 do feed(p, k); o1:step() end
      local sd = o1:state_dict()
      -- the second list reaches the first's numbers, then the state is loaded
      for i = 1, 2 do q[i] = lg.tensor(p[i]) end
      q[3].data, q[4].data = p[3].data, p[4].data
      local o2 = optim[c[1]](q, { lr = 1 })
      o2:load_state_dict(sd)
      assert.are.equal(o1.lr, o2.lr)
      for k = 4, 6 do
        feed(p, k); o1:step()
        feed(q, k); o2:step()
      end
      for i = 1, 2 do assert.are.same(p[i]:totable(), q[i]:totable()) end
      assert.are.equal(p[3].data, q[3].data)
      assert.are.equal(p[4].data, q[4].data)
    end)
  end

  it("has PyTorch's layout, 1-based, numbers for Values, copies of the tensors", function ()
    local a, v = lg.tensor({ 1, 2 }), lg.value(3)
    local opt = optim.Adam({ a, v }, { lr = 0.5 })
    a.grad, v.grad = lg.tensor({ 1, -1 }), 2
    opt:step()
    local sd = opt:state_dict()
    assert.are.same({ 1, 2 }, sd.param_groups[1].params)
    assert.are.equal(0.5, sd.param_groups[1].lr)
    assert.are.equal(1, sd.state[1].step)
    agree({ 0.1, -0.1 }, sd.state[1].exp_avg, 1e-15, "exp_avg")
    assert.are.equal(1, sd.state[2].step)
    assert.is_true(math.abs(sd.state[2].exp_avg - 0.2) < 1e-15)
    assert.are.equal("number", type(sd.state[2].exp_avg_sq))
    opt:step()
    assert.are.equal(1, sd.state[1].step)                    -- a copy
    agree({ 0.1, -0.1 }, sd.state[1].exp_avg, 1e-15, "exp_avg")
  end)

  it("LBFGS resumes from its history", function ()
    local function run (opt, x)
      return opt:step(function ()
        opt:zero_grad()
        local l = (1 - x[1]) ^ 2 + 100 * (x[2] - x[1] * x[1]) ^ 2
        l:backward()
        return l
      end)
    end
    local x = lg.tensor({ -1.5, 2 }, { requires_grad = true })
    local o1 = optim.LBFGS({ x }, { max_iter = 5 })
    run(o1, x); run(o1, x)
    local y = lg.tensor(x, { requires_grad = true })
    local o2 = optim.LBFGS({ y }, { max_iter = 5 })
    o2:load_state_dict(o1:state_dict())
    run(o1, x); run(o2, y)
    assert.are.same(x:totable(), y:totable())
  end)

  it("LBFGS over Values resumes from its history, and float32 tensors converge", function ()
    local function run (opt, a, b)
      return opt:step(function ()
        opt:zero_grad()
        local l = (1 - a) ^ 2 + 100 * (b - a * a) ^ 2
        l:backward()
        return l
      end)
    end
    local a, b = lg.value(-1.5), lg.value(2)
    local o1 = optim.LBFGS({ a, b }, { max_iter = 5 })
    run(o1, a, b)
    local a2, b2 = lg.value(a.data), lg.value(b.data)
    local o2 = optim.LBFGS({ a2, b2 }, { max_iter = 5 })
    o2:load_state_dict(o1:state_dict())
    run(o1, a, b); run(o2, a2, b2)
    assert.are.equal(a.data, a2.data)
    assert.are.equal(b.data, b2.data)
    local x = lg.tensor({ -1.5, 2 }, { dtype = "float32", requires_grad = true })
    local o3 = optim.LBFGS({ x }, { line_search_fn = "strong_wolfe" })
    for _ = 1, 3 do
      o3:step(function ()
        o3:zero_grad()
        local l = (1 - x[1]) ^ 2 + 100 * (x[2] - x[1] ^ 2) ^ 2
        l:backward()
        return l
      end)
    end
    assert.are.equal("float32", x.dtype)
    assert.is_true(math.abs(x:get(1) - 1) < 1e-4 and math.abs(x:get(2) - 1) < 1e-4)
  end)

  local function sgd () return optim.SGD({ lg.zeros(2), lg.zeros(3) }, { momentum = 0.5 }) end
  local function sd () return sgd():state_dict() end
  local cases = {
    { "not a table", function (o) o:load_state_dict(3) end,
      "luagrad.optim.SGD.load_state_dict: bad argument #1 (table expected, got number)" },
    { "no param_groups", function (o) o:load_state_dict({ state = {} }) end,
      "luagrad.optim.SGD.load_state_dict: param_groups must be an array of one table" },
    { "a different number of parameters", function (o)
        o:load_state_dict(optim.SGD({ lg.zeros(2) }):state_dict())
      end, "luagrad.optim.SGD.load_state_dict: the state dict has 1 parameters, the optimizer 2" },
    { "an unknown option", function (o)
        local s = sd(); s.param_groups[1].betas = { 0.9, 0.99 }; o:load_state_dict(s)
      end, "luagrad.optim.SGD.load_state_dict: param_groups[1] has an unknown option 'betas'" },
    { "a bad option", function (o)
        local s = sd(); s.param_groups[1].lr = -1; o:load_state_dict(s)
      end, "luagrad.optim.SGD.load_state_dict: bad option 'lr' (a non-negative number " ..
           "expected, got -1)" },
    { "a state for no parameter", function (o)
        local s = sd(); s.state[3] = {}; o:load_state_dict(s)
      end, "luagrad.optim.SGD.load_state_dict: state has an entry for no parameter (3)" },
    { "an unknown entry", function (o)
        local s = sd(); s.state[1] = { exp_avg = lg.zeros(2) }; o:load_state_dict(s)
      end, "luagrad.optim.SGD.load_state_dict: state[1] has an unknown entry 'exp_avg'" },
    { "a misshaped tensor", function (o)
        local s = sd(); s.state[2] = { momentum_buffer = lg.zeros(2) }; o:load_state_dict(s)
      end, "luagrad.optim.SGD.load_state_dict: state[2].momentum_buffer has shape {2}, the " ..
           "parameter {3}" },
    { "a number for a tensor", function (o)
        local s = sd(); s.state[2] = { momentum_buffer = 1 }; o:load_state_dict(s)
      end, "luagrad.optim.SGD.load_state_dict: state[2].momentum_buffer must be a tensor, " ..
           "got number" },
  }
  for _, c in ipairs(cases) do
    it("refuses " .. c[1], function ()
      assert.has_error(function () c[2](sgd()) end, c[3])
    end)
  end

  it("refuses Values whose steps differ", function ()
    local o = optim.Adam({ lg.value(1), lg.value(2) })
    o:step()
    local s = o:state_dict()
    s.state[2].step = 5
    assert.has_error(function () o:load_state_dict(s) end,
      "luagrad.optim.Adam.load_state_dict: the Values' state.step differ (1 and 5)")
  end)
end)

describe("LBFGS on Rosenbrock against torch", function ()
  -- The last digits of a gradient (the order of autograd's products) differ from torch's by
  -- an ulp; 20 fixed steps of lr 1 on Rosenbrock's valley amplify that about 1e4 times a
  -- call, so without a line search only the first two calls are compared to 2e-9 (the
  -- strong Wolfe search, and the shorter runs, hold 1e-11 to the end).
  local function run (opts, c, asvalues)
    local checked = (opts.line_search_fn == nil and opts.max_iter == nil) and 2 or #c
    local x, list, get
    if asvalues then
      local a, b = lg.value(-1.5), lg.value(2)
      x, list = { a, b }, { a, b }
      get = function () return x end
    else
      x = lg.tensor({ -1.5, 2 }, { requires_grad = true })
      list = { x }
      get = function () return x end
    end
    local opt = optim.LBFGS(list, opts)
    local function closure ()
      opt:zero_grad()
      local l = (1 - x[1]) ^ 2 + 100 * (x[2] - x[1] ^ 2) ^ 2
      l:backward()
      return l
    end
    for k, want in ipairs(c) do
      local loss = opt:step(closure)
      if k <= checked then
        agree(want.x, get(), 2e-9, "call " .. k, 1e-12)
        assert.is_true(math.abs(loss.data - want.loss) <= 1e-9 * math.abs(want.loss) + 1e-15,
                       string.format("call %d: loss %.17g, torch's %.17g", k, loss.data,
                                     want.loss))
      end
      assert.are.equal(want.func_evals, opt._lstate.func_evals)
      assert.are.equal(want.n_iter, opt._lstate.n_iter)
    end
  end
  for _, c in ipairs(F.lbfgs) do
    local name = c.opts.line_search_fn and "strong_wolfe" or "no line search"
    local extra = c.opts.max_iter and (" (max_iter " .. c.opts.max_iter .. ", history " ..
                                       c.opts.history_size .. ")") or ""
    it(name .. extra .. ": torch's iterates, history kept across step calls", function ()
      run(c.opts, c.calls)
    end)
    it(name .. extra .. ": the same with Values as parameters", function ()
      run(c.opts, c.calls, true)
    end)
  end

  it("returns at once when the gradient is below tolerance_grad", function ()
    local x = lg.tensor({ 1, 1 }, { requires_grad = true })
    local opt = optim.LBFGS({ x })
    local calls = 0
    opt:step(function ()
      calls = calls + 1
      opt:zero_grad()
      local l = (x * 0):sum()
      l:backward()
      return l
    end)
    assert.are.equal(1, calls)
  end)
end)

describe("schedulers against torch.optim.lr_scheduler", function ()
  local function seq (make, n)
    local opt = optim.SGD({ lg.zeros(1) }, { lr = 0.1 })
    local sch = make(opt)
    local lrs = { opt.lr }
    for _ = 1, n do
      opt:step()
      sch:step()
      lrs[#lrs + 1] = opt.lr
    end
    return lrs, sch
  end
  local function same (want, got)
    assert.are.equal(#want, #got)
    for i = 1, #want do
      assert.is_true(math.abs(want[i] - got[i]) <= 1e-15 * math.abs(want[i]) + 1e-300,
                     string.format("epoch %d: %.17g, torch %.17g", i - 1, got[i], want[i]))
    end
  end
  it("StepLR", function ()
    same(F.steplr, seq(function (o) return optim.StepLR(o, 3, 0.5) end, 12))
    same(F.steplr_default, seq(function (o) return optim.StepLR(o, 2) end, 6))
  end)
  it("CosineAnnealingLR, periodic past T_max", function ()
    same(F.cosine, seq(function (o) return optim.CosineAnnealingLR(o, 4, 0.01) end, 20))
    same(F.cosine_default, seq(function (o) return optim.CosineAnnealingLR(o, 3) end, 10))
  end)
  it("making one leaves the rate at its base; opt.lr is assignable", function ()
    local opt = optim.SGD({ lg.zeros(1) }, { lr = 0.3 })
    local sch = optim.StepLR(opt, 1, 0.5)
    assert.are.equal(0.3, opt.lr)
    assert.are.same({ 0.3 }, sch:get_last_lr())
    opt.lr = 1
    sch:step()
    assert.are.equal(0.5, opt.lr)
    local p = lg.tensor({ 0 })
    local o2 = optim.SGD({ p }, { lr = 0.1 })
    o2.lr = 2
    p.grad = lg.tensor({ 1 })
    o2:step()
    assert.are.same({ -2 }, p:totable())
  end)
  it("checks its arguments", function ()
    local opt = optim.SGD({ lg.zeros(1) })
    assert.has_error(function () optim.StepLR({}, 3) end,
      "luagrad.optim.StepLR: bad argument #1 (optimizer expected, got table)")
    assert.has_error(function () optim.StepLR(opt, 0) end,
      "luagrad.optim.StepLR: bad argument #2 (a positive integer expected, got 0)")
    assert.has_error(function () optim.StepLR(opt, 2, "x") end,
      "luagrad.optim.StepLR: bad argument #3 (a number expected, got \"x\")")
    assert.has_error(function () optim.CosineAnnealingLR(opt, 1.5) end,
      "luagrad.optim.CosineAnnealingLR: bad argument #2 (a positive integer expected, " ..
      "got 1.5)")
  end)
end)

describe("errors", function ()
  local t = lg.zeros(2)
  local cases = {
    { function () optim.Adam(3) end,
      "luagrad.optim.Adam: bad argument #1 (array of tensors and Values expected, got number)" },
    { function () optim.SGD(t) end,
      "luagrad.optim.SGD: bad argument #1 (array of tensors and Values expected, got tensor)" },
    { function () optim.Adam({}) end,
      "luagrad.optim.Adam: bad argument #1 (an empty parameter list)" },
    { function () optim.RMSprop({ t, "w" }) end,
      "luagrad.optim.RMSprop: bad argument #1 (tensor or leaf Value expected at index 2, " ..
      "got string)" },
    { function () optim.Adam({ lg.value(1) + 1 }) end,
      "luagrad.optim.Adam: bad argument #1 (tensor or leaf Value expected at index 1, " ..
      "got a computed Value)" },
    { function () optim.SGD({ t, x = t }) end,
      "luagrad.optim.SGD: bad argument #1 (an array expected, got the key 'x')" },
    { function () optim.Adam({ t }, 0.1) end,
      "luagrad.optim.Adam: bad argument #2 (table expected, got number)" },
    { function () optim.Adam({ t }, { lrr = 1 }) end, "luagrad.optim.Adam: unknown option 'lrr'" },
    { function () optim.SGD({ t }, { lr = -1 }) end,
      "luagrad.optim.SGD: bad option 'lr' (a non-negative number expected, got -1)" },
    { function () optim.SGD({ t }, { momentum = -0.5 }) end,
      "luagrad.optim.SGD: bad option 'momentum' (a non-negative number expected, got -0.5)" },
    { function () optim.SGD({ t }, { weight_decay = "1" }) end,
      "luagrad.optim.SGD: bad option 'weight_decay' (a non-negative number expected, " ..
      "got \"1\")" },
    { function () optim.SGD({ t }, { nesterov = 1 }) end,
      "luagrad.optim.SGD: bad option 'nesterov' (boolean expected, got 1)" },
    { function () optim.SGD({ t }, { nesterov = true }) end,
      "luagrad.optim.SGD: nesterov momentum requires a momentum and zero dampening" },
    { function () optim.SGD({ t }, { nesterov = true, momentum = 0.9, dampening = 0.1 }) end,
      "luagrad.optim.SGD: nesterov momentum requires a momentum and zero dampening" },
    { function () optim.Adam({ t }, { betas = { 0.9, 1 } }) end,
      "luagrad.optim.Adam: bad option 'betas' (a pair of numbers in [0, 1) expected, got table)" },
    { function () optim.AdamW({ t }, { eps = -1e-8 }) end,
      "luagrad.optim.AdamW: bad option 'eps' (a non-negative number expected, got -0)" },
    { function () optim.Adam({ t }, { amsgrad = "yes" }) end,
      "luagrad.optim.Adam: bad option 'amsgrad' (boolean expected, got \"yes\")" },
    { function () optim.RMSprop({ t }, { alpha = -1 }) end,
      "luagrad.optim.RMSprop: bad option 'alpha' (a non-negative number expected, got -1)" },
    { function () optim.RMSprop({ t }, { centered = 0 }) end,
      "luagrad.optim.RMSprop: bad option 'centered' (boolean expected, got 0)" },
    { function () optim.LBFGS({ t }, { line_search_fn = "armijo" }) end,
      "luagrad.optim.LBFGS: bad option 'line_search_fn' (\"strong_wolfe\" or nil expected, " ..
      "got \"armijo\")" },
    { function () optim.LBFGS({ t }, { max_iter = 0 }) end,
      "luagrad.optim.LBFGS: bad option 'max_iter' (a positive integer expected, got 0)" },
    { function () optim.LBFGS({ t }, { history_size = 2.5 }) end,
      "luagrad.optim.LBFGS: bad option 'history_size' (a positive integer expected, got 2.5)" },
    { function () optim.LBFGS({ t }, { lr = 0 }) end,
      "luagrad.optim.LBFGS: bad option 'lr' (a positive number expected, got 0)" },
    { function () optim.LBFGS({ t }):step() end,
      "luagrad.optim.LBFGS.step: bad argument #1 (function expected, got nil)" },
    { function () local o = optim.Adam({ t }); o.lr = -2; o:step() end,
      "luagrad.optim.Adam: bad option 'lr' (a non-negative number expected, got -2)" },
    { function () local o = optim.SGD({ t }); o.lr = nil; o:step() end,
      "luagrad.optim.SGD: bad option 'lr' (a non-negative number expected, got nil)" },
  }
  for i, c in ipairs(cases) do
    it("word for word: " .. c[2]:gsub("^luagrad%.", ""):sub(1, 60) .. " (" .. i .. ")", function ()
      assert.has_error(c[1], c[2])
    end)
  end

  it("the C side refuses what optim.lua never passes", function ()
    assert.has_error(function () lg._optim_sgd(t, lg.zeros(3), nil, false, 1, 0, 0, 0, false) end,
      "luagrad._optim_sgd: bad argument #2 (tensor of the parameter's dtype and size " ..
      "expected, got tensor)")
    assert.has_error(function () lg._optim_adam(t:expand(3, 2), t, t, t, nil, 1, 0, 0, 0, 0, 1) end,
      "luagrad._optim_adam: bad argument #1 (contiguous tensor expected, got tensor)")
    assert.has_error(function () lg._optim_rmsprop(t, t, t, nil, nil, 1, 0, 0, 0, 0.5) end,
      "luagrad._optim_rmsprop: bad argument #5 (tensor expected, got nil)")
    assert.has_error(function () lg._optim_gather({ 1 }, lg.zeros(1)) end,
      "luagrad._optim_gather: bad argument #1 (array of Values expected, got table)")
    assert.has_error(function () lg._optim_scatter({ lg.value(1) + 1 }, lg.zeros(1)) end,
      "luagrad._optim_scatter: bad argument #1 (array of leaf Values expected, got table)")
    assert.has_error(function () lg._optim_gather(1, lg.zeros(1)) end,
      "luagrad._optim_gather: bad argument #1 (array of Values expected, got number)")
    assert.has_error(function () lg._optim_gather({ lg.value(1) }, lg.zeros(2)) end,
      "luagrad._optim_gather: bad argument #2 (float64 tensor of one element per Value " ..
      "expected, got tensor)")
  end)
end)

describe("lg.optim", function ()
  it("is the table require('luagrad.optim') returns", function ()
    assert.are.equal(optim, lg.optim)
  end)
end)

describe("errors are raised at the caller's line", function ()
  local t = lg.zeros(2)
  local function where (f)
    local ok, e = pcall(f)
    assert.is_false(ok)
    return (e:match("^(.-):%d+: ") or e):match("optim_spec%.lua$")
  end
  local here = "optim_spec.lua"
  it("for constructors, steps, schedulers and state dicts", function ()
    assert.are.equal(here, where(function () optim.Adam({ t }, { lr = -1 }) end))
    assert.are.equal(here, where(function () optim.AdamW({ "x" }) end))
    assert.are.equal(here, where(function () optim.SGD({ t }, { nesterov = true }) end))
    assert.are.equal(here, where(function () optim.RMSprop({ t }, { bad = 1 }) end))
    assert.are.equal(here, where(function () optim.StepLR({}, 1) end))
    assert.are.equal(here, where(function () optim.CosineAnnealingLR(optim.SGD({ t }), 0) end))
    assert.are.equal(here, where(function () local o = optim.SGD({ t }); o.lr = -1; o:step() end))
    assert.are.equal(here, where(function () optim.LBFGS({ t }):step(1) end))
    local o = optim.SGD({ t }, { momentum = 0.5 })
    local sd = o:state_dict()
    sd.state[1] = { momentum_buffer = 3 }
    assert.are.equal(here, where(function () o:load_state_dict(sd) end))
    assert.are.equal(here, where(function () o:load_state_dict({}) end))
  end)
end)
