-- lg.progress: a progress line, checked byte for byte: every run here writes to a sink of
-- its own (opts.out) and reads a fake clock (opts.clock), and says whether it is a terminal.
local lg = require("luagrad")

-- an object with a write method, keeping what is written
local function sink ()
  local parts = {}
  return {
    write = function (_, s) parts[#parts + 1] = s end,
    text = function () return table.concat(parts) end,
  }
end

-- a clock that reads t[1], set by the test
local function fakeclock ()
  local t = { 0 }
  return t, function () return t[1] end
end

local function lines (s)
  local out = {}
  for line in s:gmatch("([^\n]*)\n") do out[#out + 1] = line end
  return out
end

-- what a terminal shows of s: each \r returns to the start of the line, overwriting
local function screen (s)
  local rows, row, col = {}, {}, 1
  for i = 1, #s do
    local c = s:sub(i, i)
    if c == "\r" then col = 1
    elseif c == "\n" then rows[#rows + 1] = table.concat(row):gsub("%s+$", ""); row, col = {}, 1
    else row[col] = c; col = col + 1 end
  end
  if #row > 0 then rows[#rows + 1] = table.concat(row):gsub("%s+$", "") end
  return rows
end

describe("lg.progress", function ()
  it("is the function require('luagrad.progress') returns", function ()
    assert.are.equal(require("luagrad.progress"), lg.progress)
    assert.are.equal("function", type(lg.progress))
  end)

  describe("off a terminal", function ()
    it("prints a plain line each tenth of total, with step, loss, rate, elapsed and left", function ()
      local out, t, clock = sink(), fakeclock()
      local p = lg.progress({ total = 100, out = out, tty = false, clock = clock })
      for step = 1, 100 do
        t[1] = step * 0.5
        p:update(step, { loss = 1 / step })
      end
      assert.are.equal(50, p:done())
      local got = lines(out.text())
      assert.are.equal(10, #got)
      assert.are.equal("step  10/100   10%  loss 0.1  2.00 steps/s  0:05 elapsed  0:45 left", got[1])
      assert.are.equal("step  50/100   50%  loss 0.02  2.00 steps/s  0:25 elapsed  0:25 left", got[5])
      assert.are.equal("step 100/100  100%  loss 0.01  2.00 steps/s  0:50 elapsed", got[10])
      assert.is_nil(out.text():find("\r", 1, true))
    end)

    it("prints the last line at done unless update printed that step", function ()
      local out, t, clock = sink(), fakeclock()
      local p = lg.progress({ total = 10, every = 4, out = out, tty = false, clock = clock })
      for step = 1, 9 do
        t[1] = step
        p:update(step, 0.5)
      end
      t[1] = 9.5
      p:done()
      local got = lines(out.text())
      assert.are.same({
        "step  4/10   40%  loss 0.5  1.00 steps/s  0:04 elapsed  0:06 left",
        "step  8/10   80%  loss 0.5  1.00 steps/s  0:08 elapsed  0:02 left",
        "step  9/10   90%  loss 0.5  1.06 s/step  0:10 elapsed",   -- 9.5 s for 9 steps
      }, got)
    end)

    it("shows the epoch of each step, and desc first", function ()
      local out, t, clock = sink(), fakeclock()
      local p = lg.progress({ total = 8, epochs = 4, every = 1, desc = "train", out = out,
                              tty = false, clock = clock })
      for step = 1, 8 do
        t[1] = step
        p:update(step)
      end
      local got = lines(out.text())
      assert.are.equal("train  epoch 1/4  step 1/8   12%  1.00 steps/s  0:01 elapsed  0:07 left", got[1])
      assert.are.equal("train  epoch 1/4  step 2/8   25%  1.00 steps/s  0:02 elapsed  0:06 left", got[2])
      assert.are.equal("train  epoch 2/4  step 3/8   37%  1.00 steps/s  0:03 elapsed  0:05 left", got[3])
      assert.are.equal("train  epoch 4/4  step 8/8  100%  1.00 steps/s  0:08 elapsed", got[8])
    end)

    it("without total, prints a line every interval seconds, with no percentage or time left", function ()
      local out, t, clock = sink(), fakeclock()
      local p = lg.progress({ out = out, tty = false, clock = clock })
      for step = 1, 45 do
        t[1] = step
        p:update(step, { loss = 2 })
      end
      assert.are.same({
        "step 10  loss 2  1.00 steps/s  0:10 elapsed",
        "step 20  loss 2  1.00 steps/s  0:20 elapsed",
        "step 30  loss 2  1.00 steps/s  0:30 elapsed",
        "step 40  loss 2  1.00 steps/s  0:40 elapsed",
      }, lines(out.text()))
    end)

    it("shows loss first and the other metrics by name, from numbers and Values", function ()
      local out, _, clock = sink(), fakeclock()
      local p = lg.progress({ total = 1, out = out, tty = false, clock = clock })
      p:update(1, { zeta = 3, acc = lg.value(0.875), loss = lg.value(1.25e-7), lr = 0 / 0 })
      assert.are.equal("step 1/1  100%  loss 1.25e-7  acc 0.875  lr nan  zeta 3  0:00 elapsed",
                       lines(out.text())[1])
    end)

    it("writes hours as h:mm:ss, and a step of a minute or more as its time", function ()
      local out, t, clock = sink(), fakeclock()
      local p = lg.progress({ total = 4, every = 1, out = out, tty = false, clock = clock })
      t[1] = 3723
      p:update(1)
      assert.are.equal("step 1/4   25%  1:02:03/step  1:02:03 elapsed  3:06:09 left",
                       lines(out.text())[1])
    end)

    it("reads a clock set back as no time passed", function ()
      local out, t, clock = sink(), fakeclock()
      t[1] = 100
      local p = lg.progress({ total = 2, every = 1, out = out, tty = false, clock = clock })
      t[1] = 40
      p:update(1)
      assert.are.equal("step 1/2   50%  0:00 elapsed", lines(out.text())[1])
    end)

    it("prints p:print's arguments as print does", function ()
      local out, _, clock = sink(), fakeclock()
      local p = lg.progress({ out = out, tty = false, clock = clock })
      p:print("epoch", 3, true)
      assert.are.equal("epoch\t3\ttrue\n", out.text())
    end)

    it("is the default for an object, and for a file that is not a terminal", function ()
      local out = sink()
      local p = lg.progress({ total = 1, out = out })
      p:update(1)
      assert.is_nil(out.text():find("\r", 1, true))
      local f = io.tmpfile()
      p = lg.progress({ total = 1, out = f })
      p:update(1)
      p:done()
      f:seek("set")
      assert.are.equal("step 1/1  100%", f:read("*a"):sub(1, 14))
      f:close()
    end)
  end)

  describe("on a terminal", function ()
    it("redraws one line with \\r, at most every interval, and ends it at done", function ()
      local out, t, clock = sink(), fakeclock()
      local p = lg.progress({ total = 20, out = out, tty = true, clock = clock, width = 100 })
      for step = 1, 20 do
        t[1] = step * 0.03
        p:update(step, { loss = 1 / step })
      end
      p:done()
      local text = out.text()
      local _, draws = text:gsub("\r", "")
      assert.are.equal(1 + 5 + 1, draws)   -- steps 1, 5, 9, 13, 17, 20 and done
      assert.are.equal("\n", text:sub(-1))
      local full = "[" .. ("="):rep(30) .. "]"   -- 32 characters: the widest bar
      assert.are.same({ full .. "  20/20  100%  loss 0.05  33.3 steps/s  0:01" }, screen(text))
      local first = "\r[=>" .. (" "):rep(28) .. "]   1/20    5%  loss 1  33.3 steps/s  0:00<0:01"
      assert.are.equal(first, text:sub(1, #first))
    end)

    it("pads a shorter line to cover the longer one before it", function ()
      local out, t, clock = sink(), fakeclock()
      local p = lg.progress({ total = 2, out = out, tty = true, clock = clock, width = 60,
                              interval = 0.001 })
      t[1] = 1
      p:update(1, { loss = 0.123456 })
      t[1] = 2
      p:update(2, { loss = 1 })
      local first, second = out.text():match("^\r([^\r]*)\r([^\r]*)$")
      assert.are.equal(#first, #second)
      assert.is_truthy(second:find("loss 1  1.00 steps/s  0:02 +$"))
    end)

    it("keeps the line within width, leaving the bar out when it does not fit", function ()
      local out, t, clock = sink(), fakeclock()
      local p = lg.progress({ total = 1000, epochs = 10, desc = "a long description", out = out,
                              tty = true, clock = clock, width = 40 })
      t[1] = 1
      p:update(10, { loss = 0.5, accuracy = 0.25 })
      local line = out.text():sub(2)
      assert.are.equal(39, #line)
      assert.is_nil(line:find("[", 1, true))
      assert.are.equal("a long description  epoch 1/10    10/10", line)   -- cut at 39
    end)

    it("prints p:print's line above the progress line, which it draws again", function ()
      local out, t, clock = sink(), fakeclock()
      local p = lg.progress({ total = 4, out = out, tty = true, clock = clock, width = 70 })
      t[1] = 1
      p:update(1)
      p:print("checkpoint saved")
      t[1] = 2
      p:update(2)
      p:done()
      assert.are.same({ "checkpoint saved",
                        "[===============>              ]  2/4   50%  1.00 steps/s  0:02" },
                      screen(out.text()))
    end)
  end)

  describe("errors", function ()
    local _, clock = fakeclock()
    local cases = {
      { function () lg.progress(5) end,
        "luagrad.progress: bad argument #1 (table or nil expected, got number)" },
      { function () lg.progress({ totl = 5 }) end, "luagrad.progress: unknown option 'totl'" },
      { function () lg.progress({ total = 0 }) end,
        "luagrad.progress: bad option 'total' (a positive integer expected, got 0)" },
      { function () lg.progress({ total = 2.5 }) end,
        "luagrad.progress: bad option 'total' (a positive integer expected, got 2.5)" },
      { function () lg.progress({ out = 5 }) end,
        "luagrad.progress: bad option 'out' (a file or an object with a write method expected, got 5)" },
      { function () lg.progress({ interval = -1 }) end,
        "luagrad.progress: bad option 'interval' (a positive number expected, got -1)" },
      { function () lg.progress({ clock = function () return "now" end, out = sink() }) end,
        "luagrad.progress: bad option 'clock' (a function returning seconds expected, got one returning string)" },
      { function () lg.progress({ out = sink(), clock = clock }):update("x") end,
        "luagrad.progress:update: bad argument #1 (a whole number of steps >= 0 expected, got \"x\")" },
      { function () lg.progress({ out = sink(), clock = clock }):update(-1) end,
        "luagrad.progress:update: bad argument #1 (a whole number of steps >= 0 expected, got -1)" },
      { function () lg.progress({ out = sink(), clock = clock }):update(1, "x") end,
        "luagrad.progress:update: bad argument #2 (table, number or value expected, got string)" },
      { function () lg.progress({ out = sink(), clock = clock }):update(1, { acc = "x" }) end,
        "luagrad.progress:update: bad metric 'acc' (number or value expected, got string)" },
      { function () lg.progress({ out = sink(), clock = clock }):update(1, { 0.5 }) end,
        "luagrad.progress:update: bad argument #2 (metric names must be strings, got a number)" },
      { function () lg.progress({ out = sink(), clock = clock }).update({}, 1) end,
        "luagrad.progress:update: bad self (a progress line expected, got table)" },
      { function ()
          local p = lg.progress({ out = sink(), clock = clock })
          p:done()
          p:update(1)
        end, "luagrad.progress:update: the progress line is done" },
      { function ()
          local p = lg.progress({ out = sink(), clock = clock })
          p:done()
          p:done()
        end, "luagrad.progress:done: the progress line is done" },
    }
    for i, c in ipairs(cases) do
      it(("%d: %s"):format(i, c[2]:match(": (.*)")), function ()
        assert.has_error(c[1], c[2])
      end)
    end
  end)
end)
