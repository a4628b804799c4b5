-- Printing: tostring(v) and the Graphviz text of lg.to_dot(v) / v:to_dot(), and (when the
-- `dot` program is installed) that Graphviz accepts that text.

local lg = require("luagrad")

local function lecture ()
  local a, b, c = lg.value(5, "a"), lg.value(3, "b"), lg.value(2, "c")
  return 3 * (a + b * c), a, b, c
end

local function fmt (x) return string.format("%.14g", x) end

-- Reads a quoted DOT string starting at s[i] == '"'; returns its raw (still escaped) text
-- and the index after the closing quote.
local function quoted (s, i)
  local j = i + 1
  while true do
    local ch = s:sub(j, j)
    if ch == "" then error("unterminated string in DOT") end
    if ch == "\\" then j = j + 2
    elseif ch == '"' then return s:sub(i + 1, j - 1), j + 1
    else j = j + 1 end
  end
end

-- A small reader for the DOT this library writes: node statements `id [k=v, ...];` and
-- edge statements `a -> b;`. Returns nodes (id -> {shape=, label=}), the node ids in order
-- and the edges ({from, to}).
local function parsedot (text)
  local nodes, order, edges = {}, {}, {}
  for line in text:gmatch("[^\n]+") do
    local from, to = line:match("^%s*([%w_]+)%s*%->%s*([%w_]+)%s*;?%s*$")
    if from then
      edges[#edges + 1] = { from, to }
    else
      local id, rest = line:match("^%s*([%w_]+)%s*(%[.*)$")
      if id and id ~= "node" and id ~= "edge" and id ~= "graph" then
        local attrs, i = {}, 2
        while i <= #rest do
          local key, after = rest:match("^%s*,?%s*([%w_]+)%s*=%s*()", i)
          if not key then break end
          if rest:sub(after, after) == '"' then
            attrs[key], i = quoted(rest, after)
          else
            local val, nxt = rest:match("^([^,%]%s]+)()", after)
            attrs[key], i = val, nxt
          end
        end
        nodes[id] = attrs
        order[#order + 1] = id
      end
    end
  end
  return nodes, order, edges
end

local function count (nodes, shape)
  local n = 0
  for _, attrs in pairs(nodes) do
    if attrs.shape == shape then n = n + 1 end
  end
  return n
end

-- the id of the one record node whose label is exactly lbl
local function recordid (nodes, lbl)
  local found
  for id, attrs in pairs(nodes) do
    if attrs.shape == "record" and attrs.label == lbl then
      assert.is_nil(found, "two records labelled " .. lbl)
      found = id
    end
  end
  assert.is_not_nil(found, "no record labelled " .. lbl)
  return found
end

local function targets (edges, from)
  local t = {}
  for _, e in ipairs(edges) do
    if e[1] == from then t[#t + 1] = e[2] end
  end
  return t
end

local function sources (edges, to)
  local t = {}
  for _, e in ipairs(edges) do
    if e[2] == to then t[#t + 1] = e[1] end
  end
  return t
end

describe("tostring", function ()
  it("shows data and grad of the lecture's output before and after backward", function ()
    local J = lecture()
    assert.are.equal("Value(data=33, grad=0)", tostring(J))
    J:backward()
    assert.are.equal("Value(data=33, grad=1)", tostring(J))
  end)

  it("puts the label first when there is one", function ()
    local J, a, b, c = lecture()
    J:backward()
    assert.are.equal("Value(label=a, data=5, grad=3)", tostring(a))
    assert.are.equal("Value(label=b, data=3, grad=6)", tostring(b))
    assert.are.equal("Value(label=c, data=2, grad=9)", tostring(c))
    a.label = nil
    assert.are.equal("Value(data=5, grad=3)", tostring(a))
    J.label = "J"
    assert.are.equal("Value(label=J, data=33, grad=1)", tostring(J))
  end)

  it("formats numbers as %.14g", function ()
    assert.are.equal("Value(data=0.1, grad=0)", tostring(lg.value(0.1)))
    assert.are.equal("Value(data=0.33333333333333, grad=0)", tostring(lg.value(1 / 3)))
    assert.are.equal("Value(data=1e+20, grad=0)", tostring(lg.value(1e20)))
    assert.are.equal("Value(data=-2.5, grad=0)", tostring(lg.value(-2.5)))
    assert.are.equal("Value(data=123456789, grad=0)", tostring(lg.value(123456789)))
    assert.are.equal("Value(data=1e-07, grad=0)", tostring(lg.value(1e-7)))
    local v = lg.value(1)
    v.grad = 2 / 3
    assert.are.equal("Value(data=1, grad=0.66666666666667)", tostring(v))
  end)

  it("prints infinities and NaN as C's %.14g does (string.format's, except on LuaJIT)", function ()
    local inf, nan = 1 / 0, 0 / 0
    for _, x in ipairs({ inf, -inf, 2^53, 2^-1074, -0.0, 1e308 }) do
      assert.are.equal("Value(data=" .. fmt(x) .. ", grad=0)", tostring(lg.value(x)))
    end
    -- C shows a NaN's sign; LuaJIT's own string.format writes every NaN as "nan"
    local nans = { tostring(lg.value(nan)), tostring(lg.value(-nan)) }
    table.sort(nans)
    assert.are.same({ "Value(data=-nan, grad=0)", "Value(data=nan, grad=0)" }, nans)
    if not rawget(_G, "jit") then
      for _, x in ipairs({ nan, -nan }) do
        assert.are.equal("Value(data=" .. fmt(x) .. ", grad=0)", tostring(lg.value(x)))
      end
    end
    local v = lg.value(0)
    v.grad = -nan
    assert.is_truthy(tostring(v):match("^Value%(data=0, grad=%-?nan%)$"))
    assert.are.equal("Value(data=inf, grad=0)", tostring(lg.value(inf)))
    assert.are.equal("Value(data=-inf, grad=0)", tostring(lg.value(-inf)))
  end)

  it("shows a label as it is, special characters included", function ()
    assert.are.equal("Value(label=a|b {c}, data=1, grad=0)", tostring(lg.value(1, "a|b {c}")))
  end)
end)

describe("lg.to_dot", function ()
  it("returns DOT text starting with digraph", function ()
    local J = lecture()
    local text = lg.to_dot(J)
    assert.are.equal("string", type(text))
    assert.are.equal("digraph", text:sub(1, 7))
    assert.is_truthy(text:match("}%s*$"))
  end)

  it("is also the method v:to_dot(), with the same text", function ()
    local J = lecture()
    J:backward()
    assert.are.equal(lg.to_dot(J), J:to_dot())
    assert.are.equal(J:to_dot(), J:to_dot())   -- and the same every time
  end)

  it("shows one record per Value with its label, data and grad", function ()
    local J = lecture()
    J:backward()
    local text = lg.to_dot(J)
    assert.is_truthy(text:find("{ a | data 5 | grad 3 }", 1, true))
    assert.is_truthy(text:find("{ b | data 3 | grad 6 }", 1, true))
    assert.is_truthy(text:find("{ c | data 2 | grad 9 }", 1, true))
    assert.is_truthy(text:find("{ data 33 | grad 1 }", 1, true))
    assert.is_truthy(text:find("{ data 11 | grad 3 }", 1, true))
    assert.is_truthy(text:find("{ data 6 | grad 3 }", 1, true))
    local nodes = parsedot(text)
    assert.are.equal(6, count(nodes, "record"))
  end)

  it("shows grads as they are now, before backward too", function ()
    local J = lecture()
    local text = lg.to_dot(J)
    assert.is_truthy(text:find("{ a | data 5 | grad 0 }", 1, true))
    assert.is_truthy(text:find("{ data 33 | grad 0 }", 1, true))
  end)

  it("shows one node per operation, named by its op", function ()
    local J = lecture()
    local nodes = parsedot(lg.to_dot(J))
    local ops = {}
    for _, attrs in pairs(nodes) do
      if attrs.shape ~= "record" and attrs.shape ~= "plaintext" then ops[#ops + 1] = attrs.label end
    end
    table.sort(ops)
    assert.are.same({ "*", "*", "+" }, ops)
  end)

  it("names every kind of op", function ()
    local x = lg.value(0.5, "x")
    local y = lg.sum({ x:exp(), x:tanh(), -x, x ^ 2, lg.dot({ x }, { x }), x:max(1) })
    local text = lg.to_dot(y)
    for _, name in ipairs({ "exp", "tanh", "neg", "^", "dot", "max", "sum" }) do
      assert.is_truthy(text:find('label="' .. name .. '"', 1, true), name)
    end
  end)

  it("shows a constant operand as a plaintext node feeding the op", function ()
    local J = lecture()
    local nodes, _, edges = parsedot(lg.to_dot(J))
    local k
    for id, attrs in pairs(nodes) do
      if attrs.shape == "plaintext" then
        assert.is_nil(k, "only one constant in 3 * (a + b * c)")
        k = id
      end
    end
    assert.is_not_nil(k)
    assert.are.equal("3", nodes[k].label)
    local outs = targets(edges, k)
    assert.are.equal(1, #outs)
    -- the op it feeds makes J
    local jop = outs[1]
    assert.are.equal("*", nodes[jop].label)
    assert.are.same({ recordid(nodes, "{ data 33 | grad 0 }") }, targets(edges, jop))
  end)

  it("draws edges forward: Value -> op node -> result", function ()
    local J = lecture()
    J:backward()
    local nodes, _, edges = parsedot(lg.to_dot(J))
    local a = recordid(nodes, "{ a | data 5 | grad 3 }")
    local u = recordid(nodes, "{ data 6 | grad 3 }")
    local s = recordid(nodes, "{ data 11 | grad 3 }")
    -- a feeds one op node, a "+", whose only output is a + u
    local outs = targets(edges, a)
    assert.are.equal(1, #outs)
    local plus = outs[1]
    assert.are.equal("+", nodes[plus].label)
    assert.are_not.equal("record", nodes[plus].shape)
    assert.are.same({ s }, targets(edges, plus))
    -- and that op node's inputs are a and u
    local ins = sources(edges, plus)
    table.sort(ins)
    local want = { a, u }
    table.sort(want)
    assert.are.same(want, ins)
    -- in general: a record's inputs are op nodes, an op node has one output, a record
    for id, attrs in pairs(nodes) do
      if attrs.shape == "record" then
        for _, from in ipairs(sources(edges, id)) do
          assert.are_not.equal("record", nodes[from].shape)
          assert.are_not.equal("plaintext", nodes[from].shape)
        end
      elseif attrs.shape ~= "plaintext" then
        local o = targets(edges, id)
        assert.are.equal(1, #o)
        assert.are.equal("record", nodes[o[1]].shape)
      end
    end
    -- leaves have no inputs
    for _, lbl in ipairs({ "a", "b", "c" }) do
      local id
      for nid, attrs in pairs(nodes) do
        if attrs.shape == "record" and attrs.label:find("{ " .. lbl .. " |", 1, true) then id = nid end
      end
      assert.are.same({}, sources(edges, id))
    end
  end)

  it("escapes special characters in labels with a backslash", function ()
    local v = lg.value(1, 'a{b}|c<d>"e\\f')
    local text = lg.to_dot(v * 2)
    assert.is_truthy(text:find('{ a\\{b\\}\\|c\\<d\\>\\"e\\\\f | data 1 | grad 0 }', 1, true))
    local nodes = parsedot(text)   -- and the quoted string still ends where it should
    assert.are.equal(2, count(nodes, "record"))
  end)

  it("shows a whole label, with control characters and NUL bytes as spaces", function ()
    local v = lg.value(1, "a\0b\nc")
    assert.is_truthy(v:to_dot():find("{ a b c | data 1 | grad 0 }", 1, true))
  end)

  it("lists a Value used several times once", function ()
    local a, b = lg.value(2, "a"), lg.value(3, "b")
    local u = a * b
    u.label = "u"
    local y = lg.sum({ u, u * u, u:exp(), u, a })
    local text = lg.to_dot(y)
    local nodes, _, edges = parsedot(text)
    assert.are.equal(6, count(nodes, "record"))   -- a, b, u, u*u, exp(u), y
    local uid = recordid(nodes, "{ u | data 6 | grad 0 }")
    local _, nu = text:gsub("{ u |", "")
    assert.are.equal(1, nu)
    -- u feeds the mul (twice), the exp (once) and the sum (twice): one edge per use
    assert.are.equal(5, #targets(edges, uid))
  end)

  it("does not disturb a later backward", function ()
    local J, a, b, c = lecture()
    lg.to_dot(J)
    J:backward()
    assert.are.equal(3, a.grad)
    assert.are.equal(6, b.grad)
    assert.are.equal(9, c.grad)
    local text = J:to_dot()
    assert.are.equal(1, J.grad)
    assert.are.equal(3, a.grad)
    assert.is_truthy(text:find("{ c | data 2 | grad 9 }", 1, true))
  end)

  it("draws a single leaf as one record and no edges", function ()
    local nodes, order, edges = parsedot(lg.to_dot(lg.value(7, "x")))
    assert.are.equal(1, #order)
    assert.are.equal("{ x | data 7 | grad 0 }", nodes[order[1]].label)
    assert.are.equal(0, #edges)
  end)

  it("draws a 10,000-deep chain without error", function ()
    local x = lg.value(1, "x")
    local y = x
    for _ = 1, 10000 do y = y + 1 end
    y:backward()
    local ok, text = pcall(lg.to_dot, y)
    assert.is_true(ok, text)
    local nodes, _, edges = parsedot(text)
    assert.are.equal(10001, count(nodes, "record"))
    assert.are.equal(10000, count(nodes, "plaintext"))
    assert.are.equal(10000 * 3, #edges)   -- previous -> op, constant -> op, op -> result
    assert.is_truthy(text:find("{ x | data 1 | grad 1 }", 1, true))
    assert.is_truthy(text:find("{ data 10001 | grad 1 }", 1, true))
  end)
end)

describe("Graphviz", function ()
  local r = os.execute("command -v dot >/dev/null 2>&1")
  local hasdot = (r == true or r == 0)

  local function render (text)
    local src, out = os.tmpname(), os.tmpname()
    local f = assert(io.open(src, "wb"))
    f:write(text)
    f:close()
    -- an empty LD_PRELOAD: under a sanitizer run, its runtime must not be forced into dot
    local st = os.execute("LD_PRELOAD= dot -Tsvg " .. src .. " -o " .. out .. " 2>/dev/null")
    local g = io.open(out, "rb")
    local svg = g and g:read("*a") or ""
    if g then g:close() end
    os.remove(src)
    os.remove(out)
    return (st == true or st == 0), svg
  end

  it("renders the lecture graph to SVG", function ()
    if not hasdot then pending("the dot program is not installed") return end
    local J = lecture()
    J:backward()
    local ok, svg = render(J:to_dot())
    assert.is_true(ok)
    assert.is_truthy(svg:sub(1, 5) == "<?xml" or svg:find("<svg", 1, true))
    assert.is_truthy(svg:find("grad 9", 1, true))
  end)

  it("renders labels with special characters", function ()
    if not hasdot then pending("the dot program is not installed") return end
    local v = lg.value(1, 'a{b}|c<d>"e\\f\nnext')
    local ok, svg = render(lg.to_dot(v:exp() * v))
    assert.is_true(ok)
    assert.is_truthy(svg:find("<svg", 1, true))
  end)
end)
