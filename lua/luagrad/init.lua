-- luagrad: reverse-mode automatic differentiation. The C core (luagrad.core) holds Values,
-- every op and backward; this file is the module table users get from require("luagrad"),
-- the place where the library's Lua parts join the core.
-- Loaded from a file, the arguments are (name, path); compiled into a host or the luagrad
-- command, they are (name, core), so that it also opens where `require` is removed.
local _, core = ...
if type(core) ~= "table" then core = require("luagrad.core") end
return core
