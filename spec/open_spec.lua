-- The C entry points a host calls (luaopen_luagrad, and lg_preload inside it) on this Lua:
-- opening the whole module from the C library registers it in package.preload, so require
-- finds it with no search path, on 5.1 (package.preload) as on 5.2+ (the registry's _PRELOAD).

-- the file the C module was loaded from, found as require found it
local function modulefile ()
  for template in package.cpath:gmatch("[^;]+") do
    local name = template:gsub("%?", "luagrad/core")
    local f = io.open(name, "rb")
    if f then
      f:close()
      return name
    end
  end
end

describe("luaopen_luagrad", function ()
  local saved = {}
  local names = { "luagrad", "luagrad.core" }

  before_each(function ()
    saved.path, saved.cpath = package.path, package.cpath
    for _, n in ipairs(names) do
      saved[n] = { package.loaded[n], package.preload[n] }
    end
  end)

  after_each(function ()
    package.path, package.cpath = saved.path, saved.cpath
    for _, n in ipairs(names) do
      package.loaded[n], package.preload[n] = saved[n][1], saved[n][2]
    end
  end)

  it("opens the module and registers it in package.preload", function ()
    local file = assert(modulefile(), "luagrad/core.so not found on package.cpath")
    local open = assert(package.loadlib(file, "luaopen_luagrad"))
    local lg = open()
    assert.are.equal("luagrad 0.1.0", lg._VERSION)
    assert.are.equal("function", type(package.preload["luagrad"]))
    assert.are.equal("function", type(package.preload["luagrad.core"]))
  end)

  it("lets require find the module with no search path", function ()
    local open = assert(package.loadlib(assert(modulefile()), "luaopen_luagrad"))
    open()
    package.loaded["luagrad"], package.loaded["luagrad.core"] = nil, nil
    package.path, package.cpath = "", ""
    local lg = require("luagrad")
    assert.are.equal(lg, require("luagrad"))
    local a, b, c = lg.value(5), lg.value(3), lg.value(2)
    local J = 3 * (a + b * c)
    J:backward()
    assert.are.same({ 33, 3, 6, 9 }, { J.data, a.grad, b.grad, c.grad })
  end)
end)
