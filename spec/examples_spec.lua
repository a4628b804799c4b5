-- The examples run with the built luagrad command and print what they promise. With
-- $LUAGRAD_LUA set (CTest sets it for every Lua but 5.4) they run with that stock interpreter
-- instead, finding the module where this spec found it.
local examples = os.getenv("LUAGRAD_EXAMPLES") or "examples"

local function q (s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local bin = os.getenv("LUAGRAD_BIN") or "build/luagrad"
if os.getenv("LUAGRAD_LUA") then
  bin = q(os.getenv("LUAGRAD_LUA")) .. " -e " ..
        q(("package.path, package.cpath = %q, %q"):format(package.path, package.cpath))
end

-- os.execute's success: true from Lua 5.2 on, 0 in 5.1 and LuaJIT
local function succeeded (cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

local function run (args)
  local p = assert(io.popen(bin .. " " .. args .. " 2>&1; echo \"status:$?\""))
  local out = p:read("*a")
  p:close()
  local status = tonumber(out:match("status:(%d+)%s*$"))
  return out:gsub("status:%d+%s*$", ""), status
end

describe("examples/lecture.lua", function ()
  local dir = os.tmpname()
  os.remove(dir)
  assert(succeeded("mkdir -p " .. dir))
  local out, status = run(examples .. "/lecture.lua " .. dir)

  it("runs to the end", function ()
    assert.are.equal(0, status)
  end)

  it("prints the forward values u = 6, v = 11, J = 33", function ()
    assert.truthy(out:find("u = b*c = 6.0", 1, true))
    assert.truthy(out:find("v = a+u = 11.0", 1, true))
    assert.truthy(out:find("J = 3v = 33.0", 1, true))
  end)

  it("prints each dvar from backward beside the slope of a 0.001 nudge", function ()
    for name, g in pairs({v = 3, a = 3, u = 3, b = 6, c = 9}) do
      local back, nudge = out:match("dJ/d" .. name .. "%s+(%S+)%s+(%S+)")
      assert.are.equal(g, tonumber(back))
      assert.is_true(math.abs(tonumber(nudge) - g) < 1e-6)
    end
  end)

  it("writes the graph as DOT text", function ()
    local f = assert(io.open(dir .. "/lecture.dot"))
    local dot = f:read("*a")
    f:close()
    assert.truthy(dot:match("^digraph"))
    assert.truthy(dot:find("{ J | data 33 | grad 1 }", 1, true))
    assert.truthy(dot:find("{ c | data 2 | grad 9 }", 1, true))
  end)

  it("renders lecture.svg when Graphviz is installed", function ()
    if not succeeded("command -v dot >/dev/null 2>&1") then
      pending("Graphviz's dot is not installed")
      return
    end
    local f = assert(io.open(dir .. "/lecture.svg"))
    assert.truthy(f:read("*a"):find("<svg", 1, true))
    f:close()
  end)

  teardown(function () os.execute("rm -rf " .. dir) end)
end)

describe("examples/logistic_regression.lua", function ()
  local out, status = run(examples .. "/logistic_regression.lua")

  it("runs to the end", function ()
    assert.are.equal(0, status)
  end)

  it("prints a loss that falls from log 2 to the minimum", function ()
    local losses = {}
    for l in out:gmatch("loss (%d+%.%d+)") do losses[#losses + 1] = tonumber(l) end
    assert.are.equal(6, #losses)
    assert.are.equal("0.693147", ("%.6f"):format(losses[1]))
    for i = 2, #losses do assert.is_true(losses[i] <= losses[i - 1]) end
    assert.are.equal("0.066360", ("%.6f"):format(losses[#losses]))   -- the minimum (BFGS)
  end)

  it("classifies at least 97% of the 569 tumours", function ()
    local correct, total = out:match("training accuracy (%d+)/(%d+)")
    assert.are.equal("569", total)
    assert.are.equal("562", correct)   -- scikit-learn's fit classifies the same 562
  end)

  it("agrees with scikit-learn's fit to 1e-4", function ()
    local dw, db = out:match("max |w %- w_ref| = (%S+), |b %- b_ref| = (%S+)")
    assert.is_true(tonumber(dw) < 1e-4, out)
    assert.is_true(tonumber(db) < 1e-4, out)
  end)
end)

describe("examples/logistic_regression_values.lua", function ()
  local out, status = run(examples .. "/logistic_regression_values.lua")

  it("runs to the end", function ()
    assert.are.equal(0, status)
  end)

  it("prints a loss that falls from log 2", function ()
    local losses = {}
    for l in out:gmatch("loss (%d+%.%d+)") do losses[#losses + 1] = tonumber(l) end
    assert.is_true(#losses >= 5)
    assert.is_true(math.abs(losses[1] - math.log(2)) < 1e-4)
    for i = 2, #losses do assert.is_true(losses[i] < losses[i - 1]) end
    assert.is_true(losses[#losses] < 0.2)
  end)

  it("classifies at least 90% of the points", function ()
    local correct, total = out:match("accuracy (%d+)/(%d+)")
    assert.is_true(tonumber(correct) / tonumber(total) >= 0.9)
  end)
end)

describe("examples/logistic_regression_tensors.lua", function ()
  local out, status = run(examples .. "/logistic_regression_tensors.lua")
  local scalar = run(examples .. "/logistic_regression_values.lua")

  it("runs to the end", function ()
    assert.are.equal(0, status)
  end)

  it("prints what the scalar version prints, to the last digit", function ()
    assert.are.equal(scalar, out)
  end)
end)

describe("examples/newton.lua", function ()
  local out, status = run(examples .. "/newton.lua")

  it("runs to the end", function ()
    assert.are.equal(0, status)
  end)

  it("converges quadratically to (1, 1) with the exact Hessian", function ()
    local steps = 0
    for _ in out:gmatch("step%s+%d+") do steps = steps + 1 end
    assert.is_true(steps >= 5 and steps <= 10, out)
    assert.truthy(out:find("H = [[1330, 480], [480, 200]]", 1, true), out)   -- at (-1.2, 1)
    assert.truthy(out:find("H = [[802, -400], [-400, 200]]", 1, true), out)  -- at the minimum
    local x, y = out:match("minimum at %(([%d%.%-]+), ([%d%.%-]+)%)")
    assert.is_true(math.abs(tonumber(x) - 1) < 1e-10 and math.abs(tonumber(y) - 1) < 1e-10)
  end)
end)

describe("examples/mlp.lua", function ()
  local out, status = run(examples .. "/mlp.lua")

  it("runs to the end", function ()
    assert.are.equal(0, status)
  end)

  it("prints a falling loss every 10 steps", function ()
    local losses = {}
    for l in out:gmatch("loss (%d+%.%d+)  accuracy") do losses[#losses + 1] = tonumber(l) end
    assert.are.equal(10, #losses)
    assert.is_true(losses[#losses] < losses[1] / 10, out)
  end)

  it("trains the two moons to at least 97% accuracy, the same on every Lua", function ()
    local loss, accuracy, n = out:match("after 100 steps: loss (%d+%.%d+), accuracy (%d+)%% "
                                        .. "%((%d+) parameters%)\n$")
    assert.truthy(loss, out)
    assert.is_true(tonumber(accuracy) >= 97, out)
    assert.are.equal("337", n)                        -- 2*16+16 + 16*16+16 + 16+1
    assert.are.equal("0.0201", loss)                  -- fixed seed, exact arithmetic
  end)
end)

describe("examples/planar.lua", function ()
  local dir = os.tmpname()
  os.remove(dir)
  assert(succeeded("mkdir -p " .. dir))
  local out, status = run(examples .. "/planar.lua " .. dir)

  it("runs to the end", function ()
    assert.are.equal(0, status, out)
  end)

  it("prints a falling loss every 1000 steps and at least 90% training accuracy", function ()
    local losses = {}
    for l in out:gmatch("loss (%d+%.%d+)\n") do losses[#losses + 1] = tonumber(l) end
    assert.are.equal(10, #losses, out)
    for i = 2, 10 do assert.is_true(losses[i] < losses[i - 1], out) end
    assert.is_true(losses[10] < 0.2, out)
    local accuracy = tonumber(out:match("accuracy (%d+%.%d)%% on the 400 training points"))
    assert.is_true(accuracy >= 90, out)
  end)

  it("writes the decision boundary as an SVG file", function ()
    local f = assert(io.open(dir .. "/planar.svg", "rb"))
    local svg = f:read("*a")
    f:close()
    assert.truthy(svg:find("<svg", 1, true))
    assert.truthy(svg:find('class="boundary"', 1, true))
    assert.truthy(svg:find("One hidden layer of 4 tanh units on the flower", 1, true))
  end)

  teardown(function () os.execute("rm -rf " .. dir) end)
end)

describe("examples/digits.lua", function ()
  local dir = os.tmpname()
  os.remove(dir)
  assert(succeeded("mkdir -p " .. dir))
  local out, status = run(examples .. "/digits.lua " .. dir)

  it("runs to the end", function ()
    assert.are.equal(0, status, out)
  end)

  it("reaches at least 97% test accuracy on the 359 held-out images", function ()
    local train, test = out:match("training accuracy (%d+%.%d)%%, " ..
                                  "test accuracy (%d+%.%d)%% %(359 images%)")
    assert.are.equal("100.0", train, out)
    assert.is_true(tonumber(test) >= 97, out)
  end)

  it("shows its progress each 5 epochs and writes the loss curves", function ()
    local lines = 0
    for _ in out:gmatch("digits  step%s+%d+/30") do lines = lines + 1 end
    assert.are.equal(6, lines, out)
    local f = assert(io.open(dir .. "/digits.svg", "rb"))
    local svg = f:read("*a")
    f:close()
    assert.truthy(svg:find("digits: cross-entropy per epoch", 1, true))
  end)

  teardown(function () os.execute("rm -rf " .. dir) end)
end)

-- Fashion-MNIST comes with Debian's dataset-fashion-mnist (scripts/deps.sh --all); the run
-- takes half a minute, so it is made on Lua 5.4 alone.
describe("examples/fashion_mnist.lua", function ()
  local root = os.getenv("FASHION_MNIST") or "/usr/share/datasets/fashion-mnist"
  local have = io.open(root .. "/t10k-labels-idx1-ubyte.gz", "rb")
  if have then have:close() end

  it("reaches at least 88% test accuracy in 10 epochs", function ()
    if not have then
      pending("Fashion-MNIST is not installed (Debian's dataset-fashion-mnist)")
      return
    end
    if os.getenv("LUAGRAD_LUA") then
      pending("run on Lua 5.4 only")
      return
    end
    local out, status = run(examples .. "/fashion_mnist.lua")
    assert.are.equal(0, status, out)
    local accuracies = {}
    for a in out:gmatch("test accuracy (%d+%.%d+)%%") do
      accuracies[#accuracies + 1] = tonumber(a)
    end
    assert.are.equal(10, #accuracies, out)
    assert.is_true(accuracies[10] >= 88, out)
  end)
end)

describe("examples/plots.lua", function ()
  local dir = os.tmpname()
  os.remove(dir)
  assert(succeeded("mkdir -p " .. dir))
  local out, status = run(examples .. "/plots.lua " .. dir)

  local function read (path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
  end

  it("runs to the end, printing plain progress lines (its output is not a terminal)", function ()
    assert.are.equal(0, status)
    assert.is_nil(out:find("\r", 1, true))
    assert.truthy(out:find("step 300/300  100%  loss 0.2319  acc 0.9167", 1, true))
  end)

  it("writes the figures of docs/learning.md, byte for byte", function ()
    for _, name in ipairs({ "loss.svg", "boundary.svg" }) do
      assert.are.equal(read(examples .. "/../docs/img/" .. name), read(dir .. "/" .. name))
    end
  end)

  teardown(function () os.execute("rm -rf " .. dir) end)
end)
