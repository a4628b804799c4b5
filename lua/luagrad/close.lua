-- luagrad.close (Lua 5.4 only, loaded by version): closer(f, ...) runs f(...) with closer
-- as a to-be-closed variable. An error raised by f then unwinds through the close untouched,
-- so the message handler of whoever catches it (the interpreter's traceback, busted's) still
-- sees the frames where f failed; a pcall and a second raise would have cut them off.
return function (closer, f, ...)
  local _ <close> = closer
  return f(...)
end
