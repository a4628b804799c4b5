-- bench/common.lua: what every Lua implementation of the workloads shares: the LCG (the same
-- generator, seed 42, as bench/cbench.c and bench/torch_bench.py), the workload data, the
-- clock, memory readings and the one-line result format that bench/run.lua reads.
local fmt, concat = string.format, table.concat
local clock, pi, cos, sin = os.clock, math.pi, math.cos, math.sin
local io_open = io.open

local M = {}

-- Knuth's MMIX LCG on 64-bit integers (Lua 5.4 integer arithmetic wraps, as uint64_t does).
-- uniform() takes the top 53 bits; int(m) is in [0, m) from the top 31 bits. Compiled from a
-- string so that this file also parses under Lua 5.1 and LuaJIT, which have neither 64-bit
-- integers nor `>>`: there, lua_bench.lua reads the numbers from a data file that run.lua
-- writes with this generator (M.w3data).
local LCG = [[
local seed = ...
local s = seed
local G = {}
function G.uniform ()
  s = s * 6364136223846793005 + 1442695040888963407
  return (s >> 11) * 2.0^-53
end
function G.int (m)
  s = s * 6364136223846793005 + 1442695040888963407
  return (s >> 33) % m
end
return G
]]
function M.lcg (seed)
  return assert(load(LCG, "=lcg"))(seed)
end

M.SEED = 42
M.W2_LEAVES = 100

-- W2: a random DAG of cells. Cell k computes, from operands a (the previous cell's output,
-- so every node is reachable from the last), b and c (any earlier output or leaf, so
-- subexpressions are reused far away):
--   u = a*b; w = u - c; e = exp(w); q = w/e; s = q + a; o = tanh(s)
-- Every value stays in (-1, 1) or (e^-2, e^2): no overflow, no NaN, whatever N is.
-- Index 1..L are leaves, L+k the output of cell k. Returns leaf values, operand arrays.
function M.w2_program (nops)
  local G = M.lcg(M.SEED)
  local L = M.W2_LEAVES
  local ncells = math.floor((nops + 5) / 6)
  local leaves, A, B, C = {}, {}, {}, {}
  for i = 1, L do leaves[i] = G.uniform() * 2 - 1 end
  for k = 1, ncells do
    local avail = L + k - 1
    A[k] = avail
    B[k] = 1 + G.int(avail)
    C[k] = 1 + G.int(avail)
  end
  return leaves, A, B, C, ncells
end

