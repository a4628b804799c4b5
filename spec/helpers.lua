-- What the specs share: assertions of closeness, plain-Lua references for functions Lua's
-- math library lacks, error messages in the library's shapes, and small builders of
-- objects. Loaded as require("spec.helpers") from the project's root (busted runs there).

local lg = require("luagrad")
local assert = require("luassert")   -- busted's, as the spec files see it

local H = {}

-- asserts |expected - actual| <= tol * max(1, |expected|) (tol defaults to 1e-12)
function H.near (expected, actual, tol, what)
  assert.is_number(actual, what)
  assert.near(expected, actual, (tol or 1e-12) * math.max(1, math.abs(expected)), what)
end

-- whether a and b agree to rel relative to the larger (NaN agrees with NaN)
function H.close (a, b, rel)
  if a ~= a then return b ~= b end
  return math.abs(a - b) <= rel * math.max(1, math.abs(a), math.abs(b))
end

-- the same number, bit for bit: NaN equals NaN, and 0 is not -0
function H.same (a, b)
  if a ~= a then return b ~= b end
  return a == b and 1 / a == 1 / b
end

function H.isnan (x) return x ~= x end

-- the whole content of the file at path, as bytes
function H.readfile (path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- -0.0, made at run time: Lua 5.1 keeps one constant for 0 and -0 in a function
H.NEGZERO = -1 / math.huge

-- asserts x is a float (Lua 5.3+ has integers)
function H.isfloat (x)
  if math.type then assert.equal("float", math.type(x)) end
  assert.equal("number", type(x))
end

-- the grads of the Values given, in order
function H.grads (...)
  local t = {}
  for i, v in ipairs({...}) do t[i] = v.grad end
  return t
end

-- Plain-Lua references (math.tanh is gone from 5.4 unless built with compatibility).
function H.tanh (x)
  local t = math.exp(-2 * math.abs(x))
  local y = (1 - t) / (1 + t)
  if x < 0 then return -y else return y end
end
function H.sigmoid (x) return 1 / (1 + math.exp(-x)) end
function H.relu (x) return math.max(x, 0) end

-- "luagrad.<fn>: bad argument #<n> (<what> expected, got <t>)"
function H.badarg (fn, n, what, t)
  return ("luagrad.%s: bad argument #%d (%s expected, got %s)"):format(fn, n, what, t)
end

-- An object whose finalizer is fn: a table on 5.2+, a proxy where tables have no __gc
-- (5.1, LuaJIT)
local newproxy = rawget(_G, "newproxy")
function H.finalized (fn)
  if _VERSION == "Lua 5.1" and newproxy then
    local p = newproxy(true)
    getmetatable(p).__gc = fn
    return p
  end
  return setmetatable({}, {__gc = fn})
end

-- a file's bytes; a file made of the bytes s (returns its path)
function H.readfile (path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end
function H.writefile (path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  return path
end

-- One busted test (made with the spec's it) per ```lua block of the page at path, at least
-- min of them: the block runs, and what it prints must be the text of its `--> ` lines.
function H.docexamples (it, path, min)
  local text = H.readfile(path)
  local n = 0
  for block in text:gmatch("```lua\n(.-)```") do
    n = n + 1
    it("runs example " .. n .. " as shown", function ()
      local expected, printed = {}, {}
      for line in block:gmatch("([^\n]*)\n") do
        local out = line:match("^%-%->(.*)$")
        if out then expected[#expected + 1] = out:gsub("^ ", "") end
      end
      local env = setmetatable({print = function (...)
        local parts = {}
        for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
        for line in (table.concat(parts, "\t") .. "\n"):gmatch("([^\n]*)\n") do
          printed[#printed + 1] = line
        end
      end}, {__index = _G})
      local chunk
      if setfenv then
        chunk = assert(loadstring(block))
        setfenv(chunk, env)
      else
        chunk = assert(load(block, "example", "t", env))
      end
      chunk()
      assert.are.same(expected, printed)
    end)
  end
  it("has examples", function () assert.is_true(n >= min) end)
end

-- the README's graph: J = 3 * (a + b * c) at a, b, c = 5, 3, 2, and its leaves
function H.lecture ()
  local a, b, c = lg.value(5, "a"), lg.value(3, "b"), lg.value(2, "c")
  return 3 * (a + b * c), a, b, c
end

-- the op table's rows (lg._ops), those of the arities given ({1, 2} ...) if any
function H.ops (arities)
  local t = {}
  for _, row in ipairs(lg._ops) do
    local keep = arities == nil
    for _, a in ipairs(arities or {}) do keep = keep or row.arity == a end
    if keep then t[#t + 1] = row end
  end
  return t
end

return H
