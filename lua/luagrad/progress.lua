-- luagrad.progress: a progress line for training loops, in one call.
--   local p = lg.progress{total = steps}
--   for step = 1, steps do ... p:update(step, {loss = loss}) end
--   p:done()
-- On a terminal it redraws one line in place (with \r): epoch, a bar, step, metrics, rate,
-- time elapsed and left. Elsewhere (a log file, a pipe, CI) it prints plain lines, a tenth
-- of the way apart. Every input is injectable (out, tty, clock), so the output of a run can
-- be checked byte for byte.
--
-- Loading touches only the base library (see init.lua): string, table, io and os are looked
-- up when a progress line is made.
local _, core, loadpart = ...
if type(core) ~= "table" then core = require("luagrad.core") end
local lg = core
if type(lg.progress) == "function" then return lg.progress end   -- one per state, however loaded
local options = loadpart and loadpart("luagrad.options") or require("luagrad.options")
local error, ipairs, pairs, select, setmetatable, tostring, type =
      error, ipairs, pairs, select, setmetatable, tostring, type

local FN = "progress"

local function format (...) return string.format(...) end

local function typename (x) return lg.type(x) or type(x) end

local function finite (x) return x == x and x ~= 1 / 0 and x ~= -1 / 0 end

local Progress = {}
Progress.__index = Progress

