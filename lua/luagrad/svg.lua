-- luagrad.svg: what the plots of luagrad.plot draw with. An SVG 1.1 page built as text,
-- numbers written alike on every Lua and in every locale, text escaped (and made valid
-- UTF-8), colours, axes with round tick values (linear or logarithmic) and legends.
-- Internal to plot.lua: these names may change.
--
-- Loading touches only the base library (see init.lua): string, math and table are looked
-- up when a page is drawn.
local setmetatable, tonumber = setmetatable, tonumber

local svg = {}

svg.FONT = "'DejaVu Sans', Verdana, Arial, sans-serif"
svg.SIZE = 12   -- the font size of tick labels and legends; titles are larger
-- matplotlib's "tab10" colours, in its order: what most readers know a second line by
svg.PALETTE = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf" }
local MINUS = "\226\136\146"   -- U+2212, the typographic minus of tick labels

-- {==================================================================
-- Numbers and text
-- ===================================================================

-- x with at most `decimals` (2) decimals and no trailing zeros: "12.5", "3", "-0.25". The
-- same bytes in every locale: a decimal comma (LC_NUMERIC set by a host) becomes a point.
local function fixed (x, decimals)
  local s = string.format("%." .. (decimals or 2) .. "f", x)
  if s:find(",", 1, true) then s = s:gsub(",", ".") end
  if s:find(".", 1, true) then s = s:gsub("0+$", ""):gsub("%.$", "") end
  if s == "-0" then s = "0" end
  return s
end
svg.fixed = fixed

function svg.num (x) return fixed(x, 2) end

-- The length in bytes of the valid UTF-8 sequence at s[i] (XML's characters only), or nil.
local function utf8len (s, i)
  local c = s:byte(i)
  if c < 0x80 then   -- ASCII: XML 1.0 allows tab, line feed, carriage return, and >= space
    return (c >= 0x20 or c == 9 or c == 10 or c == 13) and 1 or nil
  end
  local lo, hi = 0x80, 0xBF   -- the range of the second byte
  local n
  if c >= 0xC2 and c <= 0xDF then n = 2
  elseif c >= 0xE0 and c <= 0xEF then
    n = 3
    if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end   -- overlong, surrogate
  elseif c >= 0xF0 and c <= 0xF4 then
    n = 4
    if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end   -- overlong, > U+10FFFF
  else return nil end
  for k = 1, n - 1 do
    local d = s:byte(i + k)
    if d == nil or d < (k == 1 and lo or 0x80) or d > (k == 1 and hi or 0xBF) then return nil end
  end
  if c == 0xEF and s:byte(i + 1) == 0xBF and s:byte(i + 2) >= 0xBE then return nil end  -- U+FFFE/F
  return n
end

-- s as valid UTF-8 with XML's characters only: any other byte becomes U+FFFD
local function clean (s)
  if not s:find("[^ -~]") then return s end   -- printable ASCII: nothing to do
  local out, i = {}, 1
  while i <= #s do
    local n = utf8len(s, i)
    out[#out + 1] = n and s:sub(i, i + n - 1) or "\239\191\189"
    i = i + (n or 1)
  end
  return table.concat(out)
end

local ENTITIES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;",
                   ["'"] = "&apos;" }

-- s as the text of an element or the value of an attribute
function svg.escape (s)
  return (clean(s):gsub("[&<>\"']", ENTITIES))
end

-- The width in pixels of s in the page's font at size (an estimate: DejaVu Sans averages
-- 0.6 em a character, and no font metrics are at hand)
function svg.width (s, size)
  local chars = #s:gsub("[\128-\191]", "")   -- characters, not bytes
  return chars * 0.6 * (size or svg.SIZE)
end

-- }==================================================================


-- {==================================================================
-- Colours
-- ===================================================================

local function rgb (c)
  return tonumber(c:sub(2, 3), 16), tonumber(c:sub(4, 5), 16), tonumber(c:sub(6, 7), 16)
end

-- The colour t of the way from a to b (both "#rrggbb"), t in [0, 1]
function svg.mix (a, b, t)
  local r1, g1, b1 = rgb(a)
  local r2, g2, b2 = rgb(b)
  local function at (x, y) return math.floor(x + (y - x) * t + 0.5) end
  return string.format("#%02x%02x%02x", at(r1, r2), at(g1, g2), at(b1, b2))
end

-- Whether c is a colour this module can write and mix: "#rrggbb"
function svg.iscolor (c)
  return type(c) == "string" and c:find("^#%x%x%x%x%x%x$") ~= nil
end

-- }==================================================================


