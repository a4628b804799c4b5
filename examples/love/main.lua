-- A LÖVE 11 toy: a small network learns to tell two spirals apart while you watch, through
-- luagrad's tensors (learner.lua). The colours are its belief, the line its decision
-- boundary, redrawn every few frames; the panel shows the loss and the accuracy as they fall
-- and rise. Left click adds an orange point, right click a blue one; space pauses, r starts
-- the weights again, c removes the points you added, Esc quits.
-- Run (from the build tree; docs/embedding.md says how to install luagrad for LÖVE):
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/luajit/?.so;;' love examples/love
-- Headless: --frames N --seed S --out DIR [--click x,y,button]... runs N frames (the clicks
-- at frame N/2), writes DIR/screenshot.png and DIR/figures.txt, and quits.
local ok, lg = pcall(require, "luagrad")
if not ok then
  error("luagrad is not installed for LÖVE's LuaJIT (" .. tostring(lg) .. ")\n" ..
        "set LUA_CPATH to the LuaJIT build (build/luajit/?.so) and LUA_PATH to lua/", 0)
end
local Learner = require("learner")

local HIDDEN, STEPS_PER_FRAME, LR, REDRAW = 24, 3, 0.01, 6
local GRID, LO, HI = 96, -1.25, 1.25
local PLOT = {x = 20, y = 20, size = 560}
local PANEL = {x = 610, y = 20, w = 330}
local BLUE, ORANGE = {0.20, 0.45, 0.85}, {0.95, 0.52, 0.12}
local PALE_BLUE, PALE_ORANGE = {0.80, 0.87, 0.97}, {0.99, 0.87, 0.74}

local opts = {frames = nil, seed = 1, out = nil, clicks = {}}
local state = {}
local fonts = {}

