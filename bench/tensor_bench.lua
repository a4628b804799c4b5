-- bench/tensor_bench.lua: luagrad's tensors against PyTorch, NumPy and C with OpenBLAS, in
-- one run (issue 14's "Speed"):
--   T1 vectorized logistic regression step, 569x30 (forward, backward, update)
--   T2 MLP 784-256-10, batch 128, SGD step, float64 and float32
--   T3 tanh(a * b + c) on 1e6 elements, forward and backward
--   T4 matmul 1024x1024 float64 (against cblas_dgemm called directly)
--   T5 one op (a + b) on 1-element tensors
--   and T2's resident memory over many steps, against PyTorch's.
-- Usage, from the source tree after a build (`make bench-tensor` does it on a Release tree):
--   lua5.4 bench/tensor_bench.lua [build-dir]
-- Knobs: BENCH_ROUNDS (5), BENCH_MEMSTEPS (10000; 0 skips the memory run), BENCH_TORCH=0,
-- BENCH_SMOKE=1 (tiny sizes, one round: only checks that the implementations agree; CTest
-- runs it as bench-tensor-agree). Each implementation is one process per round
-- (bench/tensor_lg.lua, bench/tensor_py.py torch|numpy, build/bench/tensor_peers), run in
-- a rotating order; figures are medians over the rounds of process CPU time, and ratios are
-- taken within each round, then the median. Nothing asserts a time: the run fails (status 1)
-- only when the implementations disagree or one fails.
local build = arg[1] or "build"
local smoke = os.getenv("BENCH_SMOKE") == "1"
local mode = smoke and "smoke" or "full"
local rounds = smoke and 1 or tonumber(os.getenv("BENCH_ROUNDS") or "5")
local memsteps = tonumber(os.getenv("BENCH_MEMSTEPS") or (smoke and "20" or "10000"))
local src = arg[0]:match("^(.*)/[^/]*$") or "bench"
local C = dofile(src .. "/tensor_common.lua")

local env = "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "
local luaenv = env .. ("LUA_CPATH='%s/lua/?.so' LUA_PATH='%s/../lua/?.lua;%s/../lua/?/init.lua' ")
  :format(build, src, src)
local py = "/usr/bin/python3"

local function ok (cmd) return os.execute(cmd .. " >/dev/null 2>&1") == true end

local impls = {{name = "luagrad", cmd = luaenv .. "lua5.4 " .. src .. "/tensor_lg.lua"}}
if os.getenv("BENCH_TORCH") ~= "0" and ok(py .. " -c 'import torch'") then
  impls[#impls + 1] = {name = "PyTorch", cmd = env .. py .. " " .. src .. "/tensor_py.py torch"}
else
  print("PyTorch: not measured (" .. (os.getenv("BENCH_TORCH") == "0" and "BENCH_TORCH=0"
        or "python3-torch is not installed for /usr/bin/python3") .. ")")
end
if ok(py .. " -c 'import numpy'") then
  impls[#impls + 1] = {name = "NumPy", cmd = env .. py .. " " .. src .. "/tensor_py.py numpy"}
else
  print("NumPy: not measured (python3-numpy is not installed for /usr/bin/python3)")
end
local peers = build .. "/bench/tensor_peers"
if ok("test -x " .. peers) then
  impls[#impls + 1] = {name = "C+BLAS", cmd = env .. peers}
else
  print("C+BLAS: not measured (" .. peers .. " is built only where CBLAS is found)")
end

local failed = false
local function fail (msg) print("FAIL  " .. msg); failed = true end

-- runs one implementation; returns its checks and times (name -> number)
local function run (impl, extra)
  local p = io.popen(impl.cmd .. " " .. mode .. (extra or "") .. " 2>&1")
  local out = p:read("a")
  local okc = p:close()
  local res = {check = {}, time = {}, rss = {}}
  for kind, k, x in out:gmatch("(%a+) (%S+) (%S+)\n") do
    if res[kind] then res[kind][k] = tonumber(x) end
  end
  if not okc then fail(impl.name .. " failed:\n" .. out) end
  return res
end

-- relative agreement: float32's T2 to 1e-5, everything else to 1e-9
local function agree (all)
  local ref = all[1]
  for k, x in pairs(ref.check) do
    for i = 2, #all do
      local y = all[i].check[k]
      local tol = (k == "T2f32") and 1e-5 or 1e-9
      -- luacheck: ignore 581 (a NaN fails the test as written)
      if y and not (math.abs(x - y) <= tol * math.max(1, math.abs(x))) then
        fail(("%s differs: luagrad %.17g, %s %.17g"):format(k, x, impls[i].name, y))
      end
    end
  end
end

local samples = {}   -- samples[impl][workload] = {seconds per round}
local ratios = {}    -- ratios[impl][workload] = {luagrad / impl per round}
for _, im in ipairs(impls) do samples[im.name], ratios[im.name] = {}, {} end
for r = 1, rounds do
  local res = {}
  for k = 0, #impls - 1 do   -- rotating order
    local i = (k + r - 1) % #impls + 1
    res[i] = run(impls[i])
  end
  agree(res)
  for i, im in ipairs(impls) do
    for _, w in ipairs(C.names) do
      local t = res[i].time[w]
      if t then
        local s = samples[im.name][w] or {}
        s[#s + 1] = t
        samples[im.name][w] = s
        if res[1].time[w] then
          local q = ratios[im.name][w] or {}
          q[#q + 1] = res[1].time[w] / t
          ratios[im.name][w] = q
        end
      end
    end
  end
end

local function median (t)
  if not t or #t == 0 then return nil end
  local s = {table.unpack(t)}
  table.sort(s)
  return (#s % 2 == 1) and s[(#s + 1) // 2] or (s[#s // 2] + s[#s // 2 + 1]) / 2
end

-- how each workload is shown: a time in a unit, or GFLOP/s for T4
local S = C.sizes[mode]
local show = {
  T1 = {"T1 logreg step (us)", function (t) return t * 1e6 end},
  T2f64 = {"T2 MLP step f64 (ms)", function (t) return t * 1e3 end},
  T2f32 = {"T2 MLP step f32 (ms)", function (t) return t * 1e3 end},
  T3 = {"T3 tanh(a*b+c) (ms)", function (t) return t * 1e3 end},
  T4 = {"T4 matmul (GFLOP/s)", function (t) return 2 * S.t4n ^ 3 / t * 1e-9 end},
  T5 = {"T5 1-elem a+b (us)", function (t) return t * 1e6 end},
}

print(("\ntensor benchmark, %s sizes, median of %d round%s, process CPU time, one thread"):format(
  mode, rounds, rounds == 1 and "" or "s"))
local head = ("%-22s"):format("workload")
for _, im in ipairs(impls) do head = head .. ("| %9s "):format(im.name) end
for i = 2, #impls do head = head .. ("| lg/%-7s "):format(impls[i].name:sub(1, 7)) end
print(head)
print((head:gsub("[^|]", "-")))
for _, w in ipairs(C.names) do
  local line = ("%-22s"):format(show[w][1])
  for _, im in ipairs(impls) do
    local m = median(samples[im.name][w])
    line = line .. (m and ("| %9.4g "):format(show[w][2](m)) or ("| %9s "):format("-"))
  end
  for i = 2, #impls do
    local m = median(ratios[impls[i].name][w])
    line = line .. (m and ("| %10.3f "):format(m) or ("| %10s "):format("-"))
  end
  print(line)
end
print("(lg/X: luagrad's time over X's, within each round; below 1 luagrad is faster)")

-- the issue's targets, said (not asserted)
local function target (what, impl, w, limit)
  local m = median(ratios[impl] and ratios[impl][w])
  if m then print(("%-6s %-40s %.3f (target <= %.3g)"):format(m <= limit and "met" or "MISSED",
                                                              what, m, limit)) end
end
print("")
target("T1 luagrad / PyTorch", "PyTorch", "T1", 0.5)
target("T2 f64 luagrad / C+BLAS", "C+BLAS", "T2f64", 1.1)
target("T2 f32 luagrad / C+BLAS", "C+BLAS", "T2f32", 1.1)
target("T3 luagrad / C loop", "C+BLAS", "T3", 1.5)
target("T4 luagrad time / cblas_dgemm time", "C+BLAS", "T4", 1 / 0.95)
local t5 = median(samples.luagrad.T5)
if t5 then print(("%-6s %-40s %.3f µs (target <= 0.5)"):format(t5 <= 0.5e-6 and "met" or "MISSED",
                                                               "T5 one op, luagrad", t5 * 1e6)) end

if memsteps > 0 then   -- T2 float64 for memsteps steps: resident MB early, late and peak
  print(("\nT2 float64 over %d steps, resident MB"):format(memsteps))
  local rss = {}
  for _, im in ipairs(impls) do
    if im.name == "luagrad" or im.name == "PyTorch" then
      local r = run(im, " " .. memsteps).rss
      rss[im.name] = r
      print(("%-8s at step %d %7.1f, at step %d %7.1f, peak %7.1f"):format(im.name,
        memsteps // 10, r.early or 0, memsteps, r.late or 0, r.peak or 0))
    end
  end
  if rss.PyTorch and rss.luagrad.peak then
    local q = rss.luagrad.peak / rss.PyTorch.peak
    print(("%-6s %-40s %.3f (target <= 1.2)"):format(q <= 1.2 and "met" or "MISSED",
                                                    "T2 peak RSS luagrad / PyTorch", q))
  end
end
os.exit(failed and 1 or 0)