-- {==================================================================
-- Formatting
-- ===================================================================

-- A metric: four significant digits, exponents short ("1.23e-5"), the same in every locale
local function metric (x)
  if x ~= x then return "nan" end
  if x == 1 / 0 then return "inf" elseif x == -1 / 0 then return "-inf" end
  local s = format("%.4g", x):gsub(",", ".")
  local m, e = s:match("^(.-)e(.*)$")
  if m then s = m .. "e" .. tostring(tonumber(e)) end
  return s
end

-- Seconds as m:ss, or h:mm:ss from an hour on
local function clocktime (t)
  t = math.floor(t + 0.5)
  local h, m, s = math.floor(t / 3600), math.floor(t / 60) % 60, t % 60
  if h > 0 then return format("%d:%02d:%02d", h, m, s) end
  return format("%d:%02d", m, s)
end

-- Steps a second: "32.1 steps/s"; below one a second, the time a step: "2.50 s/step",
-- and from a minute on "1:02:03/step"
local function rate (steps, seconds)
  local r = steps / seconds
  if r >= 100 then return format("%.0f steps/s", r) end
  if r >= 10 then return (format("%.1f steps/s", r):gsub(",", ".")) end
  if r >= 1 then return (format("%.2f steps/s", r):gsub(",", ".")) end
  if seconds / steps >= 59.5 then return clocktime(seconds / steps) .. "/step" end
  return (format("%.2f s/step", seconds / steps):gsub(",", "."))
end

-- The fields of the line at the last update, now, in order; final: no time left. compact
-- (a terminal's line): "46/50" for "step 46/50", and "0:01<0:03" for the times, as tqdm's
local function fields (self, now, final, compact)
  local out, total, step = {}, self.total, self.step
  if self.desc then out[#out + 1] = self.desc end
  if self.epochs and total then
    local e = math.floor((math.max(step, 1) - 1) * self.epochs / total) + 1
    out[#out + 1] = format("epoch %d/%d", math.min(e, self.epochs), self.epochs)
  end
  local counter = total and format("%" .. #format("%d", total) .. "d/%d", step, total)
                  or format("%d", step)
  out[#out + 1] = compact and counter or "step " .. counter
  if total then
    out[#out + 1] = format("%3d%%", math.floor(100 * math.min(step, total) / total))
  end
  for _, name in ipairs(self.names) do
    out[#out + 1] = name .. " " .. metric(self.metrics[name])
  end
  local elapsed = math.max(0, now - self.start)   -- a clock set back reads as no time
  if elapsed > 0 and step > 0 then out[#out + 1], out.rate = rate(step, elapsed), true end
  local left = total and not final and elapsed > 0 and step > 0 and step < total and
               clocktime((total - step) * elapsed / step)
  out.left = left and true
  if compact then
    out[#out + 1] = clocktime(elapsed) .. (left and "<" .. left or "")
  else
    out[#out + 1] = clocktime(elapsed) .. " elapsed"
    if left then out[#out + 1] = left .. " left" end
  end
  return out
end

-- The bar of a terminal line: width characters, [=====>    ]
local function bar (fraction, width)
  local inner = width - 2
  local full = math.floor(fraction * inner + 1e-9)
  if full >= inner then return "[" .. string.rep("=", inner) .. "]" end
  return "[" .. string.rep("=", full) .. ">" .. string.rep(" ", inner - full - 1) .. "]"
end

-- s cut to at most n bytes, never inside a UTF-8 character
local function cut (s, n)
  if #s <= n then return s end
  while n > 0 and s:byte(n + 1) and s:byte(n + 1) >= 0x80 and s:byte(n + 1) < 0xC0 do
    n = n - 1
  end
  return s:sub(1, n)
end

-- The line for the terminal: the fields, with a bar before the step, all within width.
-- The bar's width is set at the first line, up to 32 characters and leaving room for what
-- may grow later (each metric's digits, the rate and the time left if not there yet), and
-- only shrinks after; below 10 there is no bar, then or later. So the bar stays put, or
-- never shows.
local function ttyline (self, f)
  local line = table.concat(f, "  ")
  local room = self.width - 1 - #line - 2
  if self.barwidth == nil then
    local growth = 6 * #self.names + (f.rate and 0 or 14) + (f.left and 0 or 6)
    self.barwidth = math.min(32, room - growth)
  end
  self.barwidth = math.min(self.barwidth, room)
  if self.barwidth < 10 then self.barwidth = 0 end
  if self.total and self.barwidth > 0 then
    local at = 1 + (self.desc and 1 or 0) + (self.epochs and 1 or 0)   -- before the step
    table.insert(f, at, bar(math.min(self.step, self.total) / self.total, self.barwidth))
    line = table.concat(f, "  ")
  end
  return cut(line, self.width - 1)
end

-- }==================================================================


-- {==================================================================
-- Output
-- ===================================================================

local function write (self, s)
  self.out:write(s)
  if self.out.flush then self.out:flush() end
end

-- Draws the line for now: in place on a terminal, else as a line of its own
local function draw (self, now, final)
  local f = fields(self, now, final, self.tty)
  if self.tty then
    local line = ttyline(self, f)
    local pad = self.shown and #self.shown > #line and string.rep(" ", #self.shown - #line) or ""
    write(self, "\r" .. line .. pad)
    self.shown = line
  else
    write(self, table.concat(f, "  ") .. "\n")
  end
  self.drawn, self.drawnstep = now, self.step
end

-- }==================================================================


-- {==================================================================
-- The object
-- ===================================================================

local function positive (v) return type(v) == "number" and v > 0 and finite(v), "a positive number" end
local function count (v)
  return type(v) == "number" and v >= 1 and v == math.floor(v) and finite(v), "a positive integer"
end
local function writer (v)
  local ok = (type(v) == "userdata" or type(v) == "table") and lg.type(v) == nil and
             type(v.write) == "function"
  return ok, "a file or an object with a write method"
end

local OPTS = {
  total = count, epochs = count, desc = options.STRING, every = count, interval = positive,
  out = writer, tty = options.BOOLEAN, clock = options.FUNCTION, width = options.between(20, 1000),
}

-- Whether out is a terminal, as TERM and the file say (never a dumb terminal or an object),
-- and its width if the system tells it
local function isatty (out)
  local term = os and os.getenv and os.getenv("TERM")
  if term == "dumb" or not lg._isatty then return false end
  return lg._isatty(out)
end

--[[
lg.progress([opts]) -> a progress line, whose clock starts now
opts: total (steps in all: the percentage, the bar and the time left), epochs (with total:
the epoch of each step, as total / epochs steps each), desc (a word first on the line),
out (io.stdout; a file, or any object with a write method), tty (whether out is a
terminal: by default, what the system says of a file, never of an object), every (plain
lines: every so many steps; by default a tenth of total), interval (seconds between
redraws on a terminal, 0.1; plain lines without total or every: seconds between lines, 10),
width (a terminal line's most characters: the terminal's width, or $COLUMNS, or 80), clock (a function returning
seconds; by default a monotonic wall clock).
]]
local function progress (opts)
  if opts ~= nil and (type(opts) ~= "table" or lg.type(opts)) then
    error(format("luagrad.%s: bad argument #1 (table or nil expected, got %s)", FN,
                 typename(opts)), 2)
  end
  opts = options.check(FN, opts, OPTS, 1)
  local out = opts.out
  if out == nil then
    out = io and io.stdout
    if out == nil then
      error(format("luagrad.%s: no io.stdout to write to (give opts.out)", FN), 2)
    end
  end
  local tty, columns = opts.tty, nil
  if tty == nil then tty, columns = isatty(out) end
  local clock = opts.clock or lg._clock or (os and os.clock)
  local self = setmetatable({
    total = opts.total, epochs = opts.epochs, desc = opts.desc, out = out, tty = tty,
    clock = clock, every = opts.every, step = 0, metrics = {}, names = {},
    width = opts.width or columns or tonumber(os and os.getenv and os.getenv("COLUMNS") or "")
            or 80,
  }, Progress)
  if self.every == nil and not tty and self.total then
    self.every = math.max(1, math.ceil(self.total / 10))
  end
  self.interval = opts.interval or (tty and 0.1 or 10)
  self.start = clock()
  if type(self.start) ~= "number" then
    error(format("luagrad.%s: bad option 'clock' (a function returning seconds expected, "
                 .. "got one returning %s)", FN, typename(self.start)), 2)
  end
  return self
end

-- The metrics given to update or done: a table of name -> number or Value, or one number or
-- Value (the loss); fills self.metrics and the sorted names
local function setmetrics (self, fn, m)
  if m == nil then return end
  if type(m) == "number" or lg.type(m) == "value" then m = { loss = m } end
  if type(m) ~= "table" or lg.type(m) then
    error(format("luagrad.%s: bad argument #2 (table, number or value expected, got %s)", fn,
                 typename(m)), 3)
  end
  local values, names = {}, {}
  for k, v in pairs(m) do
    if type(k) ~= "string" then
      error(format("luagrad.%s: bad argument #2 (metric names must be strings, got a %s)", fn,
                   type(k)), 3)
    end
    local x = type(v) == "number" and v or lg.type(v) == "value" and v.data or nil
    if x == nil then
      error(format("luagrad.%s: bad metric '%s' (number or value expected, got %s)", fn, k,
                   typename(v)), 3)
    end
    values[k], names[#names + 1] = x, k
  end
  table.sort(names, function (a, b)   -- loss first, then by name
    if a == "loss" or b == "loss" then return a == "loss" and b ~= "loss" end
    return a < b
  end)
  self.metrics, self.names = values, names
end

local function checkopen (self, fn)
  if getmetatable(self) ~= Progress then
    error(format("luagrad.%s: bad self (a progress line expected, got %s)", fn,
                 typename(self)), 3)
  end
  if self.finished then error(format("luagrad.%s: the progress line is done", fn), 3) end
end

--[[
p:update(step [, metrics]): step is the number of steps done (from 1; 0 before the first),
metrics a table of name -> number or Value (shown sorted by name), or one number or Value
shown as loss. Draws on a terminal at most every interval seconds (and at the last step);
elsewhere prints a line each `every` steps.
]]
function Progress:update (step, metrics)
  local fn = FN .. ":update"
  checkopen(self, fn)
  if type(step) ~= "number" or not finite(step) or step < 0 or step ~= math.floor(step) then
    error(format("luagrad.%s: bad argument #1 (a whole number of steps >= 0 expected, got %s)",
                 fn, options.shown(step)), 2)
  end
  setmetrics(self, fn, metrics)
  self.step = step
  local now = self.clock()
  if self.tty then
    if self.drawn == nil or now - self.drawn >= self.interval or
       (self.total and step >= self.total) then draw(self, now) end
  elseif self.every then
    if step - (self.drawnstep or 0) >= self.every then draw(self, now) end
  elseif now - (self.drawn or self.start) >= self.interval then
    draw(self, now)
  end
end

--[[
p:print(...): prints its arguments as print does (tostring, tabs, a newline) without
breaking the line: on a terminal above it, which is then drawn again.
]]
function Progress:print (...)
  checkopen(self, FN .. ":print")
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  local text = table.concat(parts, "\t")
  if self.tty and self.shown then
    write(self, "\r" .. string.rep(" ", #self.shown) .. "\r" .. text .. "\n" .. self.shown)
  else
    write(self, text .. "\n")
  end
end

--[[
p:done([metrics]): the last line, with the time taken and no time left: on a terminal
drawn once more and ended; elsewhere printed unless update has just printed this step.
Returns the seconds since lg.progress.
]]
function Progress:done (metrics)
  local fn = FN .. ":done"
  checkopen(self, fn)
  setmetrics(self, fn, metrics)
  local now = self.clock()
  if self.tty then
    draw(self, now, true)
    write(self, "\n")
  elseif metrics ~= nil or self.drawnstep ~= self.step or self.drawn == nil then
    draw(self, now, true)
  end
  self.finished = true
  return now - self.start
end

-- }==================================================================

lg.progress = progress
return progress