-- {==================================================================
-- Ticks: round values, about one per gap pixels, labels that do not collide
-- ===================================================================

local function log10 (x) return math.log(x) / math.log(10) end

-- The smallest of 1, 2 or 5 times a power of ten that is >= raw > 0: (mantissa, exponent)
local function nice (raw)
  local k = math.floor(log10(raw))
  while 10 ^ (k + 1) <= raw do k = k + 1 end   -- log10's rounding, both ways
  while 10 ^ k > raw do k = k - 1 end
  local m = raw / 10 ^ k
  if m <= 1 then return 1, k elseif m <= 2 then return 2, k elseif m <= 5 then return 5, k end
  return 1, k + 1
end

-- i * m * 10^k, the nearest double (dividing by an exact power of ten rounds once)
local function multiple (i, m, k)
  if k >= 0 then return i * m * 10 ^ k end
  return i * m / 10 ^ -k
end

-- "−" for "-": a tick label's minus
local function minus (s)
  return (s:gsub("^%-", MINUS))
end

-- The shortest exponent form of v that reads back within tol: "2.5e6", "1e-7"
local function scientific (v, tol)
  local s
  for digits = 0, 16 do
    s = string.format("%." .. digits .. "e", v)
    if s:find(",", 1, true) then s = s:gsub(",", ".") end
    if math.abs(tonumber(s) - v) <= tol then break end
  end
  local mantissa, e = s:match("^(.-)e(.*)$")
  return mantissa .. "e" .. tonumber(e)
end

-- The label of tick v on an axis whose ticks are m * 10^k apart
function svg.label (v, k, largest)
  if v == 0 then return "0" end
  largest = largest or math.abs(v)
  if largest >= 1e6 or k < -5 then return minus(scientific(v, 10 ^ k * 1e-3)) end
  return minus(fixed(v, k < 0 and -k or 0))
end

-- The linear ticks of [lo, hi] for a step of m * 10^k: { {value, label}, ... }
local function linticks (lo, hi, m, k)
  local step = multiple(1, m, k)
  local first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
  local ticks, largest = {}, math.max(math.abs(lo), math.abs(hi))
  for i = first, last do
    local v = multiple(i, m, k)
    ticks[#ticks + 1] = { v, svg.label(v, k, largest) }
  end
  return ticks
end

-- Whether labels of these ticks fit an axis len pixels long: along it (horizontal, each
-- label's width) or across (vertical, one line of text)
local function fits (ticks, lo, hi, len, horizontal)
  for i = 2, #ticks do
    local gap = (ticks[i][1] - ticks[i - 1][1]) / (hi - lo) * len
    local need = horizontal and (svg.width(ticks[i][2]) + svg.width(ticks[i - 1][2])) / 2 + 12
                 or svg.SIZE * 1.6
    if gap < need then return false end
  end
  return true
end

local Axis = {}
Axis.__index = Axis

-- Where v falls on the axis: 0 at lo, 1 at hi
function Axis:at (v)
  if self.log then return (log10(v) - log10(self.lo)) / (log10(self.hi) - log10(self.lo)) end
  return (v - self.lo) / (self.hi - self.lo)
end

--[[
svg.linear(lo, hi, len, opts) -> axis: a linear axis over [lo, hi] (lo < hi) len pixels long,
with ticks at round values about opts.gap (80) pixels apart whose labels do not collide
(opts.horizontal: labels side by side). opts.integer: steps of at least 1.
]]
function svg.linear (lo, hi, len, opts)
  local m, k = nice((hi - lo) / math.max(1, math.floor(len / (opts.gap or 80))))
  if opts.integer and k < 0 then m, k = 1, 0 end
  local ticks = linticks(lo, hi, m, k)
  while not fits(ticks, lo, hi, len, opts.horizontal) do
    m, k = nice(multiple(1, m, k) * 1.01)
    ticks = linticks(lo, hi, m, k)
  end
  while #ticks < 3 do   -- a short axis: smaller steps while their labels still fit
    local m2, k2 = m == 5 and 2 or m == 2 and 1 or 5, m == 1 and k - 1 or k
    if opts.integer and k2 < 0 then break end
    local finer = linticks(lo, hi, m2, k2)
    if not fits(finer, lo, hi, len, opts.horizontal) then break end
    m, k, ticks = m2, k2, finer
  end
  return setmetatable({ lo = lo, hi = hi, ticks = ticks, minor = {} }, Axis)
end

-- The label of 10^k: plain digits between 0.0001 and 100000, else with a superscript
local SUPERSCRIPT = { ["0"] = "⁰", ["1"] = "¹", ["2"] = "²", ["3"] = "³", ["4"] = "⁴",
                      ["5"] = "⁵", ["6"] = "⁶", ["7"] = "⁷", ["8"] = "⁸", ["9"] = "⁹",
                      ["-"] = "⁻" }
local function decade (k, plain)
  if plain then return fixed(10 ^ k, k < 0 and -k or 0) end
  return "10" .. string.format("%d", k):gsub(".", SUPERSCRIPT)
end

-- The ticks at j * 10^k in [lo, hi] for the integers k in [a, b] (logarithms of the ends):
-- labelled for j = 1 every s-th k, and for j in labelled (2, 5 when decades are few);
-- unlabelled minor ticks at the other j from 2 to 9 when s is 1
local function decades (a, b, s, lo, hi, labelled)
  local ticks, minor = {}, {}
  local first, last = math.ceil(a - 1e-9), math.floor(b + 1e-9)
  local plain = first >= -4 and last <= 5
  for k = math.floor(a), last do
    if k >= first and k % s == 0 then ticks[#ticks + 1] = { 10 ^ k, decade(k, plain) } end
    for j = 2, s == 1 and 9 or 1 do
      local v = j * 10 ^ k
      if v >= lo and v <= hi then
        if labelled[j] then ticks[#ticks + 1] = { v, svg.label(v, k, hi) }
        else minor[#minor + 1] = v end
      end
    end
  end
  return ticks, minor
end

--[[
svg.logarithmic(lo, hi, len, opts) -> axis: a logarithmic axis over [lo, hi] (0 < lo < hi).
Ticks at the powers of ten (every 2nd, 5th ... when they crowd), with 2..9 between them;
over less than two decades, at 1, 2 and 5 times them, or else at round linear values.
]]
function svg.logarithmic (lo, hi, len, opts)
  local a, b = log10(lo), log10(hi)
  local axis = setmetatable({ lo = lo, hi = hi, log = true }, Axis)
  local ndecades = math.floor(b + 1e-9) - math.ceil(a - 1e-9) + 1
  if ndecades >= 2 then
    local most = math.max(2, math.floor(len / math.max(opts.gap or 80, svg.SIZE * 1.6)))
    local s = 1
    while ndecades / s > most do
      local m, k = nice(s * 1.01)
      s = multiple(1, m, k)
    end
    local labelled = {}
    if s == 1 and ndecades <= 3 and len / (b - a) >= 6 * svg.SIZE then
      labelled = { [2] = true, [5] = true }   -- few decades: 2 and 5 times them too
    end
    axis.ticks, axis.minor = decades(a, b, s, lo, hi, labelled)
    table.sort(axis.ticks, function (p, q) return p[1] < q[1] end)
    return axis
  end
  local ticks = {}   -- 1, 2, 5 times the powers of ten inside
  for k = math.floor(a), math.ceil(b) do
    for _, j in ipairs({ 1, 2, 5 }) do
      local v = j * 10 ^ k
      if v >= lo * (1 - 1e-12) and v <= hi * (1 + 1e-12) then
        ticks[#ticks + 1] = { v, svg.label(v, k, hi) }
      end
    end
  end
  if #ticks >= 3 then
    axis.ticks, axis.minor = ticks, {}
    return axis
  end
  local linear = svg.linear(lo, hi, len, opts)   -- a narrow range: round values, spaced
  axis.ticks, axis.minor = linear.ticks, {}     -- as a log scale spaces them
  return axis
end

-- }==================================================================


-- {==================================================================
-- The page
-- ===================================================================

local Page = {}
Page.__index = Page

--[[
svg.page(width, height [, title]) -> page: a white page of width x height pixels; title
becomes its <title> (what a browser tab or a screen reader shows). page:add(text) appends
markup, page:finish() closes it and returns the SVG text.
]]
function svg.page (width, height, title)
  local p = setmetatable({ width = width, height = height, n = 0 }, Page)
  p:add('<?xml version="1.0" encoding="UTF-8" standalone="no"?>')
  p:add(string.format('<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%s" '
                      .. 'height="%s" viewBox="0 0 %s %s" font-family="%s" font-size="%s">',
                      fixed(width), fixed(height), fixed(width), fixed(height),
                      svg.escape(svg.FONT), fixed(svg.SIZE)))
  if title then p:add("<title>" .. svg.escape(title) .. "</title>") end
  p:add(string.format('<rect width="%s" height="%s" fill="#ffffff"/>', fixed(width),
                      fixed(height)))
  return p
end

function Page:add (text)
  self.n = self.n + 1
  self[self.n] = text
end

function Page:finish ()
  self:add("</svg>")
  return table.concat(self, "\n", 1, self.n) .. "\n"
end

-- <text> at (x, y) (the baseline), with attributes attrs (a string, "" for none)
function Page:text (x, y, s, attrs)
  self:add(string.format('<text x="%s" y="%s"%s>%s</text>', fixed(x), fixed(y),
                         attrs ~= "" and " " .. attrs or "", svg.escape(s)))
end

-- A clip path named id: the rectangle of box, which the marks of a plot stay inside
function Page:clip (id, box)
  self:add(string.format('<defs><clipPath id="%s"><rect x="%s" y="%s" width="%s" height="%s"/>'
                         .. '</clipPath></defs>', id, fixed(box.x), fixed(box.y),
                         fixed(box.w), fixed(box.h)))
end

-- The d attribute of a path through runs of points: runs = { {{x, y}, ...}, ... } (pixels),
-- one line per run (a run of one point draws nothing)
function svg.path (runs)
  local d = {}
  for _, run in ipairs(runs) do
    for i, p in ipairs(run) do
      d[#d + 1] = (i == 1 and "M" or "L") .. fixed(p[1]) .. " " .. fixed(p[2])
    end
  end
  return table.concat(d, " ")
end

-- The pixel position of v on axis xa across box, and on axis ya up box
local function at (box, xa, ya)
  return function (v) return box.x + xa:at(v) * box.w end,
         function (v) return box.y + box.h - ya:at(v) * box.h end
end

local function segment (set, ax, ay, bx, by)
  set[#set + 1] = "M" .. fixed(ax) .. " " .. fixed(ay) .. " L" .. fixed(bx) .. " " .. fixed(by)
end

-- page:grid(box, xaxis, yaxis): light lines across the plot area box = {x, y, w, h}
-- (pixels) at the major ticks, drawn first, under the marks of the plot
function Page:grid (box, xa, ya)
  local X, Y = at(box, xa, ya)
  local d = {}
  for _, t in ipairs(xa.ticks) do segment(d, X(t[1]), box.y, X(t[1]), box.y + box.h) end
  for _, t in ipairs(ya.ticks) do segment(d, box.x, Y(t[1]), box.x + box.w, Y(t[1])) end
  self:add('<path class="grid" fill="none" stroke="#e4e4e4" stroke-width="1" d="' ..
           table.concat(d, " ") .. '"/>')
end

-- The widest tick label of an axis, in pixels
local function widest (axis)
  local w = 0
  for _, t in ipairs(axis.ticks) do w = math.max(w, svg.width(t[2])) end
  return w
end

--[[
page:frame(box, xaxis, yaxis, labels): drawn over the marks of the plot: the frame of box,
tick marks and labels outside it, and labels.title, labels.xlabel, labels.ylabel (strings
or nil).
]]
function Page:frame (box, xa, ya, labels)
  local X, Y = at(box, xa, ya)
  local x0, y0, y1 = box.x, box.y, box.y + box.h
  local d = {}
  for _, t in ipairs(xa.ticks) do segment(d, X(t[1]), y1, X(t[1]), y1 + 5) end
  for _, t in ipairs(ya.ticks) do segment(d, x0 - 5, Y(t[1]), x0, Y(t[1])) end
  for _, v in ipairs(xa.minor) do segment(d, X(v), y1, X(v), y1 + 3) end
  for _, v in ipairs(ya.minor) do segment(d, x0 - 3, Y(v), x0, Y(v)) end
  self:add(string.format('<rect class="frame" x="%s" y="%s" width="%s" height="%s" '
                         .. 'fill="none" stroke="#404040" stroke-width="1"/>', fixed(x0),
                         fixed(y0), fixed(box.w), fixed(box.h)))
  self:add('<path class="ticks" fill="none" stroke="#404040" stroke-width="1" d="' ..
           table.concat(d, " ") .. '"/>')
  self:add('<g class="tick-labels" fill="#262626">')
  for _, t in ipairs(xa.ticks) do
    self:text(X(t[1]), y1 + 7 + svg.SIZE, t[2], 'text-anchor="middle"')
  end
  for _, t in ipairs(ya.ticks) do
    self:text(x0 - 8, Y(t[1]) + svg.SIZE * 0.35, t[2], 'text-anchor="end"')
  end
  self:add("</g>")
  if labels.xlabel then
    self:text(x0 + box.w / 2, y1 + 12 + 2.2 * svg.SIZE, labels.xlabel,
              'class="xlabel" text-anchor="middle" font-size="13"')
  end
  if labels.ylabel then
    local x, y = x0 - 8 - widest(ya) - 10, y0 + box.h / 2
    self:text(x, y, labels.ylabel, string.format('class="ylabel" text-anchor="middle" '
              .. 'font-size="13" transform="rotate(-90 %s %s)"', fixed(x), fixed(y)))
  end
  if labels.title then
    self:text(x0 + box.w / 2, y0 - 12, labels.title,
              'class="title" text-anchor="middle" font-size="15" font-weight="bold"')
  end
end

-- The space a plot needs around its area for the labels of yaxis and labels (as
-- page:frame's): left, top, bottom (pixels)
function svg.margins (yaxis, labels)
  local left = 8 + widest(yaxis) + (labels.ylabel and 10 + 13 or 0) + 8
  local top = labels.title and 38 or 14
  local bottom = 12 + svg.SIZE + (labels.xlabel and 24 or 6)
  return left, top, bottom
end

-- }==================================================================


-- {==================================================================
-- Legends
-- ===================================================================

-- The size of a legend for entries {label = s, ...}: width, height (pixels)
function svg.legendsize (entries)
  local w = 0
  for _, e in ipairs(entries) do w = math.max(w, svg.width(e.label)) end
  return 8 + 24 + 6 + w + 10, 6 + 18 * #entries + 2
end

-- Where a legend of w x h goes in box: { ["upper right"] = {x, y}, ... } (its top left)
function svg.corners (box, w, h)
  local l, r, t, b = box.x + 8, box.x + box.w - 8 - w, box.y + 8, box.y + box.h - 8 - h
  return { ["upper right"] = { r, t }, ["upper left"] = { l, t }, ["lower left"] = { l, b },
           ["lower right"] = { r, b } }
end
svg.CORNERS = { "upper right", "upper left", "lower left", "lower right" }

--[[
page:legend(x, y, entries): a legend box with its top left at (x, y); each entry
{label = s, color = c [, dash = d] [, kind = "line" | "point" | "patch"]}.
]]
function Page:legend (x, y, entries)
  local w, h = svg.legendsize(entries)
  self:add('<g class="legend">')
  self:add(string.format('<rect x="%s" y="%s" width="%s" height="%s" rx="3" fill="#ffffff" '
                         .. 'fill-opacity="0.9" stroke="#c8c8c8" stroke-width="1"/>', fixed(x),
                         fixed(y), fixed(w), fixed(h)))
  for i, e in ipairs(entries) do
    local cy = y + 6 + 18 * (i - 1) + 9
    local c = svg.escape(e.color)
    if e.kind == "point" then
      self:add(string.format('<circle cx="%s" cy="%s" r="4" fill="%s" stroke="#262626" '
                             .. 'stroke-width="0.6"/>', fixed(x + 20), fixed(cy), c))
    elseif e.kind == "patch" then
      self:add(string.format('<rect x="%s" y="%s" width="20" height="10" fill="%s" '
                             .. 'stroke="#808080" stroke-width="0.5"/>', fixed(x + 10),
                             fixed(cy - 5), c))
    else
      self:add(string.format('<path d="M%s %s L%s %s" stroke="%s" stroke-width="2"%s/>',
                             fixed(x + 8), fixed(cy), fixed(x + 32), fixed(cy), c,
                             e.dash and ' stroke-dasharray="' .. svg.escape(e.dash) .. '"' or ""))
    end
    self:text(x + 38, cy + svg.SIZE * 0.35, e.label, "")
  end
  self:add("</g>")
end

-- }==================================================================

return svg
