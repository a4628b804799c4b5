-- luagrad inside Neovim (LuaJIT), run by tests/nvim_test.sh as
--   nvim --headless -u NONE -i NONE -n -c 'luafile tests/nvim_check.lua' -c 'cquit 2'
-- with LUAGRAD_SRC (the source tree) and LUAGRAD_CPATH (the LuaJIT build's directory) set.
-- Gradients of Values and tensors against known numbers, error messages word for word, and
-- an editor command that differentiates the expression it is given into the buffer. Any
-- wrong number quits with status 1; a Lua error reaches `cquit 2`.
local src, cpath = os.getenv("LUAGRAD_SRC"), os.getenv("LUAGRAD_CPATH")
package.path = src .. "/lua/?.lua;" .. src .. "/lua/?/init.lua;" .. package.path
package.cpath = cpath .. "/?.so;" .. package.cpath
local lg = require("luagrad")

local failures, checks = {}, 0
local function check (what, got, want, tol)
  checks = checks + 1
  local good
  if type(want) == "number" then
    good = type(got) == "number" and math.abs(got - want) <= (tol or 0)
  else
    good = got == want
  end
  if not good then
    failures[#failures + 1] = ("%s: got %s, expected %s"):format(what, tostring(got),
                                                                  tostring(want))
  end
end
local function message (f, ...)   -- the error of f(...) without its "file:line: "
  local ok, e = pcall(f, ...)
  return not ok and (tostring(e):gsub("^[^:]*:%d+: ", "")) or "no error"
end

check("the host's Lua", jit and jit.version:match("^LuaJIT") and "LuaJIT", "LuaJIT")
check("the version", lg._VERSION, "luagrad 0.1.0")

-- the contract's first example: exact
local a, b, c = lg.value(5, "a"), lg.value(3, "b"), lg.value(2, "c")
local J = 3 * (a + b * c)
J:backward()
check("J", J.data, 33); check("dJ/da", a.grad, 3); check("dJ/db", b.grad, 6)
check("dJ/dc", c.grad, 9)

-- tanh against Vim's own tanh(), and its derivative against a central difference
local x = lg.value(0.5)
local y = lg.tanh(x) * x
y:backward()
check("tanh(0.5) * 0.5", y.data, vim.fn.tanh(0.5) * 0.5, 1e-15)
local h, f = 1e-6, function (u) return math.tanh(u) * u end
check("d(x tanh x)/dx", x.grad, (f(0.5 + h) - f(0.5 - h)) / (2 * h), 1e-8)

-- the contract's tensor example (docs/tensors.md prints the same numbers)
local X = lg.tensor{{1, 2}, {3, 4}, {5, 6}}
local w = lg.tensor({{0.1}, {-0.2}}, {requires_grad = true})
local bias = lg.value(0.5)
local loss = ((lg.sigmoid(X:matmul(w) + bias) - 1) ^ 2):mean()
loss:backward()
check("tensor loss", loss.data, 0.25165561819209, 1e-13)
check("w.grad[1]", w.grad:get(1, 1), -0.777925786009, 1e-12)
check("w.grad[2]", w.grad:get(2, 1), -1.026270167816, 1e-12)
check("b.grad", bias.grad, -0.24834438180791, 1e-13)
check("w.grad's shape", table.concat(w.grad.shape, "x"), "2x1")

-- errors, word for word
check("value's error", message(lg.value, "3"),
      "luagrad.value: bad argument #1 (number expected, got string)")
check("an operand's error", message(function () return lg.value(2) + {} end),
      "luagrad: bad operand #2 to '+' (number or value expected, got table)")
check("matmul's error", message(lg.matmul, lg.ones(2, 3), lg.ones(4, 5)),
      "luagrad.matmul: cannot multiply shapes {2, 3} and {4, 5} (3 ~= 4)")
check("broadcasting's error", message(function () return lg.ones(2, 3) + lg.ones(4) end),
      "luagrad: bad operand shapes to '+' ({2, 3} and {4}: not broadcastable)")

-- an editor command: :LuagradDiff {x0} {expression in x} writes f and f' at x0 into the
-- current line; a bad expression is an editor error carrying luagrad's message
vim.api.nvim_create_user_command("LuagradDiff", function (cmd)
  local x0, body = cmd.args:match("^(%S+)%s+(.+)$")
  local fn = assert(loadstring("local lg, x = ...; return " .. body))
  local v = lg.value(assert(tonumber(x0)))
  local out = fn(lg, v)
  out:backward()
  vim.api.nvim_set_current_line(("f(%s) = %.12g, f'(%s) = %.12g"):format(x0, out.data, x0, v.grad))
end, {nargs = "+"})
vim.cmd("LuagradDiff 2 x^3 + lg.exp(x - 2)")
check("the buffer after :LuagradDiff", vim.api.nvim_get_current_line(),
      "f(2) = 9, f'(2) = 13")
local ok, e = pcall(vim.cmd, "LuagradDiff 1 x + {}")
check("a bad expression fails", ok, false)
check("and says why", tostring(e):match("luagrad: bad operand #2 to '%+' %b()"),
      "luagrad: bad operand #2 to '+' (number or value expected, got table)")

-- a training loop's memory stays flat inside the editor too
collectgarbage(); collectgarbage()
local before = collectgarbage("count")
for _ = 1, 2000 do
  local p = lg.tensor({1, 2, 3}, {requires_grad = true})
  local s = (p * p):sum()
  s:backward()
end
collectgarbage(); collectgarbage()
check("memory after 2000 tensor steps (KB more)", collectgarbage("count") - before < 512, true)

if #failures > 0 then
  io.stderr:write(table.concat(failures, "\n"), "\n")
  vim.cmd("cquit 1")
end
local version = vim.fn.execute("version"):match("NVIM v[%d.]+")
io.stdout:write(("nvim: %d checks passed in %s\n"):format(checks, version))
vim.cmd("qall!")
