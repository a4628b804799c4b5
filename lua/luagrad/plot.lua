-- luagrad.plot: figures written as SVG files by luagrad itself, with no plotting program:
--   lg.plot.lines(path, series [, opts])                  loss curves, one or more series
--   lg.plot.decision_boundary(path, f, X, y [, opts])     a 2-D classifier over its data
-- Data may be tensors or plain Lua arrays (numbers, or Values for their .data); nothing
-- needs autograd. Each returns the SVG text and writes it to path unless path is nil. The
-- same input gives the same bytes (tests compare them), on every Lua and in every locale.
--
-- Loading touches only the base library (see init.lua): string, math, table and io are
-- looked up when a plot is drawn.
local _, core, loadpart = ...
if type(core) ~= "table" then core = require("luagrad.core") end
local lg = core
if type(lg.plot) == "table" then return lg.plot end   -- one per state, however loaded

local svg = loadpart and loadpart("luagrad.svg") or require("luagrad.svg")
local options = loadpart and loadpart("luagrad.options") or require("luagrad.options")
local contour = loadpart and loadpart("luagrad.contour") or require("luagrad.contour")
local error, getmetatable, ipairs, pairs, type = error, getmetatable, ipairs, pairs, type

local plot = {}

local function format (...) return string.format(...) end

local function typename (x) return lg.type(x) or type(x) end

local function finite (x) return x == x and x ~= 1 / 0 and x ~= -1 / 0 end

-- x as a number: itself, a Value's .data, or nil
local function number (x)
  if type(x) == "number" then return x end
  if lg.type(x) == "value" then return x.data end
  return nil
end

-- "{3, 4}"
local function shapetext (shape)
  return "{" .. table.concat(shape, ", ") .. "}"
end

