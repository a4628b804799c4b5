-- bench/ops.lua: one small case repeated K times, for instruction counts under callgrind.
--   valgrind --tool=callgrind luahost bench/ops.lua BACKEND GC CASE K
-- bench/run.lua runs each case at two values of K; the difference over the difference in K
-- is the cost of one repetition with start-up, loading and the final collection cancelled
-- (w2build and w2bwd, for the cache simulator, take K as a size or a count of sweeps).
-- Results are dropped at once, so every op works on a small fresh graph (W1-style), and the
-- collector's work on that garbage is part of what is counted.
local C = require("common")
local backend, gcmode, case, K = arg[1], arg[2], arg[3], tonumber(arg[4])
C.setgc(gcmode)
local B = C.backend(backend)
local value, tanh = B.value, B.tanh

local cases = {}

cases.leaf = function ()          -- value(x)
  for i = 1, K do local _ = value(i) end
end

cases.mul = function ()           -- Value * Value
  local a, b = value(2), value(3)
  for _ = 1, K do local _ = a * b end
end

cases.mulk = function ()          -- Value * number (the number is folded in)
  local a = value(2)
  for _ = 1, K do local _ = a * 3 end
end

cases.add = function ()           -- Value + Value
  local a, b = value(2), value(3)
  for _ = 1, K do local _ = a + b end
end

cases.tanh = function ()          -- module function: lg.tanh(a)
  local a = value(0.5)
  for _ = 1, K do local _ = tanh(a) end
end

cases.method = function ()        -- method: a:tanh()
  local a = value(0.5)
  for _ = 1, K do local _ = a:tanh() end
end

cases.w1 = function ()            -- the lecture's forward: 3 leaves, 3 ops
  for _ = 1, K do
    local a, b, c = value(5), value(3), value(2)
    local _ = 3 * (a + b * c)
  end
end

cases.w1bwd = function ()         -- the lecture, forward and backward
  for _ = 1, K do
    local a, b, c = value(5), value(3), value(2)
    local J = 3 * (a + b * c)
    J:backward()
  end
end

cases.bwd = function ()           -- backward over a W2 graph of 1,002 ops (+ its leaves): K times
  local leafx, A, Bi, Ci, ncells = C.w2_program(1000)
  local L, outs = #leafx, {}
  for i = 1, L do outs[i] = value(leafx[i]) end
  for k = 1, ncells do
    local a, b, c = outs[A[k]], outs[Bi[k]], outs[Ci[k]]
    local w = a * b - c
    local e = B.exp(w)
    outs[L + k] = tanh(w / e + a)
  end
  local J = outs[L + ncells]
  local used, nodes = {[L] = true}, 6 * ncells
  for k = 1, ncells do used[Bi[k]] = true; used[Ci[k]] = true end
  for i = 1, L do if used[i] then nodes = nodes + 1 end end
  print("NODES " .. nodes)
  for _ = 1, K do J:backward() end
end

-- At scale, for the cache simulator: K is the size, so run two sizes and difference them.
local function w2graph (nops)
  local leafx, A, Bi, Ci, ncells = C.w2_program(nops)
  local L, outs = #leafx, {}
  for i = 1, L do outs[i] = value(leafx[i]) end
  for k = 1, ncells do
    local a, b, c = outs[A[k]], outs[Bi[k]], outs[Ci[k]]
    local u = a * b
    local w = u - c
    local e = B.exp(w)
    local q = w / e
    local s = q + a
    outs[L + k] = tanh(s)
  end
  return outs[L + ncells]
end

cases.w2build = function ()       -- build a W2 graph of K ops; exit without freeing it
  w2graph(K)
  os.exit(0, false)
end

cases.w2bwd = function ()         -- backward K times over a W2 graph of 200,000 ops
  local J = w2graph(200000)
  collectgarbage("collect")
  for _ = 1, K do J:backward() end
  os.exit(0, false)
end

local f = cases[case] or error("unknown case " .. tostring(case))
f()
