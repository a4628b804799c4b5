-- Argument trees (luagrad.tree): arrays and string-keyed tables, nested, whose leaves are
-- numbers, Values or tensors; other values pass through. The traversal order, flatten and
-- unflatten, and what is refused.
-- Run: lua5.4 /usr/bin/busted "--lpath=lua/?.lua;lua/?/init.lua" "--cpath=build/lua/?.so" spec/tree_spec.lua

local lg = require("luagrad")
local tree = require("luagrad.tree")

describe("luagrad.tree.flatten", function ()
  it("takes the array part in order, then the string keys in byte order, depth first", function ()
    local v = lg.value(4)
    local leaves = tree.flatten({ 1, { 2, 3 }, b = v, a = { z = 6, 5 }, B = 7 })
    assert.are.equal(7, #leaves)
    assert.are.same({ 1, 2, 3 }, { leaves[1], leaves[2], leaves[3] })
    assert.are.equal(7, leaves[4])    -- "B" < "a" < "b"
    assert.are.same({ 5, 6 }, { leaves[5], leaves[6] })
    assert.are.equal(v, leaves[7])
  end)

  it("keeps strings, booleans, functions and other values as they are, with no leaf", function ()
    local f = function () end
    local leaves, def = tree.flatten({ 1, "x", true, f, name = "n", io.stdout })
    assert.are.same({ 1 }, leaves)
    local back = tree.unflatten(def, { 10 })
    assert.are.equal(10, back[1])
    assert.are.equal("x", back[2])
    assert.are.equal(true, back[3])
    assert.are.equal(f, back[4])
    assert.are.equal(io.stdout, back[5])
    assert.are.equal("n", back.name)
  end)

  it("treats a lone number or Value as a tree of one leaf", function ()
    local leaves, def = tree.flatten(3)
    assert.are.same({ 3 }, leaves)
    assert.are.equal(true, def)
    assert.are.equal(9, (tree.unflatten(def, { 9 })))
  end)

  it("reads tables raw, as the core does: metamethods are ignored", function ()
    local t = setmetatable({ 1 }, { __index = function () return 5 end, __len = function () return 3 end })
    assert.are.same({ 1 }, (tree.flatten(t)))
  end)

  it("refuses keys other than 1 .. #t and strings, naming them", function ()
    assert.has_error(function () tree.flatten({ [0] = 1 }, "grad", "argument #1") end,
      "luagrad.grad: bad argument #1 (a table's keys must be 1 .. #t or strings, got number 0)")
    assert.has_error(function () tree.flatten({ [2.5] = 1 }, "grad", "argument #2") end,
      "luagrad.grad: bad argument #2 (a table's keys must be 1 .. #t or strings, got number 2.5)")
    assert.has_error(function () tree.flatten({ [true] = 1 }, "grad", "argument #1") end,
      "luagrad.grad: bad argument #1 (a table's keys must be 1 .. #t or strings, got boolean)")
  end)

  it("refuses a table that contains itself", function ()
    local t = {}
    t[1] = t
    assert.has_error(function () tree.flatten(t, "grad", "argument #1") end,
      "luagrad.grad: argument #1 nested too deeply (or a table that contains itself)")
  end)
end)

describe("luagrad.tree.unflatten", function ()
  it("rebuilds the structure around new leaves, from a position", function ()
    local x = { 1, { 2 }, k = 3 }
    local _, def = tree.flatten(x)
    local y, pos = tree.unflatten(def, { 0, 10, 20, 30 }, 1)
    assert.are.same({ 10, { 20 }, k = 30 }, y)
    assert.are.equal(4, pos)
  end)

  it("leaves pass-through values out when bare, as a gradient has none for them", function ()
    local _, def = tree.flatten({ scale = 3, name = "a", sub = { label = "x" } })
    assert.are.same({ scale = 2 }, (tree.unflatten(def, { 2 }, 0, true)))
    local _, d2 = tree.flatten("just a string")
    assert.is_nil((tree.unflatten(d2, {}, 0, true)))
  end)

  it("sorts many string keys in byte order", function ()
    local t, want = {}, {}
    for i = 1, 200 do
      local k = ("k%03d"):format((i * 37) % 200)
      t[k] = i
      want[#want + 1] = k
    end
    table.sort(want)
    local leaves = tree.flatten(t)
    for i, k in ipairs(want) do assert.are.equal(t[k], leaves[i]) end
  end)
end)

describe("luagrad.tree.count and same", function ()
  it("count leaves and compare structures", function ()
    local _, a = tree.flatten({ 1, { 2, "s" }, k = lg.value(1) })
    local _, b = tree.flatten({ 5, { 6, "t" }, k = 7 })
    local _, c = tree.flatten({ 5, { 6 }, k = 7 })
    assert.are.equal(3, tree.count(a))
    assert.is_true(tree.same(a, b))
    assert.is_false(tree.same(a, c))
  end)
end)
