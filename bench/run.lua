-- bench/run.lua: the benchmark suite's driver (make bench).
--   lua5.4 bench/run.lua BUILD_DIR [RESULTS_FILE]
-- Runs every implementation of every workload in its own process, round after round (the
-- order rotating each round), takes medians, checks that every implementation computed the
-- same outputs and gradients as the hand-written C (1e-9 relative), counts instructions per
-- op under callgrind, and prints the tables and the targets of issue 3, also to RESULTS_FILE.
-- Environment: BENCH_QUICK=1 (about a minute), BENCH_SMOKE=1 (seconds: agreement only, for
-- CTest), BENCH_ROUNDS=n, BENCH_TORCH=0 (skip PyTorch), BENCH_CALLGRIND=0 (skip callgrind).
local fmt, concat, unpack = string.format, table.concat, table.unpack

local build = arg[1] or error("usage: lua5.4 bench/run.lua BUILD_DIR [RESULTS_FILE]")
local src = (arg[0]:match("^(.*)/bench/run%.lua$")) or "."
local resultsfile = arg[2] or (build .. "/bench-results.txt")
local env = function (k) return os.getenv(k) end
local QUICK, SMOKE = env("BENCH_QUICK") == "1", env("BENCH_SMOKE") == "1"

local cfg = {rounds = 5, w1 = 200000, w2 = {1e4, 1e5, 1e6}, w3 = 20, w4 = 1e6,
             torch = {w1 = 20000, w2 = {1e4, 1e5}, w3scalar = 2, w3batched = 20},
             cg = {K1 = 1000, K2 = 5000, gcs = {"inc", "gen"},
                   backends = {"plain", "floor", "floorchk", "luagrad", "anomaly"},
                   cases = {"leaf", "mul", "mulk", "add", "tanh", "method", "w1", "w1bwd", "bwd"}}}
if QUICK then
  cfg = {rounds = 3, w1 = 50000, w2 = {1e4, 1e5}, w3 = 5, w4 = 2e5,
         torch = {w1 = 2000, w2 = {1e4}, w3scalar = 1, w3batched = 5},
         cg = {K1 = 500, K2 = 2500, gcs = {"inc", "gen"},
               backends = {"plain", "floor", "luagrad", "anomaly"},
               cases = {"mul", "w1", "w1bwd", "bwd"}}}
elseif SMOKE then
  cfg = {rounds = 1, w1 = 2000, w2 = {3000}, w3 = 2, w4 = 2e4, torch = false, cg = false}
end
cfg.rounds = tonumber(env("BENCH_ROUNDS")) or cfg.rounds
if env("BENCH_TORCH") == "0" then cfg.torch = false end
if env("BENCH_CALLGRIND") == "0" then cfg.cg = false end

local LUA_BACKENDS = {"luagrad", "anomaly", "compiled", "floor", "floorchk", "plain"}
local GCS = {"inc", "gen"}
local luaenv = fmt("LUA_PATH='%s/bench/?.lua;%s/lua/?.lua;%s/lua/?/init.lua;;' " ..
                   "LUA_CPATH='%s/lua/?.so;%s/bench/?.so;;' ", src, src, src, build, build)