-- W3: two moons, 50 points each, uniform noise of +-0.1 per coordinate; labels -1 / +1.
function M.moons (G)
  local X, Y = {}, {}
  for i = 0, 49 do
    local t = pi * i / 49
    X[#X + 1] = {cos(t) + 0.1 * (G.uniform() * 2 - 1), sin(t) + 0.1 * (G.uniform() * 2 - 1)}
    Y[#Y + 1] = -1.0
  end
  for i = 0, 49 do
    local t = pi * i / 49
    X[#X + 1] = {1 - cos(t) + 0.1 * (G.uniform() * 2 - 1),
                 0.5 - sin(t) + 0.1 * (G.uniform() * 2 - 1)}
    Y[#Y + 1] = 1.0
  end
  return X, Y
end

M.W3_SIZES = {2, 16, 16, 1}
M.W3_ALPHA = 1e-4

-- Initial parameters, layer by layer, neuron by neuron: weights uniform in [-1, 1], bias 0.
-- Returns layers[l][j] = {w = {...}, b = number} and the flat order (weights, then bias).
function M.mlp_init (G)
  local layers = {}
  for l = 1, #M.W3_SIZES - 1 do
    local nin, nout = M.W3_SIZES[l], M.W3_SIZES[l + 1]
    local layer = {}
    for j = 1, nout do
      local w = {}
      for i = 1, nin do w[i] = G.uniform() * 2 - 1 end
      layer[j] = {w = w, b = 0.0}
    end
    layers[l] = layer
  end
  return layers
end

function M.lr (k) return 1.0 - 0.9 * k / 100 end   -- step k = 0, 1, ...

-- Everything W3 draws, for `steps` steps: {X =, Y = (moons), init = (mlp_init), lr = {lr(0),
-- lr(1), ...}}. Needs the generator, so Lua 5.3+.
function M.w3inputs (steps)
  local G = M.lcg(M.SEED)
  local X, Y = M.moons(G)
  local lr = {}
  for k = 0, steps - 1 do lr[k + 1] = M.lr(k) end
  return {X = X, Y = Y, init = M.mlp_init(G), lr = lr}
end

-- A value of numbers, strings and tables (no cycles) as a Lua literal that every Lua reads back
-- to the same value: numbers in %.17g round-trip exactly.
local function literal (v)
  if type(v) == "number" then return fmt("%.17g", v) end
  if type(v) == "string" then return fmt("%q", v) end
  local parts, n = {}, #v
  for i = 1, n do parts[i] = literal(v[i]) end
  local keys = {}
  for k in pairs(v) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then keys[#keys + 1] = k end
  end
  table.sort(keys)   -- string keys only here: a stable file
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. " = " .. literal(v[k]) end
  return "{" .. concat(parts, ", ") .. "}"
end

-- Writes w3inputs(steps) to path as `return {...}`, for lua_bench.lua under Lua 5.1 and
-- LuaJIT (their dofile reads it; they cannot run the generator).
function M.write_w3data (path, steps)
  local f = assert(io_open(path, "w"))
  f:write("-- W3's inputs, written by bench/run.lua with bench/common.lua's generator\n")
  f:write("return ", literal(M.w3inputs(steps)), "\n")
  f:close()
end

M.clock = clock

-- Lua heap in bytes after a full collection.
function M.heap ()
  collectgarbage("collect")
  collectgarbage("collect")
  return collectgarbage("count") * 1024
end

-- Peak and current resident set (bytes) of this process, from /proc (nil elsewhere).
function M.rss ()
  local f = io_open("/proc/self/status")
  if not f then return nil, nil end
  local s = f:read("*a")   -- "*a": Lua 5.1 needs the star, 5.4 skips it
  f:close()
  local hwm, rss = s:match("VmHWM:%s*(%d+)"), s:match("VmRSS:%s*(%d+)")
  return hwm and tonumber(hwm) * 1024, rss and tonumber(rss) * 1024
end

-- One result line: RESULT key=value ... check=x,y,z (numbers with 17 digits).
function M.result (fields, check)
  local out = {"RESULT"}
  for _, kv in ipairs(fields) do out[#out + 1] = kv[1] .. "=" .. tostring(kv[2]) end
  if check then
    local c = {}
    for i, x in ipairs(check) do c[i] = fmt("%.17g", x) end
    out[#out + 1] = "check=" .. concat(c, ",")
  end
  print(concat(out, " "))
end

-- A backend: how leaves are made and the ops that are functions rather than operators.
-- plain: Lua numbers (forward only); floor, floorchk: bench/floor.c (forward only);
-- luagrad: the real thing; anomaly: luagrad with lg.detect_anomaly(true).
local function listsum (xs)
  local s = 0.0
  for i = 1, #xs do s = s + xs[i] end
  return s
end

local function listdot (xs, ys)
  local s = 0.0
  for i = 1, #xs do s = s + xs[i] * ys[i] end
  return s
end

-- math.tanh is a 5.2 function that Debian's lua5.4 keeps (LUA_COMPAT_MATHLIB); else in Lua
local tanh = rawget(math, "tanh") or function (x)
  local e = math.exp(-2 * math.abs(x))
  local t = (1 - e) / (1 + e)
  return x < 0 and -t or t
end

function M.backend (name)
  if name == "plain" then
    return {value = function (x) return x end, tanh = tanh, exp = math.exp,
            relu = function (x) if x > 0 then return x else return 0.0 end end,
            sum = listsum, dot = listdot, data = function (x) return x end}
  elseif name == "floor" or name == "floorchk" then
    local f = require(name)
    return {value = f.value, tanh = f.tanh, exp = f.exp, relu = f.relu, sum = f.sum,
            dot = f.dot, data = f.data}
  elseif name == "luagrad" or name == "anomaly" then
    local lg = require("luagrad")
    lg.detect_anomaly(name == "anomaly")
    return {value = lg.value, tanh = lg.tanh, exp = lg.exp, relu = lg.relu, sum = lg.sum,
            dot = lg.dot, data = function (v) return v.data end, zero_grad = lg.zero_grad,
            grad = true}
  end
  error("unknown backend " .. tostring(name))
end

-- Sets the collector mode, with Lua 5.4's default parameters: "inc" or "gen"; "-" leaves the
-- interpreter's default collector (Lua 5.1 and LuaJIT have only the one).
function M.setgc (mode)
  if mode == "-" then return
  elseif mode == "inc" then collectgarbage("incremental", 200, 100, 13)
  elseif mode == "gen" then collectgarbage("generational", 20, 100)
  else error("GC mode must be inc, gen or -, got " .. tostring(mode)) end
end

return M
