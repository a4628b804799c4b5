-- compile_programs.lua: the differential fuzzer of lg.compile (run by fuzz_compile.c).
-- The input bytes choose a program from a fixed grammar (never run as source themselves):
-- a function of one to three arguments (numbers, or arrays of numbers) and of leaves made
-- outside it, whose statements take derivatives inside (lg.grad on Values and on numbers,
-- backward with and without create_graph, .grad reads, lg.gradients, lg.tangents), call
-- custom functions and a compiled function, read .data, branch on comparisons and on data,
-- and read to_dot and tostring. The program runs eagerly and through lg.compile, on two
-- copies of its outside leaves, at a sequence of points (signed zeros, ties, changes to the
-- outside leaves' data between calls). Any difference in the value, the gradients, the
-- outside leaves' grads, or in whether the call raised, beyond 1e-12 relative, is an error
-- whose message starts with "mismatch". Returns the number of points compared, and
-- whether the program stopped at a point where both modes raised.
-- Called as chunk(lg, bytes, trace, masks); trace prints the program and each point, masks
-- lets in the ops whose derivatives branch on data (see MAX below).
local lg, data, trace, masks = ...
local unpack = table.unpack or unpack
local negzero = -1 / math.huge

local pos = 0
local function byte ()
  pos = pos + 1
  return data:byte(pos) or 0
end
local function choose (k) return byte() % k + 1 end
local function pick (t) return t[choose(#t)] end

-- ---- the program ------------------------------------------------------------------

local NUMS = {"0", "1", "2", "0.5", "-1", "3", "-0.25", "1e-3", "-2", "0.75"}
local UNARY = {"lg.tanh(%s)", "lg.sin(%s)", "lg.cos(%s)", "lg.sigmoid(%s)", "-(%s)",
               "lg.exp(%s * 0.25)", "lg.tan(%s * 0.1)", "lg.log(%s * %s + 0.5)",
               "lg.expm1(%s * 0.25)", "lg.square(%s)", "lg.log1p(%s * %s + 0.25)"}
-- bodies of the functions lg.grad differentiates: u is its argument, %s a Value of f's
local INNER = {"u * u * %s", "lg.tanh(u * %s)", "lg.sin(u) * %s", "H.cube(u) * %s",
               "H.pick(u, %s)", "lg.exp(u) / (1 + %s * %s)"}
local MAX = "lg.max(%s, %s)"
-- The ops whose derivatives, built as ops, branched on the data they were built at (issue
-- 12, class 4): LUAGRAD_FUZZ_MASKS=0 leaves them out.
if masks then
  for _, u in ipairs({"lg.relu(%s)", "lg.abs(%s)", "lg.sqrt(lg.abs(%s))",
                      "lg.log(lg.abs(%s) + 0.5)", "(%s) ^ 2", "(%s) ^ 3",
                      "lg.leaky_relu(%s)", "lg.clamp(%s, -0.5, 1)", "lg.clamp(%s, nil, 0)",
                      "lg.softplus(%s * 10)"}) do
    UNARY[#UNARY + 1] = u
  end
  for _, u in ipairs({"lg.abs(u) * %s", "lg.relu(u - %s)", "lg.max(u, %s) * u",
                      "u ^ 3 + %s", "lg.min(u * u, %s)", "(lg.abs(u) + 0.5) ^ %s",
                      "lg.leaky_relu(u, %s) * u", "lg.clamp(u * u, %s, 1)",
                      "lg.clamp(u, -1, %s) * u", "lg.softplus(u * 10) * %s"}) do
    INNER[#INNER + 1] = u
  end
else MAX = "lg.sum({%s, %s})" end

local vals = {"x1"}          -- expressions that hold Values
local argspec = {-1}         -- -1 a number, else an array's length
local nargs = choose(3)
for i = 2, nargs do
  local k = byte() % 3
  if k == 0 then
    argspec[i] = -1
    vals[#vals + 1] = "x" .. i
  else
    argspec[i] = k
    for j = 1, k do vals[#vals + 1] = ("x%d[%d]"):format(i, j) end
  end
end
local np = byte() % 3
for j = 1, np do vals[#vals + 1] = ("P[%d]"):format(j) end

local lines = {}
local function emit (s) lines[#lines + 1] = "  " .. s end
local function V () return pick(vals) end
local function N () return pick(NUMS) end
local function unary (e)   -- a unary template applied to e (twice where it has two holes)
  return (UNARY[choose(#UNARY)]:gsub("%%s", function () return e end))
end
local function inner ()
  return (INNER[choose(#INNER)]:gsub("%%s", function () return V() end))
end
local function simple ()   -- an expression of Values and numbers, a Value
  local k = choose(6)
  if k == 1 then return ("(%s + %s)"):format(V(), V())
  elseif k == 2 then return ("(%s - %s * %s)"):format(V(), N(), V())
  elseif k == 3 then return ("(%s * %s)"):format(V(), V())
  elseif k == 4 then return ("(%s / (1 + %s * %s))"):format(V(), V(), V())
  elseif k == 5 then return unary(V())
  else return MAX:format(V(), V()) end
end

local STATEMENTS = {
  function (t) return ("local %s = %s"):format(t, simple()) end,
  function (t) return ("local %s = %s"):format(t, unary(simple())) end,
  function (t)
    if not masks then return ("local %s = %s"):format(t, simple()) end
    return ("local %s = lg.%s(%s, %s)"):format(t, pick({"max", "min"}), V(), V())
  end,
  function (t) return ("local %s = %s * %s.data"):format(t, V(), V()) end,
  function (t) return ("local %s = %s + (%s.data > %s and 1 or -1)"):format(t, V(), V(), N()) end,
  function (t)   -- a branch on a comparison of Values, or of a Value and a number
    local a, b = V(), (byte() % 2 == 0) and V() or N()
    return ("local %s\n  if %s %s %s then %s = %s else %s = %s end"):format(t, a,
      pick({"<", "<=", ">", ">="}), b, t, simple(), t, simple())
  end,
  function (t)
    return ("local %s\n  if 1 / %s.data > 0 then %s = %s else %s = %s end"):format(t, V(), t,
      simple(), t, simple())
  end,
  function (t) return ("local %s = lg.sum({%s, %s, %s})"):format(t, V(), V(), N()) end,
  function (t) return ("local %s = lg.dot({%s, %s}, {%s, %s})"):format(t, V(), V(), V(), N()) end,
  function (t)   -- lg.grad on a Value: the derivative as Values
    return ("local %s = lg.grad(function (u) return %s end)(%s)"):format(t, inner(), V())
  end,
  function (t)   -- lg.grad on a number: a number
    return ("local %s = %s * lg.grad(function (u) return %s end)(%s.data)"):format(t, V(),
      inner(), V())
  end,
  function (t)
    local a = V()
    return ("local %s\n  do local y = %s * %s; y:backward{create_graph = true}; "
            .. "%s = %s * %s.grad end"):format(t, a, simple(), t, V(), a)
  end,
  function (t)
    local a = V()
    return ("local %s\n  do local y = %s; y:backward(); %s = %s * %s.grad end"):format(t,
      simple(), t, V(), a)
  end,
  function (t) return ("local %s = %s + %s.grad"):format(t, V(), V()) end,
  function (t)
    return ("local %s = %s * lg.gradients(%s, {%s, %s}, {create_graph = %s})[%d]"):format(t,
      V(), simple(), V(), V(), pick({"true", "false"}), choose(2))
  end,
  function (t)
    return ("local %s = %s + lg.tangents({%s}, {%s}, {tangents = {%s}, create_graph = %s})[1]")
      :format(t, V(), simple(), V(), N(), pick({"true", "false"}))
  end,
  function (t) return ("local %s = H.cube(%s) + H.pick(%s, %s)"):format(t, V(), V(), V()) end,
  function (t) return ("local %s = %s * H.cube(%s.data)"):format(t, V(), V()) end,
  function (t)
    return ("local %s = lg.stop_gradient(%s) * %s + %s:detach()"):format(t, V(), V(), V())
  end,
  function (t)
    return ("local %s = lg.no_grad(function () return %s end) * %s"):format(t, simple(), V())
  end,
  function (t)
    local a = V()
    return ("%s:zero_grad()\n  local %s = %s * 2"):format(a, t, a)
  end,
  function (t) return ("local %s = %s * H.inner(%s.data)"):format(t, V(), V()) end,
  function (t) return ("local %s = %s * #lg.to_dot(%s)"):format(t, V(), V()) end,
  function (t) return ("local %s = %s * #tostring(%s)"):format(t, V(), V()) end,
}

local nstat = 1 + byte() % 10
for i = 1, nstat do
  local t = "t" .. i
  emit(STATEMENTS[choose(#STATEMENTS)](t))
  vals[#vals + 1] = t
end
local outs = {}
for i = 1, choose(3) do outs[i] = vals[#vals - (byte() % math.min(#vals, 4))] end
local params = {}
for i = 1, nargs do params[i] = "x" .. i end
local source = ("return function (lg, P, H)\nreturn function (%s)\n%s\n"
                .. "  return lg.sum({%s}) + x1 * 0\nend\nend\n"):format(table.concat(params, ", "),
                table.concat(lines, "\n"), table.concat(outs, ", "))

-- ---- helpers each copy gets its own of ---------------------------------------------

local function helpers (P)
  local H = {}
  H.cube = lg.custom{name = "cube", forward = function (u) return u * u * u end,
                     backward = function (g, u) return 3 * u * u * g end}
  H.pick = lg.custom{name = "pick",   -- the larger of two, a branch in the callbacks
    forward = function (u, v) if u > v then return u end return v end,
    backward = function (g, u, v) if u > v then return g, 0 end return 0, g end}
  H.inner = lg.compile(function (u)
    if P[1] then return u * u * P[1] end
    return u * u
  end)
  return H
end

local function outside (n)
  local P = {}
  for j = 1, n do P[j] = lg.value(j * 0.75 - 1) end
  return P
end

-- ---- running it --------------------------------------------------------------------

if trace then io.stderr:write(source) end
local chunk = assert(load(source, "=program"))
local Pe, Pc = outside(np), outside(np)
local fe = chunk()(lg, Pe, helpers(Pe))
local fc = lg.compile(chunk()(lg, Pc, helpers(Pc)))

local function leavesof (args)
  local t = {}
  for i, a in ipairs(args) do
    if type(a) == "table" then
      t[i] = {}
      for j, x in ipairs(a) do t[i][j] = lg.value(x) end
    else t[i] = lg.value(a) end
  end
  return t
end

local function number (g)   -- a grad, a Value's data or a number
  if lg.type(g) then return g.data end
  return g
end

local function eager (args)
  local leaves = leavesof(args)
  local y = fe(unpack(leaves, 1, nargs))
  local function each (fn)
    for _, l in ipairs(leaves) do
      if type(l) == "table" then for _, u in ipairs(l) do fn(u) end else fn(l) end
    end
  end
  each(function (l) l.grad = 0 end)
  y:backward()
  local out = {y.data}
  for i, l in ipairs(leaves) do
    if type(l) == "table" then
      out[i + 1] = {}
      for j, u in ipairs(l) do out[i + 1][j] = u.grad end
    else out[i + 1] = l.grad end
  end
  return out
end

local function close (a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "table" then
    if #a ~= #b then return false end
    for i = 1, #a do if not close(a[i], b[i]) then return false end end
    return true
  end
  if a ~= a then return b ~= b end
  if a == b then return true end
  if a == math.huge or a == -math.huge or b == math.huge or b == -math.huge then return false end
  return math.abs(a - b) <= 1e-12 * math.max(1, math.abs(a), math.abs(b))
end

local function show (x)
  if type(x) == "table" then
    local s = {}
    for i = 1, #x do s[i] = show(x[i]) end
    return "{" .. table.concat(s, ", ") .. "}"
  end
  if type(x) == "number" then return ("%.17g"):format(x) end
  return tostring(x)
end

local POOL = {0, negzero, 1, -1, 0.5, -0.5, 2, -2, 3, 0.25, 1.5, -3, 1e-8, 10, 0.75}
local function point ()
  local tie = byte() % 4 == 0 and pick(POOL) or nil
  local args = {}
  for i = 1, nargs do
    if argspec[i] < 0 then args[i] = tie or pick(POOL)
    else
      args[i] = {}
      for j = 1, argspec[i] do args[i][j] = tie or pick(POOL) end
    end
  end
  return args
end

local function fail (what, args, e, c)
  error(("mismatch: %s at %s\neager:    %s\ncompiled: %s\n%s"):format(what, show(args),
        show(e), show(c), source), 0)
end

local npoints, compared, bothraised = 4 + byte() % 6, 0, false
local first
for k = 1, npoints do
  local args = (k == npoints and first) or point()
  first = first or args
  if np > 0 and byte() % 4 == 0 then   -- an optimizer's step on the outside leaves
    local j, x = choose(np), pick(POOL)
    Pe[j].data, Pc[j].data = x, x
    if trace then io.stderr:write(("-- P[%d].data = %s\n"):format(j, show(x))) end
  end
  local oke, e = pcall(eager, args)
  local okc, c = pcall(function () return {fc(unpack(args, 1, nargs))} end)
  if trace then io.stderr:write(("-- at %s: %s / %s\n"):format(show(args), show(e), show(c))) end
  if oke ~= okc then fail("one raised, the other did not", args, e, c) end
  compared = compared + 1
  if not oke then   -- both raised: what f left half done may differ from here on
    bothraised = true
    break
  end
  do
    if not close(e, c) then fail("results differ", args, e, c) end
    for j = 1, np do
      local ge, gc = number(Pe[j].grad), number(Pc[j].grad)
      if not close(ge, gc) then fail(("P[%d].grad differs"):format(j), args, ge, gc) end
      if Pe[j].label ~= Pc[j].label then fail("labels differ", args, Pe[j].label, Pc[j].label) end
      -- A grad left as a Value is a graph made outside the next call's recording, which a
      -- tape recomputes from the leaves' data of then, where eager mode keeps the data it
      -- was made with: a known limit (docs/compile-guards.md), kept out of the programs.
      if lg.type(Pe[j].grad) or lg.type(Pc[j].grad) then Pe[j].grad, Pc[j].grad = 0, 0 end
    end
  end
end
return compared, bothraised