-- The numbers of nested arrays, in order
local function flatten (t, out)
  out = out or {}
  for _, v in ipairs(t) do
    if type(v) == "table" then flatten(v, out) else out[#out + 1] = v end
  end
  return out
end

local STRING, BOOLEAN, kind = options.STRING, options.BOOLEAN, options.kind
local between, oneof, shown = options.between, options.oneof, options.shown

-- {lo, hi}: two finite numbers, lo < hi
local function limits (v)
  return type(v) == "table" and type(v[1]) == "number" and type(v[2]) == "number" and
         finite(v[1]) and finite(v[2]) and v[1] < v[2], "{lo, hi} with lo < hi"
end

local function color (v) return svg.iscolor(v), "a colour \"#rrggbb\"" end

local function colors (v)
  if type(v) ~= "table" or #v == 0 then return false, "an array of colours \"#rrggbb\"" end
  for _, c in ipairs(v) do
    if not svg.iscolor(c) then return false, "an array of colours \"#rrggbb\"" end
  end
  return true
end

local function strings (v)
  if type(v) ~= "table" then return false, "an array of strings" end
  for _, s in ipairs(v) do
    if type(s) ~= "string" then return false, "an array of strings" end
  end
  return true
end

local LEGEND = oneof(true, false, "best", "upper right", "upper left", "lower left",
                     "lower right")
local CORNERS = svg.CORNERS



-- {==================================================================
-- The page around a plot
-- ===================================================================

-- Writes text to path (nil: nowhere); returns text
local function save (fn, path, text)
  if path == nil then return text end
  local f, err = io.open(path, "wb")
  if not f then error(format("luagrad.%s: cannot write %s", fn, err), 3) end
  f:write(text)
  f:close()
  return text
end

local function checkpath (fn, path)
  if path ~= nil and type(path) ~= "string" then
    error(format("luagrad.%s: bad argument #1 (string or nil expected, got %s)", fn,
                 typename(path)), 3)
  end
end

-- [lo, hi] of the finite values in xs (nil when none), with pad: the share of the span
-- added at each end (a single value gets +-pad of itself, or +-1 at 0)
local function range (lo, hi, pad)
  if lo == hi then
    local d = lo == 0 and 1 or math.abs(lo) * 0.1
    return lo - d, hi + d
  end
  return lo - (hi - lo) * pad, hi + (hi - lo) * pad
end

-- An axis over [lo, hi] len pixels long: opts.log (lo > 0), opts.integer, opts.horizontal
local function axis (lo, hi, len, opts)
  if opts.log then return svg.logarithmic(lo, hi, len, opts) end
  return svg.linear(lo, hi, len, opts)
end

-- The plot area of a page of width x height for these labels, with room on the right: the
-- area box and the y axis, made by yaxis(len) for the area's height
local function layout (width, height, labels, right, yaxis)
  local top = labels.title and 38 or 14
  local bottom = 12 + svg.SIZE + (labels.xlabel and 24 or 6)
  local ya = yaxis(height - top - bottom)
  local left = svg.margins(ya, labels)
  return { x = left, y = top, w = width - left - right, h = height - top - bottom }, ya
end

-- }==================================================================


-- {==================================================================
-- lg.plot.lines
-- ===================================================================

local LINES = "plot.lines"

-- The numbers of data (an array of numbers and Values, or a tensor of one dimension or of
-- n x 1 or 1 x n), or the error for what (a series' description)
local function numbers (data, what)
  if lg.type(data) == "tensor" then
    local shape = data.shape
    if #shape ~= 1 and not (#shape == 2 and (shape[1] == 1 or shape[2] == 1)) then
      error(format("luagrad.%s: %s is a tensor of shape %s (one dimension expected)", LINES,
                   what, shapetext(shape)), 4)
    end
    return flatten(data:totable())
  end
  if type(data) ~= "table" then
    error(format("luagrad.%s: %s must be an array or a tensor, got %s", LINES, what,
                 typename(data)), 4)
  end
  local out = {}
  for i = 1, #data do
    out[i] = number(data[i])
    if out[i] == nil then
      error(format("luagrad.%s: bad value at index %d of %s (number or value expected, got "
                   .. "%s)", LINES, i, what, typename(data[i])), 4)
    end
  end
  return out
end

local SERIES = { name = STRING, color = color, dash = STRING, markers = BOOLEAN,
                 width = between(0.1, 20) }

-- One series from s (data, or a table with y and perhaps x, name, color, dash, markers,
-- width); name and i name it in messages
local function series1 (s, name, i)
  local what = name and format("series '%s'", name) or format("series %d", i)
  local entry = { name = name }
  local data = s
  if type(s) == "table" and lg.type(s) == nil and s.y ~= nil then
    for k, v in pairs(s) do
      if k ~= "x" and k ~= "y" then
        local spec = SERIES[k]
        if spec == nil then
          error(format("luagrad.%s: %s has an unknown field '%s'", LINES, what, tostring(k)), 3)
        end
        local ok, expect = spec(v)
        if not ok then
          error(format("luagrad.%s: %s has a bad field '%s' (%s expected, got %s)", LINES,
                       what, k, expect, typename(v)), 3)
        end
        entry[k] = v
      end
    end
    if name == nil and s.name then what = format("series '%s'", s.name) end
    data = s.y
    if s.x ~= nil then entry.x, entry.explicit = numbers(s.x, what .. "'s x"), true end
  end
  entry.y = numbers(data, what)
  if #entry.y == 0 then error(format("luagrad.%s: %s is empty", LINES, what), 3) end
  if entry.x and #entry.x ~= #entry.y then
    error(format("luagrad.%s: %s has %d x values and %d y values", LINES, what, #entry.x,
                 #entry.y), 3)
  end
  if not entry.x then
    entry.x = {}
    for k = 1, #entry.y do entry.x[k] = k end
  end
  entry.what = what
  return entry
end

-- series (one series, an array of series tables, or names to series) as an array of
-- {name, x, y, ...}, in order (names sorted)
local function allseries (series)
  if type(series) ~= "table" then   -- a tensor is one series
    if lg.type(series) == "tensor" then return { series1(series, nil, 1) } end
    error(format("luagrad.%s: bad argument #2 (table or tensor expected, got %s)", LINES,
                 typename(series)), 3)
  end
  local first = series[1]
  if first ~= nil and (type(first) ~= "table" or lg.type(first) or first.y == nil) then
    return { series1(series, nil, 1) }   -- an array of numbers (checked there)
  end
  local out = {}
  if first ~= nil then
    for i = 1, #series do
      if type(series[i]) ~= "table" or series[i].y == nil then
        error(format("luagrad.%s: bad argument #2 (a series table {y = ...} expected at "
                     .. "index %d, got %s)", LINES, i, typename(series[i])), 3)
      end
      out[i] = series1(series[i], series[i].name, i)
    end
    return out
  end
  local names = {}
  for k in pairs(series) do
    if type(k) ~= "string" then
      error(format("luagrad.%s: bad argument #2 (series names must be strings, got a %s)",
                   LINES, type(k)), 3)
    end
    names[#names + 1] = k
  end
  if #names == 0 then error(format("luagrad.%s: bad argument #2 (no series to plot)", LINES), 3) end
  table.sort(names)
  for i, name in ipairs(names) do out[i] = series1(series[name], name, i) end
  return out
end

-- TensorBoard's smoothing: an exponential moving average, debiased at the start, over the
-- finite values (the others stay as they are)
local function smoothed (ys, weight)
  local out, avg, n = {}, 0, 0
  for i, y in ipairs(ys) do
    if finite(y) then
      avg, n = avg * weight + (1 - weight) * y, n + 1
      out[i] = avg / (1 - weight ^ n)
    else
      out[i] = y
    end
  end
  return out
end

-- Whether (x, y) can be drawn on these scales
local function drawable (x, y, xlog, ylog)
  return finite(x) and finite(y) and (not xlog or x > 0) and (not ylog or y > 0)
end

-- The extent of every drawable point of every series: xlo, xhi, ylo, yhi (nil when none)
local function extent (all, xlog, ylog)
  local xlo, xhi, ylo, yhi
  for _, s in ipairs(all) do
    local any = false
    for i, y in ipairs(s.y) do
      local x = s.x[i]
      if drawable(x, y, xlog, ylog) then
        any = true
        if xlo == nil or x < xlo then xlo = x end
        if xhi == nil or x > xhi then xhi = x end
        if ylo == nil or y < ylo then ylo = y end
        if yhi == nil or y > yhi then yhi = y end
      end
    end
    if not any then
      error(format("luagrad.%s: %s has no %s value to plot", LINES, s.what,
                   (xlog or ylog) and "finite positive" or "finite"), 3)
    end
  end
  return xlo, xhi, ylo, yhi
end

-- A padded range, in log space on a log scale
local function padded (lo, hi, pad, log)
  if not log then return range(lo, hi, pad) end
  local a, b = range(math.log(lo), math.log(hi), pad)
  return math.exp(a), math.exp(b)
end

-- The runs of drawable points of a series in pixels, split at gaps; a run longer than four
-- points a pixel keeps each pixel column's first, lowest, highest and last points
local function runs (s, ys, X, Y, xlog, ylog, w)
  local out, run = {}, nil
  for i, y in ipairs(ys) do
    local x = s.x[i]
    if drawable(x, y, xlog, ylog) then
      run = run or {}
      run[#run + 1] = { X(x), Y(y) }
    else
      if run then out[#out + 1] = run end
      run = nil
    end
  end
  if run then out[#out + 1] = run end
  for k, r in ipairs(out) do
    if #r > 4 * w then
      local kept, col, lo, hi, first, last = {}, nil, nil, nil, nil, nil
      local function flush ()
        local picks = { first, lo, hi, last }
        table.sort(picks)
        for j, p in ipairs(picks) do
          if j == 1 or p ~= picks[j - 1] then kept[#kept + 1] = r[p] end
        end
      end
      for j, p in ipairs(r) do
        local c = math.floor(p[1])
        if c ~= col then
          if col then flush() end
          col, lo, hi, first = c, j, j, j
        end
        if p[2] < r[lo][2] then lo = j end
        if p[2] > r[hi][2] then hi = j end
        last = j
      end
      flush()
      out[k] = kept
    end
  end
  return out
end

-- Pixels kept near the page: a point far outside the plot area is clipped anyway
local function clamp (v, lo, hi) return v < lo and lo or v > hi and hi or v end

-- Appends to drawn the points of run, and points every 8 pixels or so along its segments:
-- what a legend should not cover
local function sample (run, drawn)
  for i, p in ipairs(run) do
    local q = run[i + 1]
    drawn[#drawn + 1] = p
    if q then
      local n = math.ceil(math.sqrt((q[1] - p[1]) ^ 2 + (q[2] - p[2]) ^ 2) / 8)
      for k = 1, n - 1 do
        drawn[#drawn + 1] = { p[1] + (q[1] - p[1]) * k / n, p[2] + (q[2] - p[2]) * k / n }
      end
    end
  end
end

-- The corner of box where a legend of w x h covers the fewest drawn points (ties: in the
-- order of CORNERS)
local function bestcorner (box, w, h, drawn)
  local corners, best, fewest = svg.corners(box, w, h), nil, nil
  for _, name in ipairs(CORNERS) do
    local c, n = corners[name], 0
    for _, p in ipairs(drawn) do
      if p[1] >= c[1] - 4 and p[1] <= c[1] + w + 4 and p[2] >= c[2] - 4 and
         p[2] <= c[2] + h + 4 then n = n + 1 end
    end
    if fewest == nil or n < fewest then best, fewest = name, n end
  end
  return best
end

local LINES_OPTS = {
  title = STRING, xlabel = STRING, ylabel = STRING,
  width = between(200, 10000), height = between(150, 10000),
  xscale = oneof("linear", "log"), yscale = oneof("linear", "log"),
  xlim = limits, ylim = limits, legend = LEGEND, smooth = between(0, 0.999),
  markers = BOOLEAN, colors = colors,
}

--[[
lg.plot.lines(path, series [, opts]) -> svg text
Line plots of series: an array of numbers (or Values, or a 1-D tensor), or names to such
arrays ({train = ..., test = ...}: drawn in name order), or an array of series tables
{y = ..., x = ..., name = ..., color = "#rrggbb", dash = "6 3", width = 2, markers = true}.
x defaults to 1, 2, ... A NaN or infinite value (or, on a log scale, one <= 0) is a gap in
its line. opts: title, xlabel, ylabel, width (640), height (420), xscale and yscale
("linear" or "log"), xlim and ylim ({lo, hi}), legend (true, false, "best" or a corner:
"upper right" ...; shown by default when series have names), smooth (0 to 0.999: draws an
exponential moving average over the faint raw line, as TensorBoard), markers, colors.
]]
function plot.lines (path, series, opts)
  checkpath(LINES, path)
  local all = allseries(series)
  opts = options.check(LINES, opts, LINES_OPTS, 3)
  local xlog, ylog = opts.xscale == "log", opts.yscale == "log"
  local xlo, xhi, ylo, yhi = extent(all, xlog, ylog)
  local integer = not xlog
  for _, s in ipairs(all) do
    for _, x in ipairs(s.x) do
      if finite(x) and x ~= math.floor(x) then integer = false end
    end
  end
  if opts.xlim then xlo, xhi = opts.xlim[1], opts.xlim[2]
  elseif xlo == xhi then xlo, xhi = padded(xlo, xhi, 0, xlog) end
  if opts.ylim then ylo, yhi = opts.ylim[1], opts.ylim[2]
  else ylo, yhi = padded(ylo, yhi, 0.05, ylog) end
  for _, lim in ipairs({ { "xlim", xlo, xlog }, { "ylim", ylo, ylog } }) do
    if lim[3] and lim[2] <= 0 then
      error(format("luagrad.%s: bad option '%s' (positive limits expected on a log scale, "
                   .. "got %s)", LINES, lim[1], shown(lim[2])), 2)
    end
  end

  local width, height = opts.width or 640, opts.height or 420
  local labels = { title = opts.title, xlabel = opts.xlabel, ylabel = opts.ylabel }
  local explicit = false
  for _, s in ipairs(all) do explicit = explicit or s.explicit end
  if labels.xlabel == nil and not explicit then labels.xlabel = "step" end
  local box, ya = layout(width, height, labels, 18, function (len)
    return axis(ylo, yhi, len, { log = ylog, gap = 50 })
  end)
  local xa = axis(xlo, xhi, box.w, { log = xlog, integer = integer, horizontal = true })
  local function X (x) return clamp(box.x + xa:at(x) * box.w, -1e4, 2e4) end
  local function Y (y) return clamp(box.y + box.h - ya:at(y) * box.h, -1e4, 2e4) end

  local page = svg.page(width, height, opts.title)
  page:grid(box, xa, ya)
  page:clip("plot-area", box)
  page:add('<g class="series" clip-path="url(#plot-area)" fill="none" '
           .. 'stroke-linejoin="round" stroke-linecap="round">')
  local palette, entries, drawn = opts.colors or svg.PALETTE, {}, {}
  for i, s in ipairs(all) do
    local c = s.color or palette[(i - 1) % #palette + 1]
    local sw = svg.fixed(s.width or 1.75)
    local dash = s.dash and ' stroke-dasharray="' .. svg.escape(s.dash) .. '"' or ""
    local ys = s.y
    if opts.smooth and opts.smooth > 0 then
      page:add(format('<path class="raw" stroke="%s" stroke-opacity="0.3" stroke-width="%s" '
                      .. 'd="%s"/>', c, sw, svg.path(runs(s, ys, X, Y, xlog, ylog, box.w))))
      ys = smoothed(ys, opts.smooth)
    end
    local r = runs(s, ys, X, Y, xlog, ylog, box.w)
    page:add(format('<path class="line" stroke="%s" stroke-width="%s"%s d="%s"/>', c, sw,
                    dash, svg.path(r)))
    for _, run in ipairs(r) do
      if #run == 1 or s.markers or opts.markers then   -- a lone point shows as a dot
        for _, p in ipairs(run) do
          page:add(format('<circle class="marker" cx="%s" cy="%s" r="3" fill="%s" stroke="none"/>',
                          svg.num(p[1]), svg.num(p[2]), c))
        end
      end
      sample(run, drawn)
    end
    entries[i] = { label = s.name or format("series %d", i), color = c, dash = s.dash }
  end
  page:add("</g>")
  page:frame(box, xa, ya, labels)
  local legend = opts.legend
  if legend == nil then legend = all[1].name ~= nil end
  if legend then
    local w, h = svg.legendsize(entries)
    local where = (legend == true or legend == "best") and bestcorner(box, w, h, drawn) or legend
    local c = svg.corners(box, w, h)[where]
    page:legend(c[1], c[2], entries)
  end
  return save(LINES, path, page:finish())
end

-- }==================================================================

-- {==================================================================
-- lg.plot.decision_boundary
-- ===================================================================

local BOUNDARY = "plot.decision_boundary"

-- The points of X (an N x 2 tensor, or an array of {x1, x2}): an array of {x1, x2}
local function points (X)
  local rows = X
  if lg.type(X) == "tensor" then
    local shape = X.shape
    if #shape ~= 2 or shape[2] ~= 2 then
      error(format("luagrad.%s: bad argument #3 (an N x 2 tensor or an array of {x1, x2} "
                   .. "expected, got a tensor of shape %s)", BOUNDARY, shapetext(shape)), 3)
    end
    rows = X:totable()
  elseif type(X) ~= "table" or lg.type(X) then
    error(format("luagrad.%s: bad argument #3 (an N x 2 tensor or an array of {x1, x2} "
                 .. "expected, got %s)", BOUNDARY, typename(X)), 3)
  end
  if #rows == 0 then error(format("luagrad.%s: bad argument #3 (no points)", BOUNDARY), 3) end
  local out = {}
  for i, row in ipairs(rows) do
    local a, b = type(row) == "table" and number(row[1]), type(row) == "table" and number(row[2])
    if not (a and b) or (type(row) == "table" and row[3] ~= nil) then
      error(format("luagrad.%s: bad argument #3 (point %d is not {x1, x2} of numbers)",
                   BOUNDARY, i), 3)
    end
    if not (finite(a) and finite(b)) then
      error(format("luagrad.%s: point %d is not finite (%s, %s)", BOUNDARY, i, shown(a),
                   shown(b)), 3)
    end
    out[i] = { a, b }
  end
  return out
end

-- The labels y (a tensor of N or N x 1, or an array of numbers) of n points, or nil
local function labels (y, n)
  if y == nil then return nil end
  local out
  if lg.type(y) == "tensor" then
    local shape = y.shape
    if #shape ~= 1 and not (#shape == 2 and shape[2] == 1) then
      error(format("luagrad.%s: bad argument #4 (labels of shape {N} or {N, 1} expected, got "
                   .. "%s)", BOUNDARY, shapetext(shape)), 3)
    end
    out = flatten(y:totable())
  elseif type(y) == "table" and not lg.type(y) then
    out = {}
    for i = 1, #y do
      out[i] = number(y[i])
      if out[i] == nil then
        error(format("luagrad.%s: bad label at index %d (number expected, got %s)", BOUNDARY,
                     i, typename(y[i])), 3)
      end
    end
  else
    error(format("luagrad.%s: bad argument #4 (tensor, table or nil expected, got %s)",
                 BOUNDARY, typename(y)), 3)
  end
  if #out ~= n then
    error(format("luagrad.%s: X has %d points and y %d labels", BOUNDARY, n, #out), 3)
  end
  for i, v in ipairs(out) do
    if not finite(v) then
      error(format("luagrad.%s: label %d is not finite (%s)", BOUNDARY, i, shown(v)), 3)
    end
  end
  return out
end

-- f's result for m points: an array of numbers (one per point) and nil, or an array of
-- arrays of scores (one per class) and their number
local function outputs (r, m)
  local rows = r
  if lg.type(r) == "tensor" then
    local shape = r.shape
    if not (shape[1] == m and (#shape == 1 or #shape == 2)) then
      error(format("luagrad.%s: f returned a tensor of shape %s for %d points ({%d}, {%d, 1} "
                   .. "or {%d, classes} expected)", BOUNDARY, shapetext(shape), m, m, m, m), 3)
    end
    rows = r:totable()
  elseif type(r) ~= "table" or lg.type(r) then
    error(format("luagrad.%s: f returned %s (a tensor or an array expected)", BOUNDARY,
                 typename(r)), 3)
  end
  if #rows ~= m then
    error(format("luagrad.%s: f returned %d values for %d points", BOUNDARY, #rows, m), 3)
  end
  local scores, classes = {}, nil
  for i, row in ipairs(rows) do
    local v = number(row)
    if v == nil and type(row) == "table" and lg.type(row) == nil then
      if #row == 1 then v = number(row[1])
      else
        classes = classes or #row
        local s = {}
        for c = 1, #row do s[c] = number(row[c]) end
        if #row ~= classes or #s ~= classes or classes < 2 then v = nil else v = s end
      end
    end
    if v == nil or (classes == nil) ~= (type(v) == "number") then
      error(format("luagrad.%s: f returned a bad value for point %d (a number, or one score "
                   .. "per class, as for point 1, expected)", BOUNDARY, i), 3)
    end
    scores[i] = v
  end
  return scores, classes
end

-- Raises when a score of grid point i is NaN
local function notnan (v, i, grid)
  if v ~= v then
    error(format("luagrad.%s: f returned nan at (%s, %s)", BOUNDARY, shown(grid[i][1]),
                 shown(grid[i][2])), 4)
  end
end

-- A binary map's shading: t(v), where v falls from lo (0) through the threshold (0.5) to
-- hi (1), and its inverse; colour(b) of band b of levels: from the negative class's colour
-- (neg) through white at the threshold to the positive class's (pos)
local function shading (lo, threshold, hi, levels, neg, pos)
  local function t (v)
    local x
    if v < threshold then x = 0.5 * (v - lo) / (threshold - lo)
    else x = 0.5 + 0.5 * (v - threshold) / (hi - threshold) end
    return x < 0 and 0 or x > 1 and 1 or x
  end
  local function value (x)
    if x < 0.5 then return lo + (threshold - lo) * x / 0.5 end
    return threshold + (hi - threshold) * (x - 0.5) / 0.5
  end
  local function colour (b)
    local x = (b + 0.5) / levels
    if x < 0.5 then return svg.mix("#ffffff", neg, (0.5 - x) * 2 * 0.65) end
    return svg.mix("#ffffff", pos, (x - 0.5) * 2 * 0.65)
  end
  return t, value, colour
end

-- The region where field >= 0 over the grid's nodes (an array, as contour's), as the d of
-- a path to fill with the even-odd rule; node(i, j) maps node coordinates to pixels
local function region (field, nx, ny, node)
  local d = {}
  for _, loop in ipairs(contour.regions(field, nx, ny)) do
    local run = {}
    for n, p in ipairs(loop) do run[n] = node(p[1], p[2]) end
    d[#d + 1] = svg.path({ run }) .. " Z"
  end
  return table.concat(d, " ")
end

-- Fills the map: a rectangle of colour base over box, then each region (a path's d) with
-- its colour, in order; an outline of the same colour covers the seams between neighbours
local function fill (page, box, base, regions)
  page:add('<g class="map" clip-path="url(#plot-area)" fill-rule="evenodd" stroke-width="1" '
           .. 'stroke-linejoin="round">')
  page:add(format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>', svg.num(box.x),
                  svg.num(box.y), svg.num(box.w), svg.num(box.h), base))
  for _, r in ipairs(regions) do
    if r.d ~= "" then
      page:add(format('<path fill="%s" stroke="%s" d="%s"/>', r.colour, r.colour, r.d))
    end
  end
  page:add("</g>")
end

-- A vertical colour bar at x beside box: the levels bands over [lo, hi] (value(t) the value
-- at t, colour(b) band b's colour), a mark at the threshold, ticks, and label
local function colorbar (page, x, box, lo, threshold, hi, levels, value, colour, label)
  local ax = svg.linear(lo, hi, box.h, { gap = 45 })
  local function Y (v) return box.y + box.h - ax:at(v) * box.h end
  page:add('<g class="colorbar" shape-rendering="crispEdges">')
  for b = 0, levels - 1 do
    local top, bottom = Y(value((b + 1) / levels)), Y(value(b / levels))
    page:add(format('<rect x="%s" y="%s" width="14" height="%s" fill="%s"/>', svg.num(x),
                    svg.num(top), svg.num(bottom - top), colour(b)))
  end
  page:add(format('<rect x="%s" y="%s" width="14" height="%s" fill="none" stroke="#404040" '
                  .. 'stroke-width="1"/>', svg.num(x), svg.num(box.y), svg.num(box.h)))
  page:add("</g>")
  page:add(format('<path class="threshold" d="M%s %s L%s %s" stroke="#262626" '
                  .. 'stroke-width="2"/>', svg.num(x - 3), svg.num(Y(threshold)),
                  svg.num(x + 17), svg.num(Y(threshold))))
  local widest, d = 0, {}
  page:add('<g class="colorbar-labels" fill="#262626">')
  for _, t in ipairs(ax.ticks) do
    d[#d + 1] = format("M%s %s L%s %s", svg.num(x + 14), svg.num(Y(t[1])), svg.num(x + 18),
                       svg.num(Y(t[1])))
    page:text(x + 21, Y(t[1]) + svg.SIZE * 0.35, t[2], "")
    widest = math.max(widest, svg.width(t[2]))
  end
  page:add("</g>")
  page:add('<path class="colorbar-ticks" fill="none" stroke="#404040" stroke-width="1" d="' ..
           table.concat(d, " ") .. '"/>')
  local lx, ly = x + 21 + widest + 14, box.y + box.h / 2
  page:text(lx, ly, label, format('class="clabel" text-anchor="middle" font-size="13" '
            .. 'transform="rotate(-90 %s %s)"', svg.num(lx), svg.num(ly)))
end

-- The labels' classes of a binary map: label -> 1 (below the threshold) or 2; the larger of
-- two labels is 2, and a single label is 2 when it is positive
local function binaryclasses (ys)
  local distinct, list = {}, {}
  for _, l in ipairs(ys) do
    if not distinct[l] then distinct[l] = true; list[#list + 1] = l end
  end
  table.sort(list)
  if #list > 2 then
    error(format("luagrad.%s: y has %d classes, but f returned one value per point (for more "
                 .. "than two classes, return one score per class)", BOUNDARY, #list), 4)
  end
  if #list == 2 then return { [list[1]] = 1, [list[2]] = 2 } end
  return { [list[1]] = list[1] > 0 and 2 or 1 }
end

-- The labels' classes of a map of C classes: each label is its own class, 1 to C
local function manyclasses (ys, classes)
  local of = {}
  for i, l in ipairs(ys) do
    if l ~= math.floor(l) or l < 1 or l > classes then
      error(format("luagrad.%s: label %s at index %d is not a class (1 to %d expected, as f "
                   .. "returned %d scores per point)", BOUNDARY, shown(l), i, classes,
                   classes), 4)
    end
    of[l] = l
  end
  return of
end

-- The map of one score per point: shaded bands, the colour bar; returns the boundary lines
local function binarymap (page, m, opts)
  local threshold, levels = opts.threshold or 0.5, math.floor(opts.levels or 10)
  local lo, hi, label = 0, 1, opts.clabel
  for k, v in ipairs(m.scores) do
    notnan(v, k, m.grid)
    if v < 0 or v > 1 then lo = nil end
  end
  if lo == nil then   -- scores, not probabilities: symmetric about the threshold
    local most = 0
    for _, v in ipairs(m.scores) do
      if finite(v) then most = math.max(most, math.abs(v - threshold)) end
    end
    if most == 0 then most = 1 end
    lo, hi, label = threshold - most, threshold + most, label or "score"
  end
  if threshold <= lo or threshold >= hi then
    error(format("luagrad.%s: bad option 'threshold' (a number between %s and %s expected, "
                 .. "got %s)", BOUNDARY, shown(lo), shown(hi),
                 shown(threshold)), 3)
  end
  label = label or "probability of " .. m.names[2]
  local t, value, colour = shading(lo, threshold, hi, levels, m.colour(1), m.colour(2))
  local at, regions = {}, {}
  for k, v in ipairs(m.scores) do at[k] = t(v) end
  for b = 1, levels - 1 do   -- band b and above, over the bands below it
    local above = {}
    for k, x in ipairs(at) do above[k] = x - b / levels end
    regions[b] = { colour = colour(b), d = region(above, m.nx, m.ny, m.node) }
  end
  fill(page, m.box, colour(0), regions)
  if opts.colorbar ~= false then
    colorbar(page, m.box.x + m.box.w + 22, m.box, lo, threshold, hi, levels, value, colour, label)
  end
  local field = {}
  for k, v in ipairs(m.scores) do field[k] = math.max(-1e300, math.min(1e300, v - threshold)) end
  return contour.lines(field, m.nx, m.ny)
end

-- The map of one score per class: each class's region in its colour, lightened; returns
-- the boundary lines (where a class's score meets the best of the others)
local function classmap (page, m, classes)
  local margins = {}   -- margins[c][k]: class c's score at node k less the best other one
  for c = 1, classes do margins[c] = {} end
  for k, s in ipairs(m.scores) do
    for c = 1, classes do
      notnan(s[c], k, m.grid)
      local other = -1 / 0
      for d = 1, classes do if d ~= c and s[d] > other then other = s[d] end end
      margins[c][k] = math.max(-1e300, math.min(1e300, s[c] - other))
    end
  end
  local function colour (c) return svg.mix("#ffffff", m.colour(c), 0.35) end
  local regions, lines = {}, {}
  for c = 2, classes do   -- class 1 is the ground the others are drawn on
    regions[c - 1] = { colour = colour(c), d = region(margins[c], m.nx, m.ny, m.node) }
  end
  fill(page, m.box, colour(1), regions)
  for c = 1, classes do
    for _, line in ipairs(contour.lines(margins[c], m.nx, m.ny)) do lines[#lines + 1] = line end
  end
  return lines
end

local BOUNDARY_OPTS = {
  title = STRING, xlabel = STRING, ylabel = STRING, clabel = STRING,
  width = between(200, 10000), height = between(150, 10000),
  xlim = limits, ylim = limits, margin = between(0, 10), resolution = between(8, 1000),
  levels = between(2, 100), threshold = kind("number"), colors = colors, classes = strings,
  legend = LEGEND, colorbar = BOOLEAN, input = oneof("tensor", "table"),
}

-- The range of the points' coordinate c, with margin, or lim
local function extentof (pts, c, margin, lim)
  if lim then return lim[1], lim[2] end
  local lo, hi = pts[1][c], pts[1][c]
  for _, p in ipairs(pts) do lo, hi = math.min(lo, p[c]), math.max(hi, p[c]) end
  return range(lo, hi, margin)
end

-- f at the nx x ny nodes of a grid over [xlo, xhi] x [ylo, yhi]: the grid (an array of
-- {x1, x2}, row by row from the bottom) and f's scores (and number of classes) there
local function evaluate (f, X, input, xlo, xhi, ylo, yhi, nx, ny)
  local grid = {}
  for j = 1, ny do
    for i = 1, nx do
      grid[(j - 1) * nx + i] = { xlo + (xhi - xlo) * (i - 1) / (nx - 1),
                                 ylo + (yhi - ylo) * (j - 1) / (ny - 1) }
    end
  end
  local arg = grid
  if input == "tensor" then
    arg = lg.tensor(grid, { dtype = lg.type(X) == "tensor" and X.dtype or "float64" })
  end
  local r
  if lg.no_grad then r = lg.no_grad(f, arg) else r = f(arg) end
  return grid, outputs(r, #grid)
end

--[[
lg.plot.decision_boundary(path, f, X, y [, opts]) -> svg text
The regions a 2-D classifier f gives to the plane around its data X (an N x 2 tensor or an
array of {x1, x2}), with the points of X coloured by their labels y (N numbers, or nil).
f is called once, under lg.no_grad, with the nodes of a grid over X's range (a share
opts.margin, 0.1, of it added on each side), as X came: an M x 2 tensor (of X's dtype), or
an array of {x1, x2} (opts.input says which). It returns one number per point (a tensor of
M or M x 1, or an array): a probability, or a score, whose opts.threshold (0.5) is the
boundary between the two classes; or one score per class (M x C, C >= 2): the class is the
column with the largest score, and labels are the 1-based class indices. Two classes: the
map shades from one class's colour through white at the threshold to the other's in
opts.levels (10) bands, with a colour bar; the larger of the two labels is the class above
the threshold. opts also: title, xlabel ("x1"), ylabel ("x2"), clabel, width (600), height
(480), xlim, ylim, resolution (grid nodes across, 120), colors, classes (legend names),
legend, colorbar (true).
]]
function plot.decision_boundary (path, f, X, y, opts)
  checkpath(BOUNDARY, path)
  if type(f) ~= "function" and not (getmetatable(f) and getmetatable(f).__call) then
    error(format("luagrad.%s: bad argument #2 (function expected, got %s)", BOUNDARY,
                 typename(f)), 2)
  end
  local pts = points(X)
  local ys = labels(y, #pts)
  opts = options.check(BOUNDARY, opts, BOUNDARY_OPTS, 5)
  local xlo, xhi = extentof(pts, 1, opts.margin or 0.1, opts.xlim)
  local ylo, yhi = extentof(pts, 2, opts.margin or 0.1, opts.ylim)
  local width, height = opts.width or 600, opts.height or 480
  local text = { title = opts.title, xlabel = opts.xlabel or "x1", ylabel = opts.ylabel or "x2" }
  local box, ya = layout(width, height, text, 16, function (len)
    return svg.linear(ylo, yhi, len, { gap = 50 })
  end)
  local nx = math.floor(opts.resolution or 120)
  local ny = math.max(8, math.floor(nx * box.h / (box.w - 90) + 0.5))
  local grid, scores, classes = evaluate(f, X, opts.input or lg.type(X) or "table",
                                         xlo, xhi, ylo, yhi, nx, ny)
  if classes == nil and opts.colorbar ~= false then box.w = box.w - 90 end
  local xa = svg.linear(xlo, xhi, box.w, { horizontal = true })
  local function X_ (v) return box.x + xa:at(v) * box.w end
  local function Y_ (v) return box.y + box.h - ya:at(v) * box.h end

  local palette = opts.colors or svg.PALETTE
  local classof = ys and (classes and manyclasses(ys, classes) or binaryclasses(ys)) or {}
  local names = {}
  for c = 1, classes or 2 do names[c] = opts.classes and opts.classes[c] end
  for l, c in pairs(classof) do names[c] = names[c] or "class " .. svg.fixed(l, 6) end
  for c = 1, classes or 2 do names[c] = names[c] or "class " .. c end
  local m = {
    box = box, grid = grid, scores = scores, nx = nx, ny = ny, names = names,
    colour = function (c) return palette[(c - 1) % #palette + 1] end,
    node = function (i, j)   -- node coordinates (1 to nx, 1 to ny, fractional) to pixels
      return { X_(xlo + (xhi - xlo) * (i - 1) / (nx - 1)), Y_(ylo + (yhi - ylo) * (j - 1) / (ny - 1)) }
    end,
  }
  local page = svg.page(width, height, opts.title)
  page:clip("plot-area", box)
  local lines = classes and classmap(page, m, classes) or binarymap(page, m, opts)
  for k, line in ipairs(lines) do
    for n, p in ipairs(line) do line[n] = m.node(p[1], p[2]) end
    lines[k] = line
  end
  page:add('<path class="boundary" clip-path="url(#plot-area)" fill="none" stroke="#262626" '
           .. 'stroke-width="1.5" stroke-linejoin="round" d="' .. svg.path(lines) .. '"/>')

  local r, drawn = #pts > 500 and "2.5" or "3.5", {}
  page:add('<g class="points" clip-path="url(#plot-area)" stroke="#262626" stroke-width="0.6">')
  for i, p in ipairs(pts) do
    drawn[i] = { X_(p[1]), Y_(p[2]) }
    page:add(format('<circle cx="%s" cy="%s" r="%s" fill="%s"/>', svg.num(drawn[i][1]),
                    svg.num(drawn[i][2]), r, ys and m.colour(classof[ys[i]]) or "#808080"))
  end
  page:add("</g>")
  page:frame(box, xa, ya, text)
  if ys and opts.legend ~= false then
    local entries, present = {}, {}
    for _, c in pairs(classof) do present[c] = true end
    for c = 1, classes or 2 do
      if present[c] then
        entries[#entries + 1] = { label = names[c], color = m.colour(c), kind = "point" }
      end
    end
    local w, h = svg.legendsize(entries)
    local where = opts.legend
    if where == nil or where == true or where == "best" then where = bestcorner(box, w, h, drawn) end
    local c = svg.corners(box, w, h)[where]
    page:legend(c[1], c[2], entries)
  end
  return save(BOUNDARY, path, page:finish())
end

-- }==================================================================

lg.plot = plot
return plot
