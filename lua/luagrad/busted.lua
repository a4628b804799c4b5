-- luagrad.busted: a luassert assertion for users' own busted specs.
--   require("luagrad.busted")
--   assert.gradients(f, {1.5, -2})           -- backward agrees with central differences
--   assert.gradients(f, {1.5}, {atol = 1e-7}) -- with lg.gradcheck's options
--   assert.is_not.gradients(broken, {1})
--   assert.gradients(f, {1.5, -2}, {order = 2}) -- second derivatives too (lg.gradgradcheck)
local lg = require("luagrad")
local luassert = require("luassert")
local say = require("say")

say:set("assertion.gradients.positive",
        "Expected the gradients of the function to agree with central differences:\n%s")
say:set("assertion.gradients.negative",
        "Expected the gradients of the function to differ from central differences:\n%s")

local function gradients (_, arguments)
  local opts = arguments[3]
  local check = type(opts) == "table" and opts.order == 2 and lg.gradgradcheck or lg.gradcheck
  local ok, report = check(arguments[1], arguments[2], opts)
  arguments[1] = report   -- what the failure message shows
  arguments.n = 1
  return ok
end

luassert:register("assertion", "gradients", gradients,
                  "assertion.gradients.positive", "assertion.gradients.negative")

return gradients
