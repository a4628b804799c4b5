-- The luagrad command as a process: options, arg, errors, exit status, the REPL.
-- The command to test is $LUAGRAD_BIN (CTest sets it), else build/luagrad.

local bin = os.getenv("LUAGRAD_BIN") or "build/luagrad"

-- quotes s for the shell
local function q (s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local readfile = require("spec.helpers").readfile

local function tempfile (contents)
  local name = os.tmpname()
  local f = assert(io.open(name, "wb"))
  f:write(contents)
  f:close()
  return name
end

-- Runs `luagrad <args>` with no LUA_INIT (unless opts.env sets one) and stdin from
-- opts.input (else /dev/null, which is not a terminal). Returns stdout, stderr, status.
local function run (args, opts)
  opts = opts or {}
  local errname = os.tmpname()
  local inname = opts.input and tempfile(opts.input)
  local cmd = "env -u LUA_INIT -u LUA_INIT_5_4 " .. (opts.env or "") .. " " .. q(bin) ..
              " " .. args .. " <" .. (inname or "/dev/null") .. " 2>" .. errname
  local p = assert(io.popen(cmd .. "; echo \"status:$?\""))
  local out = p:read("*a")
  p:close()
  local err = readfile(errname)
  os.remove(errname)
  if inname then os.remove(inname) end
  local status = tonumber(out:match("status:(%d+)\n$"))
  out = out:gsub("status:%d+\n$", "")
  return out, err, status
end

local function lines (s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

describe("-v", function ()
  it("prints the luagrad version, then Lua's copyright line", function ()
    local out, err, status = run("-v")
    local l = lines(out)
    assert.equal("luagrad 0.1.0", l[1])
    assert.truthy(l[2]:find("^Lua 5%.4"))
    assert.truthy(l[2]:find("Copyright", 1, true))
    assert.equal("", err)
    assert.equal(0, status)
  end)
end)

describe("-e", function ()
  it("runs the string as Lua code", function ()
    local out, err, status = run("-e " .. q("print(1+1)"))
    assert.equal("2\n", out)
    assert.equal("", err)
    assert.equal(0, status)
  end)

  it("runs several in their order, also written as -estat", function ()
    local out = run("-e " .. q("x = 1") .. " " .. q("-eprint(x + 1)"))
    assert.equal("2\n", out)
  end)

  it("puts the interpreter at arg[0] and the options after it when there is no script",
    function ()
      local out = run("-e " .. q("print(arg[0] ~= nil, arg[1], arg[-1])"))
      assert.equal("true\t-e\tnil\n", out)
    end)
end)

describe("the built-in luagrad module", function ()
  local noenv = "-u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4"

  it("is found by require with no search path set", function ()
    local out, err, status = run("-e " .. q('print(require("luagrad")._VERSION)'),
                                 {env = noenv})
    assert.equal("luagrad 0.1.0\n", out)
    assert.equal("", err)
    assert.equal(0, status)
  end)

  it("is found even when the search paths lead nowhere", function ()
    local out = run("-e " .. q('print(require("luagrad").value(5).data)'),
                    {env = "LUA_PATH=/nowhere/?.lua LUA_CPATH=/nowhere/?.so"})
    assert.equal("5.0\n", out)
  end)

  it("makes Values that print through __tostring", function ()
    local out = run("-e " .. q('local lg = require("luagrad"); print(tostring(lg.value(33)))'),
                    {env = noenv})
    assert.equal("Value(data=33, grad=0)\n", out)
  end)

  it("holds every Lua part of the module, compiled in as they are in lua/luagrad", function ()
    local code = 'local lg = require("luagrad"); print(type(lg.gradcheck), '
              .. 'package.preload["luagrad.busted"] ~= nil)'
    local out = run("-e " .. q(code), {env = "LUA_PATH=/nowhere/?.lua LUA_CPATH=/nowhere/?.so"})
    assert.equal("function\ttrue\n", out)
  end)
end)

describe("-l", function ()
  it("requires the module into a global of its name", function ()
    local out, err, status = run("-l luagrad -e " .. q("print(luagrad._VERSION)"))
    assert.equal("luagrad 0.1.0\n", out)
    assert.equal("", err)
    assert.equal(0, status)
  end)

  it("also takes the name joined to it, as -lname", function ()
    local out = run("-lluagrad -e " .. q("print(type(luagrad))"))
    assert.equal("table\n", out)
  end)

  it("fails with status 1 for a module that does not exist", function ()
    local out, err, status = run("-l no_such_module_xyz -e " .. q("print(1)"))
    assert.equal("", out)
    assert.truthy(err:find("module 'no_such_module_xyz' not found", 1, true))
    assert.equal(1, status)
  end)
end)

describe("a script", function ()
  it("sees its name at arg[0] and its arguments at arg[1..n] and in ...", function ()
    local script = tempfile('print(arg[0], arg[1], arg[2], select("#", ...), ...)\n')
    local out, err, status = run(q(script) .. " one " .. q("two words"))
    os.remove(script)
    assert.equal(script .. "\tone\ttwo words\t2\tone\ttwo words\n", out)
    assert.equal("", err)
    assert.equal(0, status)
  end)

  it("finds the interpreter and the options at negative indices of arg", function ()
    local script = tempfile("print(arg[-3] ~= nil, arg[-2], arg[-1], arg[-4])\n")
    local out = run("-e " .. q("x=1") .. " " .. q(script))
    os.remove(script)
    assert.equal("true\t-e\tx=1\tnil\n", out)
  end)

  it("may follow --, which ends the options", function ()
    local script = tempfile("print(...)\n")
    local out, _, status = run("-- " .. q(script) .. " -v")
    os.remove(script)
    assert.equal("-v\n", out)
    assert.equal(0, status)
  end)
end)

describe("errors", function ()
  it("in a script exit with status 1, the message and a traceback on stderr", function ()
    local script = tempfile('local function f () error("boom") end\nf()\n')
    local out, err, status = run(q(script))
    os.remove(script)
    assert.equal("", out)
    assert.truthy(err:find("luagrad: " .. script .. ":1: boom", 1, true))
    assert.truthy(err:find("stack traceback:", 1, true))
    assert.equal(1, status)
  end)

  it("raised by the user's function inside a transform show where it was raised", function ()
    local script = tempfile(table.concat({
      'local lg = require("luagrad")',
      'local function inner () error("boom") end',
      'local function f (x)',
      '  inner()',                                                 -- line 4: in no message
      '  return x',
      'end',
      'local kind = ...',
      'if kind == "grad" then lg.grad(f)(1)',
      'else',
      '  local sq = lg.custom{name = "sq", forward = function (u) return u * u end,',
      '                       backward = function (g, u) return f(g * u) end}',
      '  sq(lg.value(2)):backward()',
      'end', ''}, "\n"))
    for _, kind in ipairs({ "grad", "custom" }) do   -- unwound untouched; caught and raised again
      local out, err, status = run(q(script) .. " " .. kind)
      assert.equal("", out)
      assert.truthy(err:find(script .. ":2: boom\n", 1, true), err)
      assert.truthy(err:find(script .. ":4: in ", 1, true), err)
      assert.equal(1, status)
    end
    os.remove(script)
  end)

  it("in -e exit with status 1 and stop the options that follow", function ()
    local out, err, status = run("-e " .. q('error("bad")') .. " -e " .. q("print(2)"))
    assert.equal("", out)
    assert.truthy(err:find("(command line):1: bad", 1, true))
    assert.equal(1, status)
  end)

  it("of syntax exit with status 1", function ()
    local script = tempfile("x = = 1\n")
    local out, err, status = run(q(script))
    os.remove(script)
    assert.equal("", out)
    assert.truthy(err:find(script .. ":1:", 1, true))
    assert.equal(1, status)
  end)

  it("show an error object through its __tostring", function ()
    local code = 'error(setmetatable({}, {__tostring = function () return "custom" end}))'
    local _, err, status = run("-e " .. q(code))
    assert.truthy(err:find("luagrad: custom", 1, true))
    assert.equal(1, status)
  end)

  it("name the type of an error object with no __tostring", function ()
    local _, err, status = run("-e " .. q("error({})"))
    assert.truthy(err:find("(error object is a table value)", 1, true))
    assert.equal(1, status)
  end)

  it("for a missing script exit with status 1", function ()
    local _, err, status = run(q("/nonexistent/script.lua"))
    assert.truthy(err:find("cannot open /nonexistent/script.lua", 1, true))
    assert.equal(1, status)
  end)
end)

describe("options", function ()
  it("reject an unknown option with the usage on stderr and status 1", function ()
    local out, err, status = run("-x")
    assert.equal("", out)
    assert.truthy(err:find("unrecognized option '-x'", 1, true))
    assert.truthy(err:find("usage:", 1, true))
    assert.equal(1, status)
  end)

  it("reject -e with no argument", function ()
    local _, err, status = run("-e")
    assert.truthy(err:find("'-e' needs argument", 1, true))
    assert.equal(1, status)
  end)

  it("-h prints the usage, listing -e, on stdout with status 0", function ()
    local out, err, status = run("-h")
    assert.truthy(out:find("usage:", 1, true))
    assert.truthy(out:find("\n  -e stat", 1, true))
    assert.equal("", err)
    assert.equal(0, status)
  end)

  it("--help does as -h", function ()
    local out, _, status = run("--help")
    assert.truthy(out:find("  -l mod", 1, true))
    assert.equal(0, status)
  end)
end)

describe("the REPL", function ()
  it("prints the value of an expression", function ()
    local out, err, status = run("-i", {input = "1+2\n"})
    assert.truthy(out:find("\n> 3\n", 1, true))
    assert.equal("", err)
    assert.equal(0, status)
  end)

  it("shows the version first, as -i implies -v", function ()
    local out = run("-i", {input = ""})
    assert.equal("luagrad 0.1.0", lines(out)[1])
  end)

  it("prints a Value through its __tostring", function ()
    local out = run("-i", {input = 'lg = require("luagrad")\nlg.value(33)\n'})
    assert.truthy(out:find("> Value(data=33, grad=0)\n", 1, true))
  end)

  it("has the module as lg and as luagrad, with no require", function ()
    local out, err = run("-i", {input = 'lg.value(2) * 3\nluagrad == lg, luagrad._VERSION\n'})
    assert.truthy(out:find("> Value(data=6, grad=0)\n", 1, true), out)
    assert.truthy(out:find("> true\tluagrad 0.1.0\n", 1, true), out)
    assert.equal("", err)
  end)

  it("binds no lg for a script", function ()
    local out = run("-e " .. q("print(lg, luagrad)"))
    assert.equal("nil\tnil\n", out)
  end)

  it("reads lines as text: an arrow key's escape sequence that gets through says so", function ()
    local out, err = run("-i", {input = "\27[A\nprint('after')\n"})
    assert.equal("stdin: a key (an arrow?) reached the REPL as text: this luagrad has no line "
                 .. "editing (install libreadline-dev, then build again)\n", err)
    assert.truthy(out:find("after\n", 1, true))
  end)

  it("prints several results separated by tabs", function ()
    local out = run("-i", {input = "1, 'a', nil\n"})
    assert.truthy(out:find("> 1\ta\tnil\n", 1, true))
  end)

  it("continues an incomplete chunk with the >> prompt", function ()
    local out = run("-i", {input = "function f ()\nreturn 42 end\nf()\n"})
    assert.truthy(out:find(">> > 42\n", 1, true))
  end)

  it("reports an error and goes on, ending with status 0", function ()
    local out, err, status = run("-i", {input = 'error("oops")\nprint("after")\n'})
    assert.truthy(err:find("stdin:1: oops", 1, true))
    assert.truthy(out:find("after\n", 1, true))
    assert.equal(0, status)
  end)

  it("runs after the script, with the script's globals", function ()
    local script = tempfile("answer = 42\n")
    local out = run("-i " .. q(script), {input = "answer\n"})
    os.remove(script)
    assert.truthy(out:find("> 42\n", 1, true))
  end)
end)

describe("stdin", function ()
  it("runs as the script named -", function ()
    local out, _, status = run("- a b", {input = "print(arg[0], ...)\n"})
    assert.equal("-\ta\tb\n", out)
    assert.equal(0, status)
  end)

  it("runs as a script when there is no script and it is no terminal", function ()
    local out, _, status = run("", {input = "print(6 * 7)\n"})
    assert.equal("42\n", out)
    assert.equal(0, status)
  end)

  it("exits with status 1 when that script fails", function ()
    local _, err, status = run("", {input = 'error("in stdin")\n'})
    assert.truthy(err:find("stdin:1: in stdin", 1, true))
    assert.equal(1, status)
  end)
end)

describe("os.exit", function ()
  it("sets the exit status", function ()
    local _, _, status = run("-e " .. q("os.exit(3)"))
    assert.equal(3, status)
  end)

  it("with false exits with status 1", function ()
    local _, _, status = run("-e " .. q("os.exit(false)"))
    assert.equal(1, status)
  end)
end)

describe("LUA_INIT", function ()
  it("runs before the options", function ()
    local out = run("-e " .. q("print(2)"), {env = q("LUA_INIT=print(1)")})
    assert.equal("1\n2\n", out)
  end)

  it("gives way to LUA_INIT_5_4", function ()
    local out = run("-e " .. q("print(2)"),
                    {env = q("LUA_INIT=print(1)") .. " " .. q("LUA_INIT_5_4=print(54)")})
    assert.equal("54\n2\n", out)
  end)

  it("runs a file when it starts with @", function ()
    local init = tempfile('print("from file")\n')
    local out = run("-e " .. q("print(2)"), {env = q("LUA_INIT=@" .. init)})
    os.remove(init)
    assert.equal("from file\n2\n", out)
  end)

  it("is ignored under -E, as LUA_PATH is", function ()
    local out = run("-E -e " .. q("print(package.path:find('/nowhere/', 1, true))"),
                    {env = q("LUA_INIT=print(1)") .. " " .. q("LUA_PATH=/nowhere/?.lua")})
    assert.equal("nil\n", out)
  end)
end)

describe("-W", function ()
  it("turns warnings on", function ()
    local _, err = run("-W -e " .. q('warn("careful")'))
    assert.equal("Lua warning: careful\n", err)
  end)

  it("is needed for warnings to show", function ()
    local _, err = run("-e " .. q('warn("careful")'))
    assert.equal("", err)
  end)
end)
