-- The rockspec's test (luarocks test), also run by tests/rock_test.sh on the installed rock:
-- the module loads under this interpreter and gets the README's numbers.
local lg = require("luagrad")
local a, b, c = lg.value(5, "a"), lg.value(3, "b"), lg.value(2, "c")
local J = 3 * (a + b * c)
J:backward()
local got = string.format("%g %g %g %g", J.data, a.grad, b.grad, c.grad)
assert(got == "33 3 6 9", "the lecture gave " .. got)
assert(lg.type(J) == "value" and J.op == "*" and lg.sum({ a, b, 1 }).data == 9)
assert(not pcall(lg.value, "3"), "a string was taken as a number")
print(("%s under %s: ok"):format(lg._VERSION, rawget(_G, "jit") and "LuaJIT" or _VERSION))
