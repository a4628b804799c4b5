-- lg.plot: SVG files luagrad writes itself. Each plot is read back with a strict XML reader
-- (well-formed, escaped, UTF-8) and checked for its parts: series, ticks and their labels,
-- legends, the boundary where it must be. Then, where rsvg-convert is installed, each kind
-- is rendered to a PNG of the right size that is not a blank page.
local lg = require("luagrad")
local xml = require("spec.xml")
local unpack = table.unpack or unpack   -- luacheck: ignore 143

local function parse (text) return xml.parse(text) end

-- the labels of the ticks, x axis first
local function ticklabels (root)
  return xml.texts(xml.find(root, "g", "tick-labels")[1])
end

local function count (root, name, cls) return #xml.find(root, name, cls) end

local function tmpname ()
  local name = os.tmpname()
  os.remove(name)
  return name
end

local function slurp (path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function range (n, f)
  local t = {}
  for i = 1, n do t[i] = f(i) end
  return t
end

describe("lg.plot", function ()
  it("is the table require('luagrad.plot') returns", function ()
    assert.are.equal(require("luagrad.plot"), lg.plot)
    assert.are.equal("function", type(lg.plot.lines))
    assert.are.equal("function", type(lg.plot.decision_boundary))
  end)
end)

describe("lg.plot.lines", function ()
  local losses = range(11, function (i) return i - 1 end)   -- 0 .. 10

  it("returns an SVG 1.1 document, and writes the same bytes to path", function ()
    local path = tmpname()
    local text = lg.plot.lines(path, losses)
    assert.are.equal(text, slurp(path))
    os.remove(path)
    local root = parse(text)
    assert.are.equal("svg", root.name)
    assert.are.equal("http://www.w3.org/2000/svg", root.attrs.xmlns)
    assert.are.equal("1.1", root.attrs.version)
    assert.are.equal("640", root.attrs.width)
    assert.are.equal("420", root.attrs.height)
    assert.are.equal("0 0 640 420", root.attrs.viewBox)
    assert.is_truthy(text:find('^<%?xml version="1.0" encoding="UTF%-8"'))
  end)

  it("writes nothing when path is nil", function ()
    assert.are.equal("string", type(lg.plot.lines(nil, losses)))
  end)

  it("puts ticks at round values, labelled without float noise", function ()
    local root = parse(lg.plot.lines(nil, losses))
    assert.are.same({ "2", "4", "6", "8", "10", "0", "2", "4", "6", "8", "10" }, ticklabels(root))
    root = parse(lg.plot.lines(nil, { 0.31, 0.33 }))
    assert.are.same({ "1", "2", "0.31", "0.315", "0.32", "0.325", "0.33" }, ticklabels(root))
    root = parse(lg.plot.lines(nil, { { y = { 1, 2, 3 }, x = { 0.1, 0.2, 0.3 } } }))
    assert.are.same({ "0.1", "0.15", "0.2", "0.25", "0.3", "1", "1.5", "2", "2.5", "3" },
                    ticklabels(root))
  end)

  it("gives a short axis at least three labelled ticks", function ()
    local root = parse(lg.plot.lines(nil, { 0.9, 0.7, 0.65, 0.5 }, { width = 300, height = 200 }))
    assert.are.same({ "1", "2", "3", "4", "0.5", "0.6", "0.7", "0.8", "0.9" }, ticklabels(root))
  end)

  it("writes negative labels with a minus sign, large and small ones with an exponent", function ()
    assert.are.same({ "1", "2", "3", "−3", "−2", "−1", "0", "1", "2" },
                    ticklabels(parse(lg.plot.lines(nil, { -3, -1, 2 }))))
    assert.are.same({ "1", "2", "3", "1e6", "1.5e6", "2e6", "2.5e6", "3e6" },
                    ticklabels(parse(lg.plot.lines(nil, { 1e6, 3e6, 2.5e6 }))))
    assert.are.same({ "1", "2", "1e-7", "1.5e-7", "2e-7", "2.5e-7", "3e-7" },
                    ticklabels(parse(lg.plot.lines(nil, { 1e-7, 3e-7 }))))
  end)

  it("labels a log scale at powers of ten, with minor ticks between", function ()
    local root = parse(lg.plot.lines(nil, { 1, 0.1, 0.01, 0.001 }, { yscale = "log" }))
    assert.are.same({ "1", "2", "3", "4", "0.001", "0.01", "0.1", "1" }, ticklabels(root))
    local ticks = xml.find(root, "path", "ticks")[1].attrs.d
    local _, marks = ticks:gsub("M", "")
    -- x, y, 2..9 in each of three decades, and 8 and 9 times 10^-4 in the 5% margin below
    assert.are.equal(4 + 4 + 3 * 8 + 2, marks)
    root = parse(lg.plot.lines(nil, range(9, function (k) return 10 ^ -(k - 1) end),
                               { yscale = "log" }))
    local labels = ticklabels(root)
    assert.are.same({ "10⁻⁸", "10⁻⁶", "10⁻⁴", "10⁻²", "10⁰" }, { unpack(labels, #labels - 4) })
  end)

  it("draws one line per series, named in a legend, in name order for a table of names", function ()
    local root = parse(lg.plot.lines(nil, { train = { 3, 2, 1 }, test = { 4, 3, 3 } }))
    assert.are.equal(2, count(root, "path", "line"))
    local legend = xml.find(root, "g", "legend")[1]
    assert.are.same({ "test", "train" }, xml.texts(legend))
    local lines = xml.find(root, "path", "line")
    assert.are.equal("#1f77b4", lines[1].attrs.stroke)   -- matplotlib's first two colours
    assert.are.equal("#ff7f0e", lines[2].attrs.stroke)
  end)

  it("keeps the order of an array of series, and their colours, dashes and markers", function ()
    local root = parse(lg.plot.lines(nil, {
      { name = "b", y = { 1, 2 }, color = "#000000", dash = "6 3" },
      { name = "a", y = { 2, 1 }, markers = true },
    }))
    assert.are.same({ "b", "a" }, xml.texts(xml.find(root, "g", "legend")[1]))
    local lines = xml.find(root, "path", "line")
    assert.are.equal("#000000", lines[1].attrs.stroke)
    assert.are.equal("6 3", lines[1].attrs["stroke-dasharray"])
    assert.are.equal(2, count(root, "circle", "marker"))
  end)

  it("shows no legend for one unnamed series, unless asked", function ()
    assert.are.equal(0, count(parse(lg.plot.lines(nil, losses)), "g", "legend"))
    local root = parse(lg.plot.lines(nil, losses, { legend = "lower left" }))
    assert.are.same({ "series 1" }, xml.texts(xml.find(root, "g", "legend")[1]))
  end)

  it("puts the legend where it covers the fewest points", function ()
    local down = parse(lg.plot.lines(nil, { loss = { 10, 5, 2, 1, 0.5, 0.2 } }))
    local up = parse(lg.plot.lines(nil, { acc = { 0.2, 0.5, 1, 2, 5, 10 } }))
    local function corner (root)
      local r = xml.find(xml.find(root, "g", "legend")[1], "rect")[1]
      return tonumber(r.attrs.x), tonumber(r.attrs.y)
    end
    local dx, dy = corner(down)
    local ux, uy = corner(up)
    assert.is_true(dx > 300 and dy < 100)   -- a falling curve: upper right is free
    assert.is_true(ux < 300 and uy < 100)   -- a rising one: upper left
  end)

  it("takes Values, tensors and arrays alike, with the same bytes", function ()
    local ys = { 0.5, 0.25, 0.125 }
    local values = range(3, function (i) return lg.value(ys[i]) end)
    local a = lg.plot.lines(nil, ys)
    assert.are.equal(a, lg.plot.lines(nil, values))
    assert.are.equal(a, lg.plot.lines(nil, lg.tensor(ys)))
    assert.are.equal(a, lg.plot.lines(nil, lg.tensor({ ys })))   -- 1 x n
    assert.are.equal(a, lg.plot.lines(nil, { { y = lg.tensor(ys) } }))
  end)

  it("gives the same bytes for the same input", function ()
    local input = { train = range(50, function (i) return 1 / i end), test = { 1, 0.5 } }
    assert.are.equal(lg.plot.lines(nil, input, { smooth = 0.6, title = "t" }),
                     lg.plot.lines(nil, input, { smooth = 0.6, title = "t" }))
  end)

  it("breaks a line at NaN and infinite values, and shows a lone point as a dot", function ()
    local root = parse(lg.plot.lines(nil, { 1, 2, 0 / 0, 3, 4, 1 / 0, 5, 6 }))
    local pts = xml.points(xml.find(root, "path", "line")[1].attrs.d)
    local moves = 0
    for _, p in ipairs(pts) do if p[1] == "M" then moves = moves + 1 end end
    assert.are.equal(6, #pts)
    assert.are.equal(3, moves)
    root = parse(lg.plot.lines(nil, { 1, 0 / 0, 2, 0 / 0, 3, 4 }))
    assert.are.equal(2, count(root, "circle", "marker"))   -- 1 and 2 stand alone
  end)

  it("leaves out values <= 0 on a log scale", function ()
    local root = parse(lg.plot.lines(nil, { 1, 0, 0.1, -1, 0.01 }, { yscale = "log" }))
    for _, p in ipairs(xml.points(xml.find(root, "path", "line")[1].attrs.d)) do
      assert.are.equal("M", p[1])   -- three points alone: no segment
    end
    assert.are.equal(3, count(root, "circle", "marker"))
  end)

  it("draws a smoothed line over the faint raw one", function ()
    local root = parse(lg.plot.lines(nil, { loss = { 1, 3, 1, 3, 1 } }, { smooth = 0.5 }))
    assert.are.equal(1, count(root, "path", "raw"))
    assert.are.equal("0.3", xml.find(root, "path", "raw")[1].attrs["stroke-opacity"])
    -- the debiased average: 1, 7/3, 11/7, 7/3, 51/31 (TensorBoard's)
    local raw = xml.points(xml.find(root, "path", "raw")[1].attrs.d)
    local line = xml.points(xml.find(root, "path", "line")[1].attrs.d)
    local function at (y) return raw[1][3] + (raw[2][3] - raw[1][3]) * (y - 1) / 2 end
    for i, y in ipairs({ 1, 7 / 3, 11 / 7, 7 / 3, 51 / 31 }) do
      assert.is_true(math.abs(line[i][3] - at(y)) < 0.011, "point " .. i)
    end
  end)

  it("decimates a long series to each pixel column's extremes", function ()
    local long = range(100000, function (i) return math.sin(i / 1000) + (i % 2) end)
    local root = parse(lg.plot.lines(nil, long))
    local n = #xml.points(xml.find(root, "path", "line")[1].attrs.d)
    assert.is_true(n < 4 * 640 and n > 600, n)
  end)

  it("writes a title and axis labels, escaped, in valid UTF-8", function ()
    local text = lg.plot.lines(nil, losses, { title = [[<a & "b" 'c'>]], xlabel = "époque",
                                              ylabel = "loss \255 \1" })
    local root = parse(text)
    assert.are.same([[<a & "b" 'c'>]], xml.text(xml.find(root, "text", "title")[1]))
    assert.are.same([[<a & "b" 'c'>]], xml.text(xml.find(root, "title")[1]))
    assert.are.same("époque", xml.text(xml.find(root, "text", "xlabel")[1]))
    assert.are.same("loss \239\191\189 \239\191\189", xml.text(xml.find(root, "text", "ylabel")[1]))
  end)

  it("labels the x axis 'step' unless x values are given", function ()
    assert.are.equal("step", xml.text(xml.find(parse(lg.plot.lines(nil, losses)), "text", "xlabel")[1]))
    local root = parse(lg.plot.lines(nil, { { y = { 1, 2 }, x = { 0, 1 } } }))
    assert.are.equal(0, count(root, "text", "xlabel"))
  end)

  it("honours xlim, ylim, width and height", function ()
    local root = parse(lg.plot.lines(nil, losses, { xlim = { 0, 20 }, ylim = { -5, 5 },
                                                    width = 300, height = 200 }))
    assert.are.equal("300", root.attrs.width)
    local labels = ticklabels(root)
    assert.are.equal("0", labels[1])
    assert.are.equal("−5", labels[#labels - 2])
    assert.are.equal("5", labels[#labels])
  end)

  describe("errors", function ()
    local cases = {
      { { 42, losses }, "luagrad.plot.lines: bad argument #1 (string or nil expected, got number)" },
      { { nil, "abc" }, "luagrad.plot.lines: bad argument #2 (table or tensor expected, got string)" },
      { { nil, {} }, "luagrad.plot.lines: bad argument #2 (no series to plot)" },
      { { nil, { train = {} } }, "luagrad.plot.lines: series 'train' is empty" },
      { { nil, { lg.zeros(2) } },
        "luagrad.plot.lines: bad value at index 1 of series 1 (number or value expected, got tensor)" },
      { { nil, { { y = { 1 } }, 5 } },
        "luagrad.plot.lines: bad argument #2 (a series table {y = ...} expected at index 2, got number)" },
      { { nil, { { name = "a", y = { 1, 2 }, x = { 1 } } } },
        "luagrad.plot.lines: series 'a' has 1 x values and 2 y values" },
      { { nil, { 1, "x" } },
        "luagrad.plot.lines: bad value at index 2 of series 1 (number or value expected, got string)" },
      { { nil, { a = { 1, {} } } },
        "luagrad.plot.lines: bad value at index 2 of series 'a' (number or value expected, got table)" },
      { { nil, { 0 / 0, 1 / 0 } }, "luagrad.plot.lines: series 1 has no finite value to plot" },
      { { nil, { loss = { 0, -1 } }, { yscale = "log" } },
        "luagrad.plot.lines: series 'loss' has no finite positive value to plot" },
      { { nil, lg.zeros(2, 3) },
        "luagrad.plot.lines: series 1 is a tensor of shape {2, 3} (one dimension expected)" },
      { { nil, { { y = { 1 }, colour = "red" } } },
        "luagrad.plot.lines: series 1 has an unknown field 'colour'" },
      { { nil, { { y = { 1 }, color = "red" } } },
        "luagrad.plot.lines: series 1 has a bad field 'color' (a colour \"#rrggbb\" expected, got string)" },
      { { nil, losses, 3 }, "luagrad.plot.lines: bad argument #3 (table expected, got number)" },
      { { nil, losses, { titel = "x" } }, "luagrad.plot.lines: unknown option 'titel'" },
      { { nil, losses, { width = 50 } },
        "luagrad.plot.lines: bad option 'width' (a number from 200 to 10000 expected, got 50)" },
      { { nil, losses, { yscale = "logarithmic" } },
        "luagrad.plot.lines: bad option 'yscale' (\"linear\" or \"log\" expected, got \"logarithmic\")" },
      { { nil, losses, { ylim = { 1, 0 } } },
        "luagrad.plot.lines: bad option 'ylim' ({lo, hi} with lo < hi expected, got table)" },
      { { nil, losses, { ylim = { 0, 1 }, yscale = "log" } },
        "luagrad.plot.lines: bad option 'ylim' (positive limits expected on a log scale, got 0)" },
      { { nil, losses, { legend = "top" } },
        "luagrad.plot.lines: bad option 'legend' (true, false, \"best\", \"upper right\", \"upper "
        .. "left\", \"lower left\" or \"lower right\" expected, got \"top\")" },
      { { "/nonexistent-dir/x.svg", losses },
        "luagrad.plot.lines: cannot write /nonexistent-dir/x.svg: No such file or directory" },
    }
    for i, c in ipairs(cases) do
      it(("%d: %s"):format(i, c[2]:match(": (.*)")), function ()
        assert.has_error(function () lg.plot.lines(c[1][1], c[1][2], c[1][3]) end, c[2])
      end)
    end
  end)
end)

describe("lg.plot.decision_boundary", function ()
  -- points in the unit square, labelled by which side of x1 = 0.31 they are on
  local X, y = {}, {}
  for i = 0, 4 do
    for j = 0, 4 do
      X[#X + 1] = { i / 4, j / 4 }
      y[#y + 1] = i / 4 > 0.31 and 1 or 0
    end
  end
  local function linear (P)   -- a probability, 0.5 at x1 = 0.31
    local out = {}
    for i, p in ipairs(P) do out[i] = 0.5 + 0.5 * (p[1] - 0.31) end
    return out
  end
  local unit = { xlim = { 0, 1 }, ylim = { 0, 1 } }

  it("draws a map, the boundary, the points coloured by class, a colour bar and a legend", function ()
    local root = parse(lg.plot.decision_boundary(nil, linear, X, y, unit))
    assert.are.equal(1, count(root, "g", "map"))
    assert.are.equal(1, count(root, "path", "boundary"))
    local points = xml.find(xml.find(root, "g", "points")[1], "circle")
    assert.are.equal(25, #points)
    assert.are.equal("#1f77b4", points[1].attrs.fill)    -- (0, 0): class 0
    assert.are.equal("#ff7f0e", points[25].attrs.fill)   -- (1, 1): class 1
    assert.are.equal(1, count(root, "g", "colorbar"))
    assert.are.same({ "0", "0.2", "0.4", "0.6", "0.8", "1" },
                    xml.texts(xml.find(root, "g", "colorbar-labels")[1]))
    assert.are.equal("probability of class 1", xml.text(xml.find(root, "text", "clabel")[1]))
    assert.are.same({ "class 0", "class 1" }, xml.texts(xml.find(root, "g", "legend")[1]))
    assert.are.same({ "x1", "x2" }, { xml.text(xml.find(root, "text", "xlabel")[1]),
                                      xml.text(xml.find(root, "text", "ylabel")[1]) })
  end)

  it("puts the boundary where f crosses the threshold", function ()
    local root = parse(lg.plot.decision_boundary(nil, linear, X, y, unit))
    local frame = xml.find(root, "rect", "frame")[1].attrs
    local x0, w = tonumber(frame.x), tonumber(frame.width)
    local pts = xml.points(xml.find(root, "path", "boundary")[1].attrs.d)
    assert.is_true(#pts >= 2)
    for _, p in ipairs(pts) do
      assert.is_true(math.abs(p[2] - (x0 + 0.31 * w)) <= 0.006, p[2])
    end
    -- and at another threshold, elsewhere: 0.6 is at x1 = 0.51
    root = parse(lg.plot.decision_boundary(nil, linear, X, y, { xlim = { 0, 1 },
                                           ylim = { 0, 1 }, threshold = 0.6 }))
    for _, p in ipairs(xml.points(xml.find(root, "path", "boundary")[1].attrs.d)) do
      assert.is_true(math.abs(p[2] - (x0 + 0.51 * w)) <= 0.006, p[2])
    end
  end)

  it("closes a boundary that lies inside the plot", function ()
    local function disc (P)
      local out = {}
      for i, p in ipairs(P) do out[i] = (p[1] - 0.5) ^ 2 + (p[2] - 0.5) ^ 2 < 0.09 and 1 or 0 end
      return out
    end
    local root = parse(lg.plot.decision_boundary(nil, disc, X, y, unit))
    local pts = xml.points(xml.find(root, "path", "boundary")[1].attrs.d)
    assert.are.same({ pts[1][2], pts[1][3] }, { pts[#pts][2], pts[#pts][3] })
  end)

  it("calls f once, without recording, on a grid over the data and its margin", function ()
    local calls, seen = 0, nil
    lg.plot.decision_boundary(nil, function (P)
      calls = calls + 1
      seen = P
      assert.is_false(lg.is_grad_enabled())
      return linear(P)
    end, X, y, { resolution = 20 })
    assert.are.equal(1, calls)
    assert.are.equal("table", type(seen))
    assert.are.equal(0, #seen % 20)
    assert.are.same({ -0.1, -0.1 }, seen[1])   -- the data's range is [0, 1], 10% added
    assert.is_true(math.abs(seen[#seen][1] - 1.1) < 1e-12 and math.abs(seen[#seen][2] - 1.1) < 1e-12)
    assert.are.same(seen[2][2], seen[1][2])    -- row by row: x1 varies first
  end)

  it("hands f a tensor of X's dtype when X is a tensor, and takes tensors back", function ()
    local seen
    local text = lg.plot.decision_boundary(nil, function (T)
      seen = T
      return lg.tensor(linear(T:totable()))
    end, lg.tensor(X, { dtype = "float32" }), lg.tensor(y), unit)
    assert.are.equal("tensor", lg.type(seen))
    assert.are.equal("float32", seen.dtype)
    assert.are.equal(2, seen.shape[2])
    -- the same picture as from plain arrays (f computed in float32 differs a little)
    assert.are.equal(25, count(xml.find(parse(text), "g", "points")[1], "circle"))
    local ok = pcall(lg.plot.decision_boundary, nil, function (T)
      return lg.tensor(linear(T:totable()))
    end, X, y, { input = "tensor" })
    assert.is_true(ok)
  end)

  it("takes an N x 1 tensor of results, and rows of one number", function ()
    local a = lg.plot.decision_boundary(nil, linear, X, y, unit)
    local b = lg.plot.decision_boundary(nil, function (P)
      local r = linear(P)
      for i, v in ipairs(r) do r[i] = { v } end
      return lg.tensor(r)
    end, X, y, unit)
    assert.are.equal(a, b)
  end)

  it("shades scores (not probabilities) symmetrically about threshold 0, labels -1 and 1", function ()
    local ys = {}
    for i, l in ipairs(y) do ys[i] = l == 1 and 1 or -1 end
    local root = parse(lg.plot.decision_boundary(nil, function (P)
      local out = {}
      for i, p in ipairs(P) do out[i] = 4 * (p[1] - 0.31) end
      return out
    end, X, ys, { xlim = { 0, 1 }, ylim = { 0, 1 }, threshold = 0 }))
    assert.are.equal("score", xml.text(xml.find(root, "text", "clabel")[1]))
    local labels = xml.texts(xml.find(root, "g", "colorbar-labels")[1])
    assert.are.same({ "−2", "−1", "0", "1", "2" }, labels)   -- f ranges over -1.24 to 2.76
    assert.are.same({ "class -1", "class 1" }, xml.texts(xml.find(root, "g", "legend")[1]))
  end)

  it("colours each class's region with one score per class, labels 1 to C", function ()
    local function three (T)
      local out = {}
      for i, p in ipairs(T:totable()) do out[i] = { -p[1], p[1] - 0.5, p[2] - 0.8 } end
      return lg.tensor(out)
    end
    local ys = {}
    for i, p in ipairs(X) do
      local s = { -p[1], p[1] - 0.5, p[2] - 0.8 }
      local best = 1
      for c = 2, 3 do if s[c] > s[best] then best = c end end
      ys[i] = best
    end
    local root = parse(lg.plot.decision_boundary(nil, three, lg.tensor(X), ys,
                                                 { classes = { "a", "b", "c" } }))
    assert.are.equal(0, count(root, "g", "colorbar"))
    assert.are.same({ "a", "b", "c" }, xml.texts(xml.find(root, "g", "legend")[1]))
    local map = xml.find(root, "g", "map")[1]
    assert.are.equal(1, count(map, "rect"))   -- class 1 is the ground
    assert.are.equal(2, count(map, "path"))   -- classes 2 and 3 over it
  end)

  it("gives the same bytes for the same input", function ()
    assert.are.equal(lg.plot.decision_boundary(nil, linear, X, y, { title = "t" }),
                     lg.plot.decision_boundary(nil, linear, X, y, { title = "t" }))
  end)

  describe("errors", function ()
    local function nan () return function (P) return range(#P, function () return 0 / 0 end) end end
    local cases = {
      { { 1, linear, X, y }, "luagrad.plot.decision_boundary: bad argument #1 (string or nil expected, got number)" },
      { { nil, nil, X, y }, "luagrad.plot.decision_boundary: bad argument #2 (function expected, got nil)" },
      { { nil, linear, lg.zeros(3, 3), y },
        "luagrad.plot.decision_boundary: bad argument #3 (an N x 2 tensor or an array of {x1, x2} "
        .. "expected, got a tensor of shape {3, 3})" },
      { { nil, linear, "X", y },
        "luagrad.plot.decision_boundary: bad argument #3 (an N x 2 tensor or an array of {x1, x2} "
        .. "expected, got string)" },
      { { nil, linear, {}, {} }, "luagrad.plot.decision_boundary: bad argument #3 (no points)" },
      { { nil, linear, { { 0, 1 }, { 1 } }, { 0, 1 } },
        "luagrad.plot.decision_boundary: bad argument #3 (point 2 is not {x1, x2} of numbers)" },
      { { nil, linear, { { 0, 1 }, { 0 / 0, 1 } }, { 0, 1 } },
        "luagrad.plot.decision_boundary: point 2 is not finite (nan, 1)" },
      { { nil, linear, { { 0, 1 }, { 1 / 0, 1 } }, { 0, 1 } },
        "luagrad.plot.decision_boundary: point 2 is not finite (inf, 1)" },
      { { nil, linear, X, { 0, 1 } }, "luagrad.plot.decision_boundary: X has 25 points and y 2 labels" },
      { { nil, linear, { { 0, 1 } }, { "a" } },
        "luagrad.plot.decision_boundary: bad label at index 1 (number expected, got string)" },
      { { nil, linear, { { 0, 1 } }, { 0 / 0 } },
        "luagrad.plot.decision_boundary: label 1 is not finite (nan)" },
      { { nil, nan(), X, y, unit }, "luagrad.plot.decision_boundary: f returned nan at (0, 0)" },
      { { nil, function () return 5 end, X, y },
        "luagrad.plot.decision_boundary: f returned number (a tensor or an array expected)" },
      { { nil, linear, X, range(25, function (i) return i % 3 end) },
        "luagrad.plot.decision_boundary: y has 3 classes, but f returned one value per point (for "
        .. "more than two classes, return one score per class)" },
      { { nil, function (P) return range(#P, function () return { 1, 2, 3 } end) end, X, y },
        "luagrad.plot.decision_boundary: label 0 at index 1 is not a class (1 to 3 expected, as f "
        .. "returned 3 scores per point)" },
      { { nil, function (P) return range(#P, function (i) return i == 2 and "x" or 1 end) end, X, y },
        "luagrad.plot.decision_boundary: f returned a bad value for point 2 (a number, or one score "
        .. "per class, as for point 1, expected)" },
      { { nil, linear, X, y, { threshold = 2 } },
        "luagrad.plot.decision_boundary: bad option 'threshold' (a number between 0 and 1 expected, got 2)" },
      { { nil, linear, X, y, { resolution = 3 } },
        "luagrad.plot.decision_boundary: bad option 'resolution' (a number from 8 to 1000 expected, got 3)" },
      { { nil, linear, X, y, { input = "array" } },
        "luagrad.plot.decision_boundary: bad option 'input' (\"tensor\" or \"table\" expected, got \"array\")" },
      { { nil, linear, X, y, { colors = { "red" } } },
        "luagrad.plot.decision_boundary: bad option 'colors' (an array of colours \"#rrggbb\" expected, got table)" },
    }
    for i, c in ipairs(cases) do
      it(("%d: %s"):format(i, c[2]:match(": (.*)")), function ()
        local a = c[1]
        assert.has_error(function () lg.plot.decision_boundary(a[1], a[2], a[3], a[4], a[5]) end, c[2])
      end)
    end

    it("names the number of grid points when f returns too few", function ()
      local m
      local ok, err = pcall(lg.plot.decision_boundary, nil, function (P)
        m = #P
        return { 1, 2 }
      end, X, y)
      assert.is_false(ok)
      assert.are.equal(0, m % 120)   -- 120 nodes across, rows of them up
      assert.is_truthy(err:find(("luagrad.plot.decision_boundary: f returned 2 values for %d points")
                                :format(m), 1, true))
    end)
  end)
end)

-- Rendering, where librsvg's rsvg-convert is installed (scripts/deps.sh's test packages)
describe("the plots rendered by rsvg-convert", function ()
  local function succeeded (cmd)
    local r = os.execute(cmd)
    return r == true or r == 0
  end
  local have = succeeded("command -v rsvg-convert >/dev/null 2>&1")

  -- width and height of a PNG file, from its IHDR chunk (big-endian at bytes 17..24)
  local function pngsize (s)
    assert.are.equal("\137PNG\r\n\26\n", s:sub(1, 8))
    assert.are.equal("IHDR", s:sub(13, 16))
    local function u32 (i)
      local a, b, c, d = s:byte(i, i + 3)
      return ((a * 256 + b) * 256 + c) * 256 + d
    end
    return u32(17), u32(21)
  end

  local function render (text)
    local svgpath, pngpath = tmpname() .. ".svg", tmpname() .. ".png"
    local f = assert(io.open(svgpath, "wb"))
    f:write(text)
    f:close()
    -- without the sanitizer runtime a sanitized run of this spec preloads: it is not ours
    assert.is_true(succeeded(("LD_PRELOAD= rsvg-convert -o '%s' '%s'"):format(pngpath, svgpath)))
    local png = slurp(pngpath)
    os.remove(svgpath)
    os.remove(pngpath)
    return png
  end

  local function blank (w, h)   -- a white page of the same size: what "nothing drawn" gives
    return render(('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
                   .. 'width="%d" height="%d"><rect width="%d" height="%d" fill="#ffffff"/>'
                   .. '</svg>'):format(w, h, w, h))
  end

  local X, y = {}, {}
  for i = 1, 60 do
    local t = i / 60 * 2 * math.pi
    X[i] = { math.cos(t) * (i % 2 + 1), math.sin(t) * (i % 2 + 1) }
    y[i] = i % 2
  end
  local kinds = {
    { "loss curves", function ()
        return lg.plot.lines(nil, { train = range(100, function (i) return 1 / i end),
                                    test = range(100, function (i) return 1.2 / i end) },
                             { yscale = "log", title = "loss" })
      end, 640, 420 },
    { "a decision boundary", function ()
        return lg.plot.decision_boundary(nil, function (P)
          return range(#P, function (i)
            return 1 / (1 + math.exp(-4 * (P[i][1] ^ 2 + P[i][2] ^ 2 - 2.25)))
          end)
        end, X, y, { width = 500, height = 400 })
      end, 500, 400 },
  }
  for _, k in ipairs(kinds) do
    it(k[1] .. " become a PNG of the page's size that is not blank", function ()
      if not have then
        pending("rsvg-convert is not installed (apt-get install librsvg2-bin)")
        return
      end
      local png = render(k[2]())
      local w, h = pngsize(png)
      assert.are.same({ k[3], k[4] }, { w, h })
      assert.is_true(#png > 5 * #blank(w, h), ("%d bytes"):format(#png))
    end)
  end
end)
