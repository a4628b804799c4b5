-- bench/tensor_common.lua: what every implementation of the tensor benchmark shares, written
-- again in bench/tensor_py.py and bench/tensor_peers.c with the same numbers: the data (an
-- integer formula, so that Lua, Python and C make the same doubles), the learning rates and
-- the sizes of each mode.
local M = {}

-- element i of the array with this seed: in [-0.5, 0.5), exact in every language
function M.val (i, seed) return ((i * 7919 + seed * 104729) % 1009) / 1009 - 0.5 end
-- T1's labels, 0 or 1
function M.label (i) return ((i * 31) % 7 < 3) and 1 or 0 end

M.t1lr, M.t2lr = 0.1, 0.01

-- reps: how many steps (or ops) one timing covers
M.sizes = {
  full = {t1n = 569, t1d = 30, t1reps = 2000, t2b = 128, t2in = 784, t2h = 256, t2out = 10,
          t2reps = 100, t3n = 1000000, t3reps = 10, t4n = 1024, t4reps = 5, t5ops = 200000},
  smoke = {t1n = 23, t1d = 5, t1reps = 3, t2b = 4, t2in = 12, t2h = 8, t2out = 3,
           t2reps = 3, t3n = 1000, t3reps = 3, t4n = 33, t4reps = 2, t5ops = 10},
}

M.names = {"T1", "T2f64", "T2f32", "T3", "T4", "T5"}

return M
