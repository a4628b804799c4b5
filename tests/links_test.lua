-- Every relative link in README.md and docs/*.md leads somewhere: the file exists, and a
-- #fragment names a heading of it (GitHub's anchors: lower case, punctuation dropped,
-- spaces as hyphens).
--   lua5.4 tests/links_test.lua SOURCE_DIR
local root = arg[1] or "."

local function read (name)
  local f = io.open(name, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function anchors (text)
  local set, inblock = {}, false
  for line in text:gmatch("[^\n]*") do
    if line:match("^```") then inblock = not inblock end
    local h = not inblock and line:match("^#+%s+(.-)%s*$")
    if h then
      local a = h:lower():gsub("[^%w%- _]", ""):gsub(" ", "-")
      local n, base = 1, a
      while set[a] do a = base .. "-" .. n; n = n + 1 end
      set[a] = true
    end
  end
  return set
end

local docs = { "README.md" }
local p = io.popen("ls " .. root .. "/docs/*.md 2>/dev/null")
for name in p:lines() do docs[#docs + 1] = name:sub(#root + 2) end
p:close()

local bad, n = 0, 0
for _, doc in ipairs(docs) do
  local text = assert(read(root .. "/" .. doc), doc)
  local dir = doc:match("^(.*)/") or "."
  for target in text:gmatch("%]%(([^)%s]+)%)") do
    if not target:match("^%a+:") then   -- not http: or mailto:
      local file, frag = target:match("^([^#]*)#?(.*)$")
      local path = file == "" and doc or (dir .. "/" .. file)
      local body = read(root .. "/" .. path)
      n = n + 1
      if not body then
        print(("%s: link to %s: no such file"):format(doc, target))
        bad = bad + 1
      elseif frag ~= "" and path:match("%.md$") and not anchors(body)[frag] then
        print(("%s: link to %s: no heading #%s in %s"):format(doc, target, frag, path))
        bad = bad + 1
      end
    end
  end
end
print(("%d links checked in %d files, %d broken"):format(n, #docs, bad))
os.exit(bad == 0 and 0 or 1)