local function parse (args)
  local i = 1
  while i <= #args do
    local a, v = args[i], args[i + 1]
    if a == "--frames" then opts.frames = assert(tonumber(v), "--frames N")
    elseif a == "--seed" then opts.seed = assert(tonumber(v), "--seed S")
    elseif a == "--out" then opts.out = v
    elseif a == "--click" then
      local x, y, b = (v or ""):match("^(%d+),(%d+),(%d)$")
      assert(x, "--click x,y,button")
      opts.clicks[#opts.clicks + 1] = {tonumber(x), tonumber(y), tonumber(b)}
    else i = i - 1 end   -- LÖVE's own arguments pass through
    i = i + 2
  end
end

-- screen <-> plane
local function to_screen (x, y)
  local s = PLOT.size / (HI - LO)
  return PLOT.x + (x - LO) * s, PLOT.y + (HI - y) * s
end
local function to_plane (sx, sy)
  local s = (HI - LO) / PLOT.size
  return LO + (sx - PLOT.x) * s, HI - (sy - PLOT.y) * s
end

local function mix (a, b, t) return a + (b - a) * t end

-- The belief as an image (pale blue at p = 0, pale orange at p = 1, white near 0.5) and the
-- p = 0.5 contour by marching squares, as line segments in screen coordinates.
local function redraw ()
  local rows = state.learner:grid(GRID, LO, HI)
  local data = love.image.newImageData(GRID, GRID)
  for r = 1, GRID do
    for c = 1, GRID do
      local p = rows[r][c]
      local to = p > 0.5 and PALE_ORANGE or PALE_BLUE
      local t = math.min(1, math.abs(p - 0.5) * 2.5)
      data:setPixel(c - 1, r - 1, mix(1, to[1], t), mix(1, to[2], t), mix(1, to[3], t), 1)
    end
  end
  state.image = love.graphics.newImage(data)
  state.image:setFilter("linear", "linear")
  local segs, step = {}, PLOT.size / (GRID - 1)
  local function cross (r1, c1, r2, c2, out)
    local a, b = rows[r1][c1] - 0.5, rows[r2][c2] - 0.5
    if (a < 0) ~= (b < 0) then
      local t = a / (a - b)
      out[#out + 1] = PLOT.x + (mix(c1, c2, t) - 1) * step
      out[#out + 1] = PLOT.y + (mix(r1, r2, t) - 1) * step
    end
  end
  for r = 1, GRID - 1 do
    for c = 1, GRID - 1 do
      local pts = {}
      cross(r, c, r, c + 1, pts); cross(r, c + 1, r + 1, c + 1, pts)
      cross(r + 1, c + 1, r + 1, c, pts); cross(r + 1, c, r, c, pts)
      for k = 1, #pts - 3, 4 do segs[#segs + 1] = {pts[k], pts[k + 1], pts[k + 2], pts[k + 3]} end
    end
  end
  state.segments = segs
end

local function reset_weights ()
  state.learner = Learner.new(state.learner and state.learner.points or
                              Learner.spirals(100, opts.seed), HIDDEN, opts.seed)
  state.last = nil
  redraw()
end

function love.load (args)
  parse(args or {})
  fonts.title = love.graphics.newFont(22)
  fonts.body = love.graphics.newFont(15)
  fonts.small = love.graphics.newFont(12)
  state.frame, state.paused, state.base = 0, false, 200
  reset_weights()
end

-- what the headless run leaves behind: the screenshot, and the figures of its training
local function finish ()
  love.graphics.captureScreenshot(function (img)
    local h = state.learner.history
    local f = assert(io.open(opts.out .. "/screenshot.png", "wb"))
    f:write(img:encode("png"):getString()); f:close()
    f = assert(io.open(opts.out .. "/figures.txt", "w"))
    f:write(("frames %d\nsteps %d\nseed %d\npoints %d\nclicks %d\n"):format(state.frame,
      state.learner.step, opts.seed, #state.learner.points, #opts.clicks))
    f:write(("loss_first %.6g\nloss %.6g\naccuracy %.6g\n"):format(h[1].loss, h[#h].loss,
      h[#h].accuracy))
    f:write(("screenshot %dx%d\n%s\n"):format(img:getWidth(), img:getHeight(), lg._VERSION))
    f:close()
    love.event.quit(0)
  end)
end

function love.update ()
  state.frame = state.frame + 1
  if opts.frames and state.frame == math.floor(opts.frames / 2) then
    for _, c in ipairs(opts.clicks) do   -- through LÖVE's event queue, as a real click
      love.event.push("mousepressed", c[1], c[2], c[3], false, 1)
    end
  end
  if not state.paused then
    for _ = 1, STEPS_PER_FRAME do state.last = state.learner:train(LR) end
  end
  if state.frame % REDRAW == 0 then redraw() end
  if opts.frames and state.frame == opts.frames then
    redraw()
    finish()
  end
end

function love.mousepressed (sx, sy, button)
  local x, y = to_plane(sx, sy)
  if x < LO or x > HI or y < LO or y > HI or (button ~= 1 and button ~= 2) then return end
  state.learner:add_point(x, y, button == 1 and 1 or 0)
end

function love.keypressed (key)
  if key == "space" then state.paused = not state.paused
  elseif key == "r" then reset_weights()
  elseif key == "c" then
    local pts = {}
    for i = 1, state.base do pts[i] = state.learner.points[i] end
    state.learner:set_points(pts)
  elseif key == "escape" then love.event.quit() end
end

-- a curve of history[i][field] in the box, y from lo to hi (log10 when log is set)
local function curve (box, field, lo, hi, log, color)
  local h, pts = state.learner.history, {}
  local n = #h
  if n < 2 then return end
  local every = math.max(1, math.floor(n / box.w))
  for i = 1, n, every do
    local v = h[i][field]
    if log then v = math.log10(math.max(v, 10 ^ lo)) end
    v = math.min(hi, math.max(lo, v))
    pts[#pts + 1] = box.x + (i - 1) / (n - 1) * box.w
    pts[#pts + 1] = box.y + box.h - (v - lo) / (hi - lo) * box.h
  end
  love.graphics.setColor(color)
  love.graphics.setLineWidth(2)
  if #pts >= 4 then love.graphics.line(pts) end
end

local function chart (box, title, ticks)
  love.graphics.setColor(1, 1, 1)
  love.graphics.rectangle("fill", box.x, box.y, box.w, box.h, 4)
  love.graphics.setFont(fonts.small)
  for _, t in ipairs(ticks) do   -- {fraction from the bottom, label}
    local y = box.y + box.h - t[1] * box.h
    love.graphics.setColor(0.88, 0.89, 0.92)
    love.graphics.setLineWidth(1)
    love.graphics.line(box.x, y, box.x + box.w, y)
    love.graphics.setColor(0.45, 0.47, 0.52)
    love.graphics.print(t[2], box.x + 4, y - (t[1] > 0.9 and -2 or 14))
  end
  love.graphics.setFont(fonts.body)
  love.graphics.setColor(0.20, 0.22, 0.26)
  love.graphics.print(title, box.x, box.y - 22)
end

function love.draw ()
  love.graphics.clear(0.93, 0.94, 0.96)
  local g = love.graphics
  -- the plane: belief, boundary, points
  g.setScissor(PLOT.x, PLOT.y, PLOT.size, PLOT.size)
  g.setColor(1, 1, 1)
  local s = PLOT.size / (GRID - 1)
  g.draw(state.image, PLOT.x - s / 2, PLOT.y - s / 2, 0, s, s)
  g.setColor(0.15, 0.15, 0.2, 0.9)
  g.setLineWidth(2.5)
  for _, seg in ipairs(state.segments) do g.line(seg) end
  for i, p in ipairs(state.learner.points) do
    local x, y = to_screen(p[1], p[2])
    local col = p[3] == 1 and ORANGE or BLUE
    local r = i > state.base and 7 or 4.5     -- the player's points are bigger
    g.setColor(col)
    g.circle("fill", x, y, r)
    g.setColor(1, 1, 1)
    g.setLineWidth(1.5)
    g.circle("line", x, y, r)
  end
  g.setScissor()
  g.setColor(0.55, 0.57, 0.62)
  g.setLineWidth(1)
  g.rectangle("line", PLOT.x, PLOT.y, PLOT.size, PLOT.size)

  -- the panel
  local x, last = PANEL.x, state.last or {step = 0, loss = 0 / 0, accuracy = 0 / 0}
  g.setFont(fonts.title)
  g.setColor(0.12, 0.13, 0.16)
  g.print("Two spirals, learned by luagrad", x, PANEL.y)
  g.setFont(fonts.body)
  g.setColor(0.30, 0.32, 0.37)
  g.print(("a 2-%d-%d-1 tanh network, Adam by hand\non tensors, %d steps a frame"):format(
          HIDDEN, HIDDEN, STEPS_PER_FRAME), x, PANEL.y + 34)
  g.setColor(0.12, 0.13, 0.16)
  g.print(("step %d    loss %.4f    accuracy %.1f%%"):format(last.step, last.loss,
          100 * last.accuracy), x, PANEL.y + 86)
  local loss_box = {x = x, y = 160, w = PANEL.w, h = 130}
  chart(loss_box, "loss (cross-entropy, log scale)",
        {{1, "1"}, {2 / 3, "0.1"}, {1 / 3, "0.01"}, {0, "0.001"}})
  curve(loss_box, "loss", -3, 0, true, {0.80, 0.25, 0.20})
  local acc_box = {x = x, y = 330, w = PANEL.w, h = 100}
  chart(acc_box, "accuracy on the points", {{1, "100%"}, {0.5, "75%"}, {0, "50%"}})
  curve(acc_box, "accuracy", 0.5, 1, false, {0.18, 0.55, 0.34})
  g.setFont(fonts.small)
  g.setColor(0.35, 0.37, 0.42)
  g.print(("%d points, %d of them yours\n\n" ..
           "left click: an orange point\nright click: a blue point\n" ..
           "space: %s    r: new weights\nc: remove your points    Esc: quit"):format(
          #state.learner.points, #state.learner.points - state.base,
          state.paused and "resume" or "pause"), x, 455)
  g.setColor(0.55, 0.57, 0.62)
  g.print(("%s on %s, LÖVE %d.%d"):format(lg._VERSION, jit and jit.version or _VERSION,
          love.getVersion()), x, 565)
end