-- Other interpreters: W1 and W3 on the luagrad and plain backends under luajit and lua5.1,
-- with their builds of the module (cmake/LuaVersions.cmake) and their default collector (GC
-- "-"). They cannot run the LCG (64-bit integers): W3's inputs come from a data file written
-- here with bench/common.lua's generator, the single source of the numbers.
local OTHERS, notes = {}, {}
for _, o in ipairs({{exe = "luajit", tag = "luajit", label = "LuaJIT"},
                    {exe = "lua5.1", tag = "lua5.1", label = "Lua 5.1"}}) do
  local so = fmt("%s/%s/luagrad/core.so", build, o.tag)
  local f = io.open(so)
  if f then f:close() end
  if os.execute(fmt("command -v %s >/dev/null 2>&1", o.exe)) ~= true then
    notes[#notes + 1] = fmt("(%s not found: no %s rows)", o.exe, o.label)
  elseif not f then
    notes[#notes + 1] = fmt("(%s not built: no %s rows)", so, o.label)
  else
    o.env = fmt("LUA_PATH='%s/bench/?.lua;%s/lua/?.lua;%s/lua/?/init.lua;;' " ..
                "LUA_CPATH='%s/%s/?.so;;' ", src, src, src, build, o.tag)
    OTHERS[#OTHERS + 1] = o
  end
end
local w3data = build .. "/bench-w3data.lua"
if #OTHERS > 0 then dofile(src .. "/bench/common.lua").write_w3data(w3data, cfg.w3) end

local report = {}
local function say (...)
  local line = fmt(...)
  print(line)
  report[#report + 1] = line
end

local function sh (cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

local function fail (msg)
  io.stderr:write("bench: ", msg, "\n")
  os.exit(1)
end

-- RESULT lines -> records {impl=, gc=, wl=, n=, <metric>=number, check={...}}
local function parse (out, cmd)
  local recs = {}
  for line in out:gmatch("[^\n]+") do
    if line:match("^RESULT ") then
      local r = {}
      for k, v in line:gmatch("([%w_]+)=(%S+)") do
        if k == "check" then
          r.check = {}
          for x in v:gmatch("[^,]+") do r.check[#r.check + 1] = tonumber(x) end
        else r[k] = tonumber(v) or v end
      end
      recs[#recs + 1] = r
    end
  end
  if #recs == 0 then fail("no result from: " .. cmd .. "\n" .. out) end
  return recs
end

local function run (cmd)
  local ok, out = sh(cmd)
  if not ok then fail("failed: " .. cmd .. "\n" .. out) end
  return parse(out, cmd)
end

-- ---- the jobs of one round ------------------------------------------------------------------

local torch_ok = false
if cfg.torch then
  torch_ok = os.execute("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == true
end

local function workloads ()
  local w = {{"w1", cfg.w1}}
  for _, n in ipairs(cfg.w2) do w[#w + 1] = {"w2", n} end
  w[#w + 1] = {"w3bin", cfg.w3}
  w[#w + 1] = {"w3dot", cfg.w3}
  w[#w + 1] = {"w4", cfg.w4}
  return w
end

local function jobs ()
  local list = {}
  for _, w in ipairs(workloads()) do
    local wl, n = w[1], fmt("%d", w[2])
    list[#list + 1] = fmt("%s/bench/cbench %s %s", build, wl, n)
    if not wl:match("^w3") then
      list[#list + 1] = fmt("%s/bench/corebench %s %s", build, wl, n)
    end
    for _, b in ipairs(LUA_BACKENDS) do
      for _, gc in ipairs(GCS) do
        if not (b == "compiled" and wl == "w4")  -- a chain has nothing to replay
           and not (b == "anomaly" and wl ~= "w1" and wl ~= "w2") then  -- its cost: W1, W2
          list[#list + 1] = fmt("%slua5.4 %s/bench/lua_bench.lua %s %s %s %s", luaenv, src, b,
                                gc, wl, n)
        end
      end
    end
    if wl == "w1" or wl:match("^w3") then
      for _, o in ipairs(OTHERS) do
        for _, b in ipairs({"luagrad", "plain"}) do
          list[#list + 1] = fmt("%s%s %s/bench/lua_bench.lua %s - %s %s %s", o.env, o.exe, src,
                                b, wl, n, w3data)
        end
      end
    end
  end
  if torch_ok then
    local t = cfg.torch
    local w2 = {}
    for i, n in ipairs(t.w2) do w2[i] = fmt("%d", n) end
    list[#list + 1] = fmt("OMP_NUM_THREADS=1 /usr/bin/python3 %s/bench/torch_bench.py %d %s %d %d",
                          src, t.w1, concat(w2, ","), t.w3scalar, t.w3batched)
  end
  return list
end

-- key of a record: W2 by size, the others by workload alone (PyTorch runs fewer W1 reps)
local function key (r)
  local wl = (r.wl == "w2") and ("w2:" .. fmt("%d", r.n)) or r.wl
  return r.impl .. "|" .. r.gc .. "|" .. wl, wl
end

local samples, rounds, refs = {}, {}, {}
local start = os.time()
for round = 1, cfg.rounds do
  local list = jobs()
  local rec = {}
  for j = 1, #list do  -- rotate the order each round: no implementation always runs first
    local cmd = list[(j + round - 2) % #list + 1]
    for _, r in ipairs(run(cmd)) do
      local k, wl = key(r)
      rec[k] = r
      samples[k] = samples[k] or {}
      table.insert(samples[k], r)
      if r.impl == "C" and not refs[wl] then refs[wl] = r end
    end
  end
  rounds[round] = rec
  io.stderr:write(fmt("bench: round %d of %d done (%ds)\n", round, cfg.rounds,
                      os.time() - start))
end

-- ---- agreement --------------------------------------------------------------------------------

local ncompared, bad = 0, {}
for k, list in pairs(samples) do
  local _, wl = k:match("^(.-)|.-|(.*)$")
  local ref = refs[wl] or fail("no C reference for " .. wl)
  for _, r in ipairs(list) do
    local a, b = r.check or {}, ref.check
    local m = math.min(#a, #b)
    if wl:match("^w3") and r.steps ~= ref.steps then m = math.min(m, #b - 1) end
    local scale = 0
    for i = 1, #b do scale = math.max(scale, math.abs(b[i])) end
    for i = 1, m do
      local x, y = a[i], b[i]
      ncompared = ncompared + 1
      -- relative 1e-9; an entry that cancels to 0 (a bias whose terms sum to zero) is noise
      -- of the order of eps times the vector's largest entry, so that much is allowed too
      local tol = 1e-9 * math.max(math.abs(x), math.abs(y)) + 1e-15 * scale
      if not (math.abs(x - y) <= tol) then  -- luacheck: ignore (written so that NaN fails)
        bad[#bad + 1] = fmt("%s check[%d]: %.17g, C gives %.17g", k, i, x, y)
      end
    end
  end
end

-- ---- tables -----------------------------------------------------------------------------------

local function median (xs)
  if #xs == 0 then return nil end
  table.sort(xs)
  local m = (#xs + 1) // 2
  return (#xs % 2 == 1) and xs[m] or (xs[m] + xs[m + 1]) / 2
end

local function med (k, metric)
  local xs = {}
  for _, r in ipairs(samples[k] or {}) do
    if type(r[metric]) == "number" then xs[#xs + 1] = r[metric] end
  end
  return median(xs)
end

local function num (x, digits)
  if x == nil then return "-" end
  if x >= 1000 then return fmt("%.0f", x) end
  return fmt("%." .. (digits or 3) .. "g", x)
end

local IMPLS = {{"C", "-", "C by hand (b)"}, {"core", "-", "luagrad core from C"}}
for _, b in ipairs(LUA_BACKENDS) do
  for _, gc in ipairs(GCS) do
    local name = ({luagrad = "luagrad", anomaly = "luagrad anomaly on",
                   compiled = "luagrad compiled",
                   floor = "floor (c)", floorchk = "floor+checks",
                   plain = "plain Lua (a)"})[b]
    IMPLS[#IMPLS + 1] = {b, gc, name}
  end
end
for _, o in ipairs(OTHERS) do
  IMPLS[#IMPLS + 1] = {"luagrad-" .. o.tag, "-", "luagrad " .. o.label}
  IMPLS[#IMPLS + 1] = {"plain-" .. o.tag, "-", "plain " .. o.label}
end
IMPLS[#IMPLS + 1] = {"torch-scalar", "-", "PyTorch scalar (d)"}
IMPLS[#IMPLS + 1] = {"torch-batched", "-", "PyTorch batched (d)"}

local function row (cells, widths)
  local out = {}
  for i, c in ipairs(cells) do
    out[i] = (i == 1) and fmt("%-" .. widths[i] .. "s", c) or fmt("%" .. widths[i] .. "s", c)
  end
  return (concat(out, " | "):gsub("%s+$", ""))
end

local function table_out (head, rows, widths)
  say("%s", row(head, widths))
  local sep = {}
  for i, w in ipairs(widths) do sep[i] = string.rep("-", w) end
  say("%s", concat(sep, "-|-"))
  for _, r in ipairs(rows) do say("%s", row(r, widths)) end
end

local luaver = (select(2, sh("lua5.4 -v")):gsub("%s+$", ""))
say("luagrad benchmarks, %s UTC, %s, host %s", os.date("!%Y-%m-%d %H:%M"),
    luaver:match("^(Lua %S+)") or luaver, (select(2, sh("uname -n")):gsub("%s+$", "")))
say("command: make bench%s; medians of %d rounds, each implementation in its own process,",
    QUICK and " BENCH_QUICK=1" or SMOKE and " BENCH_SMOKE=1" or "", cfg.rounds)
say("interleaved; CPU time (os.clock / CLOCK_PROCESS_CPUTIME_ID / time.process_time);")
say("GC: inc = collectgarbage(\"incremental\"), gen = collectgarbage(\"generational\"), set")
say("explicitly in every Lua 5.4 process. (a), (c) and floor+checks run forward only.")
if #OTHERS > 0 then
  local vs = {}
  for i, o in ipairs(OTHERS) do
    local v = (select(2, sh(o.exe .. " -v")))
    vs[i] = v:match("^(LuaJIT %S+)") or v:match("^(Lua %S+)") or o.label
  end
  say("W1 and W3 also under %s, with the interpreter's own collector", concat(vs, " and "))
  say("(GC -); their plain rows run forward only.")
end
for _, line in ipairs(notes) do say("%s", line) end
say("")

say("W1 lecture (µs per rep), W3 MLP training (ms per step), W4 chain of %d ops", cfg.w4)
local rows = {}
for _, im in ipairs(IMPLS) do
  local p = im[1] .. "|" .. im[2] .. "|"
  local r = {im[3], im[2], num(med(p .. "w1", "fwd_us")), num(med(p .. "w1", "total_us")),
             num(med(p .. "w3bin", "ms")), num(med(p .. "w3dot", "ms")),
             num(med(p .. "w4", "total_s")), num(med(p .. "w4", "peak_mb"))}
  if r[3] ~= "-" or r[5] ~= "-" or r[6] ~= "-" then rows[#rows + 1] = r end
end
table_out({"implementation", "GC", "W1 fwd", "W1 fwd+bwd", "W3 binary", "W3 dot", "W4 s",
           "W4 MB"}, rows, {20, 3, 8, 10, 9, 7, 7, 6})
say("W1: %d reps (PyTorch: %s). W3: %d steps (PyTorch scalar: %s). W4 s: build + backward +",
    cfg.w1, cfg.torch and cfg.torch.w1 or "-", cfg.w3, cfg.torch and cfg.torch.w3scalar or "-")
say("collect; W4 MB: peak resident set growth (VmHWM) over the process before the build.")
say("PyTorch runs no W4: a million-deep chain of scalar tensors takes minutes.")
say("")

say("W2 random DAG: forward ns/op, backward ns/node, bytes/node (Lua heap after a full collect)")
local head, widths = {"implementation", "GC"}, {20, 3}
for _, n in ipairs(cfg.w2) do
  local tag = fmt("%.0e", n):gsub("e%+0?", "e")
  head[#head + 1] = "fwd " .. tag; head[#head + 1] = "bwd " .. tag
  head[#head + 1] = "B " .. tag
  widths[#widths + 1] = 8; widths[#widths + 1] = 8; widths[#widths + 1] = 6
end
rows = {}
for _, im in ipairs(IMPLS) do
  local r, any = {im[3], im[2]}, false
  for _, n in ipairs(cfg.w2) do
    local k = fmt("%s|%s|w2:%d", im[1], im[2], n)
    local f = med(k, "fwd_ns")
    any = any or f ~= nil
    r[#r + 1] = num(f); r[#r + 1] = num(med(k, "bwd_ns")); r[#r + 1] = num(med(k, "node_bytes"))
  end
  if any then rows[#rows + 1] = r end
end
table_out(head, rows, widths)
local big = cfg.w2[#cfg.w2]
say("Leaves: %s bytes each (luagrad). C's bytes/node: its value, adjoint and operand arrays;",
    num(med(fmt("luagrad|gen|w2:%d", big), "leaf_bytes")))
say("the core's (luagrad's nodes in an arena, through include/luagrad.h): its arena's bytes.")
say("")

-- ---- instruction counts -------------------------------------------------------------------

local cg = {}   -- cg[backend|gc|case] = instructions per repetition
local profiles = {}
local host = build .. "/bench/luahost"
if not io.open(host) then host = "lua5.4" end
local has_vg = cfg.cg and os.execute("valgrind --version >/dev/null 2>&1") == true

local function callgrind (b, gc, case, K, out)
  local cmd = fmt("%svalgrind --tool=callgrind --callgrind-out-file=%s %s %s/bench/ops.lua " ..
                  "%s %s %s %d", luaenv, out, host, src, b, gc, case, K)
  local ok, text = sh(cmd)
  if not ok then fail("failed: " .. cmd .. "\n" .. text) end
  local f = io.open(out)
  local s = f:read("a")
  f:close()
  local total = tonumber(s:match("\nsummary:%s*(%d+)") or s:match("\ntotals:%s*(%d+)"))
  return total, tonumber(text:match("NODES (%d+)"))
end

-- Self cost per function, from callgrind_annotate: name -> instructions.
local function byfunction (file)
  local _, text = sh("callgrind_annotate --inclusive=no --auto=no --threshold=100 " .. file)
  local t = {}
  for line in text:gmatch("[^\n]+") do
    local n, rest = line:match("^%s*([%d,]+)%s+%(%s*[%d%.]+%%%)%s+(.+)$")
    if n and not rest:match("PROGRAM TOTALS") then
      local loc = rest:match("^(.-)%s+%[.-%]%s*$") or rest
      local fn = loc:match(":([^:]+)$") or loc   -- one entry per function, whatever its file
      t[fn] = (t[fn] or 0) + tonumber((n:gsub(",", "")))
    end
  end
  return t
end

if has_vg then
  local dir = build .. "/callgrind"
  os.execute("mkdir -p " .. dir)
  local K1, K2 = cfg.cg.K1, cfg.cg.K2
  for _, b in ipairs(cfg.cg.backends) do
    for _, gc in ipairs(cfg.cg.gcs) do
      for _, case in ipairs(cfg.cg.cases) do
        local graphs = b == "luagrad" or b == "anomaly"
        local skip = (b == "plain" and case == "method")
                     or (not graphs and (case == "w1bwd" or case == "bwd"))
        if not skip then
          local f1 = fmt("%s/%s-%s-%s-%d.out", dir, b, gc, case, K1)
          local f2 = fmt("%s/%s-%s-%s-%d.out", dir, b, gc, case, K2)
          local i1 = callgrind(b, gc, case, K1, f1)
          local i2, nodes = callgrind(b, gc, case, K2, f2)
          local per = (i2 - i1) / (K2 - K1)
          if case == "bwd" then per = per / nodes end
          cg[b .. "|" .. gc .. "|" .. case] = per
          if b == "luagrad" and (case == "mul" or case == "bwd" or case == "method") then
            profiles[#profiles + 1] = {fmt("%s, %s, %s", b, case, gc), f1, f2,
                                       (K2 - K1) * (case == "bwd" and nodes or 1)}
          end
          if b == "floor" and case == "mul" then
            profiles[#profiles + 1] = {fmt("%s, %s, %s", b, case, gc), f1, f2, K2 - K1}
          end
        end
      end
    end
  end
  local labels = {leaf = "value(x)", mul = "a * b", mulk = "a * 3", add = "a + b",
                  tanh = "tanh(a)", method = "a:tanh()", w1 = "W1 forward (rep)",
                  w1bwd = "W1 fwd+bwd (rep)", bwd = "backward (node)"}
  say("Instructions per op (callgrind, (K=%d) - (K=%d) over %d reps; %s with Lua 5.4's own",
      K2, K1, K2 - K1, host:match("luahost") and "bench/luahost" or "lua5.4")
  say("symbols). Results are dropped at once: small fresh graphs, collector included.")
  head, widths = {"op"}, {18}
  for _, gc in ipairs(cfg.cg.gcs) do
    for _, b in ipairs(cfg.cg.backends) do
      head[#head + 1] = ({plain = "plain", floor = "floor", floorchk = "+chk",
                          luagrad = "luagrad", anomaly = "anomaly"})[b] .. " " .. gc
      widths[#widths + 1] = #head[#head]
    end
    head[#head + 1] = "lg/floor"
    widths[#widths + 1] = 8
  end
  rows = {}
  for _, case in ipairs(cfg.cg.cases) do
    local r = {labels[case]}
    for _, gc in ipairs(cfg.cg.gcs) do
      for _, b in ipairs(cfg.cg.backends) do
        local x = cg[b .. "|" .. gc .. "|" .. case]
        r[#r + 1] = x and fmt("%.0f", x) or "-"
      end
      local l, f = cg["luagrad|" .. gc .. "|" .. case], cg["floor|" .. gc .. "|" .. case]
      r[#r + 1] = (l and f) and fmt("%.2f", l / f) or "-"
    end
    rows[#rows + 1] = r
  end
  table_out(head, rows, widths)
  say("")
elseif cfg.cg then
  say("(valgrind not found: no instruction counts)")
end

-- ---- targets (issue 3, section 2) --------------------------------------------------------

-- the median over rounds of a ratio taken within each round
local function roundratio (f)
  local xs = {}
  for _, rec in ipairs(rounds) do
    local x = f(rec)
    if x then xs[#xs + 1] = x end
  end
  return median(xs)
end

local function target (ok, what, got)
  if ok == nil then say("  n/a   %-58s %s", what, got or "not measured")
  else say("  %-5s %-58s %s", ok and "PASS" or "MISS", what, got) end
end

say("Targets (issue 3, section 2)")
for _, gc in ipairs(GCS) do
  local l, f = cg["luagrad|" .. gc .. "|w1"], cg["floor|" .. gc .. "|w1"]
  target(l and f and l / f <= 1.8, fmt("forward on W1 <= 1.8x floor, instructions (%s)", gc),
         l and f and fmt("%.2fx (%.0f vs %.0f per rep)", l / f, l, f))
  l, f = cg["luagrad|" .. gc .. "|mul"], cg["floor|" .. gc .. "|mul"]
  target(l and f and l / f <= 1.8, fmt("one op a*b <= 1.8x floor, instructions (%s)", gc),
         l and f and fmt("%.2fx (%.0f vs %.0f)", l / f, l, f))
end
local small, large = cfg.w2[1], cfg.w2[#cfg.w2]
for _, gc in ipairs(GCS) do
  local b = med(fmt("luagrad|%s|w2:%d", gc, small), "bwd_ns")
  target(b and b <= 35, fmt("backward <= 35 ns/node, W2 N=%g cache-resident (%s)", small, gc),
         b and fmt("%.1f ns/node", b))
  b = med(fmt("luagrad|%s|w2:%d", gc, large), "bwd_ns")
  target(large >= 1e6 and b and b <= 70 or (large < 1e6 and nil),
         fmt("backward <= 70 ns/node at N=1e6 (%s)", gc),
         b and fmt("%.1f ns/node at N=%g", b, large))
end
local nb = med(fmt("luagrad|gen|w2:%d", large), "node_bytes")
local lb = med(fmt("luagrad|gen|w2:%d", large), "leaf_bytes")
target(nb and nb <= 120, "<= 120 bytes per interior node (W2 mix)", nb and fmt("%.1f B", nb))
target(lb and lb <= 64, "<= 64 bytes per leaf", lb and fmt("%.0f B", lb))
for _, gc in ipairs(GCS) do
  local r = roundratio(function (rec)
    local l = rec[fmt("luagrad|%s|w2:%d", gc, large)]
    local p = rec[fmt("plain|%s|w2:%d", gc, large)]
    return l and p and (l.fwd_ns + l.bwd_ns) / p.fwd_ns
  end)
  target(large >= 1e6 and r and r <= 2.5 or (large < 1e6 and nil),
         fmt("W2 N=1e6 fwd+bwd <= 2.5x plain-Lua forward (%s)", gc),
         r and fmt("%.1fx at N=%g", r, large))
end
for _, gc in ipairs(GCS) do  -- lg.compile (section 3): replays against the C by hand
  for _, wl in ipairs({"w3bin", "w3dot"}) do
    local r = roundratio(function (rec)
      local l, c = rec[fmt("compiled|%s|%s", gc, wl)], rec["C|-|" .. wl]
      return l and c and l.ms / c.ms
    end)
    target(r and r <= 3, fmt("W3 (%s) compiled <= 3x C by hand (%s)", wl:sub(3), gc),
           r and fmt("%.1fx", r))
  end
  local r = roundratio(function (rec)
    local l, c = rec[fmt("compiled|%s|w2:%d", gc, large)], rec[fmt("C|-|w2:%d", large)]
    return l and c and l.fwd_ns / (c.fwd_ns + c.bwd_ns)
  end)
  target(r and r <= 3, fmt("W2 compiled fwd+bwd <= 3x C by hand, N=%g (%s)", large, gc),
         r and fmt("%.1fx", r))
  r = roundratio(function (rec)
    local l, p = rec[fmt("compiled|%s|w2:%d", gc, large)], rec[fmt("plain|%s|w2:%d", gc, large)]
    return l and p and l.fwd_ns / p.fwd_ns
  end)
  target(large >= 1e6 and r and r <= 2.5 or (large < 1e6 and nil),
         fmt("W2 N=1e6 compiled fwd+bwd <= 2.5x plain-Lua forward (%s)", gc),
         r and fmt("%.1fx at N=%g", r, large))
end
for _, gc in ipairs(GCS) do
  local t = med(fmt("luagrad|%s|w4", gc), "total_s")
  target(cfg.w4 >= 1e6 and t and t < 1 or (cfg.w4 < 1e6 and nil),
         fmt("W4 1e6 deep build+backward+collect < 1 s (%s)", gc),
         t and fmt("%.3f s at %g", t, cfg.w4))
end
say("")
local function ratios (title, f)
  say("%s", title)
  for _, gc in ipairs(GCS) do
    local parts = {}
    for _, n in ipairs(cfg.w2) do
      local r = roundratio(function (rec)
        local l, o = rec[fmt("luagrad|%s|w2:%d", gc, n)], rec[fmt("%s|%s|w2:%d", f, gc, n)]
        return l and o and l.fwd_ns / o.fwd_ns
      end)
      parts[#parts + 1] = fmt("N=%g %.2fx", n, r or 0 / 0)
    end
    say("  %s: %s", gc, concat(parts, ", "))
  end
end
ratios("Ratios within rounds (medians), W2 forward: luagrad / floor (c)", "floor")
ratios("W2 forward: luagrad / plain Lua (a)", "plain")
say("Anomaly detection: on / off, within rounds (medians)")
for _, gc in ipairs(GCS) do
  local function onoff (wl, metric)
    return roundratio(function (rec)
      local on, off = rec[fmt("anomaly|%s|%s", gc, wl)], rec[fmt("luagrad|%s|%s", gc, wl)]
      return on and off and on[metric] / off[metric]
    end) or 0 / 0
  end
  local parts = {fmt("W1 fwd %.2fx, fwd+bwd %.2fx", onoff("w1", "fwd_us"), onoff("w1", "total_us"))}
  for _, n in ipairs(cfg.w2) do
    local wl = fmt("w2:%d", n)
    parts[#parts + 1] = fmt("W2 N=%g fwd %.2fx, bwd %.2fx, bytes %.2fx", n, onoff(wl, "fwd_ns"),
                            onoff(wl, "bwd_ns"), onoff(wl, "node_bytes"))
  end
  say("  %s: %s", gc, concat(parts, "; "))
  for _, case in ipairs({"mul", "w1bwd", "bwd"}) do
    local on, off = cg["anomaly|" .. gc .. "|" .. case], cg["luagrad|" .. gc .. "|" .. case]
    if on and off then
      say("  %s: instructions per %s: %.0f on, %.0f off, %.2fx", gc,
          ({mul = "a * b", w1bwd = "W1 fwd+bwd rep", bwd = "backward node"})[case], on, off,
          on / off)
    end
  end
end
say("")

-- ---- where the cost goes -----------------------------------------------------------------

-- Where a function's instructions belong, by its name (first match wins).
local BUCKETS = {
  {"allocation and collector", {"alloc", "free", "^luaC_", "^luaM_", "sweep", "mark", "^freeobj",
                                "^luaS_newudata", "collect", "^singlestep", "^atomic",
                                "^entersweep", "^traverse", "^clear", "^correctgray", "^genstep",
                                "^atomic2gen", "^entergen", "^fullgen", "^stepgenfull",
                                "^sweep2old", "^whitelist", "^correctpointers",
                                "^luaF_", "^luaE_", "^remarkupvals", "^convergeephemerons",
                                "^udata2finalize", "^separatetobefnz", "^GCTM",
                                "^checkSizes", "^luaH_free", "^luaS_remove"}},
  {"interpreter and metamethod call", {"^luaV_", "^luaT_", "^luaD_", "^callbinTM", "^luaH_",
                                       "^luaO_", "^moveresults", "^ccall", "^precall",
                                       "^luaG_", "^luaS_"}},
  {"Lua C API (lua_*, index2value)", {"^lua_", "^index2", "^luaL_", "^aux_"}},
  {"luagrad binding (lg_lua.c)", {"^operand", "^tovalue", "^binary", "^unary", "^newnode",
                                  "^value_", "^opindex", "^getwork", "^nary", "^mod_"}},
  {"luagrad core (lg_*.c)", {"^lgI_", "_fwd", "_bwd", "^pushadjoint", "^grow", "^setmask"}},
  {"libm and libc string", {"exp", "tanh", "^__str", "^str", "^mem", "^__mem", "fma"}},
  {"the floor module (floor.c)", {"^f_", "^push$"}},
}
local function bucket (fn)
  for _, b in ipairs(BUCKETS) do
    for _, pat in ipairs(b[2]) do
      if fn:match(pat) then return b[1] end
    end
  end
  return "other"
end

if #profiles > 0 and not QUICK then
  say("Where the cost goes: instructions per op by function (self cost, callgrind_annotate)")
  for _, p in ipairs(profiles) do
    local name, f1, f2, reps = unpack(p)
    local a, b = byfunction(f1), byfunction(f2)
    local list, all, total = {}, {}, 0
    for fn, n2 in pairs(b) do
      local d = (n2 - (a[fn] or 0)) / reps
      total = total + d
      all[#all + 1] = {fn, d}
      if d >= 0.5 then list[#list + 1] = {fn, d} end
    end
    table.sort(list, function (x, y) return x[2] > y[2] end)
    say("  %s: %.0f per op", name, total)
    local groups, gl = {}, {}
    for _, e in ipairs(all) do
      local g = bucket(e[1])
      if not groups[g] then groups[g] = 0; gl[#gl + 1] = g end
      groups[g] = groups[g] + e[2]
    end
    table.sort(gl, function (x, y) return groups[x] > groups[y] end)
    for _, g in ipairs(gl) do
      if math.abs(groups[g]) >= 0.5 then
        say("    %7.1f  %5.1f%%  [%s]", groups[g], 100 * groups[g] / total, g)
      end
    end
    for i = 1, math.min(#list, 20) do
      say("    %7.1f  %5.1f%%  %s", list[i][2], 100 * list[i][2] / total, list[i][1])
    end
  end
  say("")
end

-- W5: the transforms (bench/transforms.lua), their modes against each other and against
-- central differences, in one process
do
  local envs = (QUICK and "BENCH_QUICK=1 " or "") .. (SMOKE and "BENCH_SMOKE=1 " or "")
  local p = io.popen(envs .. luaenv .. "lua5.4 " .. src .. "/bench/transforms.lua 2>&1; echo status:$?")
  local out = p:read("a")
  p:close()
  say("")
  for line in out:gmatch("[^\n]+") do
    if line:match("^status:") then
      if line ~= "status:0" then bad[#bad + 1] = "W5: bench/transforms.lua " .. line end
    else say("%s", line) end
  end
end

say("Agreement: %d outputs and gradients compared with the C reference, %d differ by more",
    ncompared, #bad)
say("than 1e-9 relative.%s", torch_ok and "" or
    (cfg.torch and " (PyTorch not importable by /usr/bin/python3: skipped.)" or ""))
for _, line in ipairs(bad) do say("  FAIL %s", line) end

local f = io.open(resultsfile, "w")
if f then
  f:write(concat(report, "\n"), "\n\nRaw samples:\n")
  local keys = {}
  for k in pairs(samples) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    for _, r in ipairs(samples[k]) do
      local kv = {}
      for name, v in pairs(r) do
        if name ~= "check" then kv[#kv + 1] = name .. "=" .. tostring(v) end
      end
      table.sort(kv)
      f:write(k, ": ", concat(kv, " "), "\n")
    end
  end
  f:close()
  print("(written to " .. resultsfile .. ")")
end
if #bad > 0 then
  io.stderr:write("bench: implementations disagree (see FAIL above)\n")
  os.exit(1)
end
