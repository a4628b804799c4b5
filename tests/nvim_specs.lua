-- busted inside Neovim: the specs named in LUAGRAD_SPECS (space-separated), run by Neovim's
-- own LuaJIT against the LuaJIT build (LUAGRAD_SRC, LUAGRAD_CPATH), from tests/nvim_test.sh:
--   nvim --headless -u NONE -i NONE -n -c 'luafile tests/nvim_specs.lua' -c 'cquit 2'
-- Run as a library (standalone = false), busted returns when every spec passed and raises
-- (on LuaJIT) when one failed: the exit status is 0 or 1.
local src, cpath = os.getenv("LUAGRAD_SRC"), os.getenv("LUAGRAD_CPATH")
arg = {"--lpath=" .. src .. "/lua/?.lua;" .. src .. "/lua/?/init.lua",
       "--cpath=" .. cpath .. "/?.so", "--exclude-tags=slow"}
for spec in os.getenv("LUAGRAD_SPECS"):gmatch("%S+") do arg[#arg + 1] = spec end
arg[0] = "busted"
local ok, e = pcall(require("busted.runner"), {standalone = false})
if ok then vim.cmd("qall!") end
io.stderr:write("\nbusted inside nvim: failures", e and (" (" .. tostring(e) .. ")") or "", "\n")
vim.cmd("cquit 1")
