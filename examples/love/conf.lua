-- LÖVE's configuration: a fixed-size window, no sound (the toy makes none), and no vsync
-- when a number of frames is given (the headless test: it runs as fast as it can).
function love.conf (t)
  t.identity = "luagrad-spirals"
  t.version = "11.4"
  t.window.title = "luagrad: a network learns two spirals"
  t.window.width, t.window.height = 960, 600
  t.window.msaa = 4
  t.modules.audio, t.modules.sound = false, false
  for i = 1, #arg do
    if arg[i] == "--frames" then t.window.vsync = 0 end
  end
end
