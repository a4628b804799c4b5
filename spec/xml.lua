-- A strict reader of the XML that luagrad's plots write, for the specs: xml.parse(text)
-- raises on anything that is not well-formed (tags unbalanced or misnamed, an attribute
-- twice or unquoted, a raw < or & in text, an unknown entity, a control character, bytes
-- that are not UTF-8) and returns the root element: {name =, attrs =, children =}, where a
-- child is an element or a string (entities decoded). Loaded as require("spec.xml").
local xml = {}

local ENTITIES = { amp = "&", lt = "<", gt = ">", quot = '"', apos = "'" }

-- Raises unless s is UTF-8 of XML's characters (tab, newline, return, and from space on)
local function checkchars (s, where)
  local i = 1
  while i <= #s do
    local c = s:byte(i)
    local n = c < 0x80 and 1 or c >= 0xC2 and c <= 0xDF and 2 or c >= 0xE0 and c <= 0xEF and 3
              or c >= 0xF0 and c <= 0xF4 and 4 or nil
    if n == nil or (c < 0x20 and c ~= 9 and c ~= 10 and c ~= 13) then
      error(("byte %d at %d of %s is not an XML character"):format(c, i, where))
    end
    for k = 1, n - 1 do
      local d = s:byte(i + k)
      if d == nil or d < 0x80 or d > 0xBF then
        error(("bad UTF-8 sequence at %d of %s"):format(i, where))
      end
    end
    i = i + n
  end
end

-- s with its references decoded; raises on a stray & or <, or an unknown entity
local function decode (s, where)
  if s:find("<", 1, true) then error("raw < in " .. where) end
  checkchars(s, where)
  return (s:gsub("&([^;]*);?", function (name)
    local c = ENTITIES[name]
    if c then return c end
    local code = name:match("^#(%d+)$") or name:match("^#x(%x+)$")
    if not code then error(("bad reference &%s in %s"):format(name, where)) end
    return "?"   -- a character reference: its value does not matter here
  end))
end

local NAME = "[%a_:][%w_:%.%-]*"

function xml.parse (text)
  local pos = 1
  local decl = text:match("^<%?xml[^?]*%?>")
  if not decl then error("no XML declaration") end
  pos = #decl + 1
  local root = { children = {} }
  local stack = { root }
  while true do
    local lt = text:find("<", pos, true)
    local chunk = text:sub(pos, (lt or #text + 1) - 1)
    local top = stack[#stack]
    if #stack == 1 then
      if chunk:find("%S") then error("text outside the root element: " .. chunk) end
    elseif chunk ~= "" then
      top.children[#top.children + 1] = decode(chunk, "the text of <" .. top.name .. ">")
    end
    if not lt then break end
    if text:sub(lt, lt + 1) == "</" then
      local name, stop = text:match("^</(" .. NAME .. ")%s*>()", lt)
      if not name then error("bad end tag at " .. lt) end
      if name ~= top.name then
        error(("</%s> closes <%s> at %d"):format(name, tostring(top.name), lt))
      end
      stack[#stack] = nil
      pos = stop
    else
      local name, p = text:match("^<(" .. NAME .. ")()", lt)
      if not name then error("bad tag at " .. lt .. ": " .. text:sub(lt, lt + 20)) end
      local el = { name = name, attrs = {}, children = {} }
      while true do
        local k, v, q = text:match('^%s+(' .. NAME .. ')="([^"]*)"()', p)
        if not k then break end
        if el.attrs[k] ~= nil then error(("attribute %s twice in <%s>"):format(k, name)) end
        el.attrs[k] = decode(v, "attribute " .. k .. " of <" .. name .. ">")
        p = q
      end
      local close, stop = text:match("^%s*(/?)>()", p)
      if not close then error(("bad attribute in <%s> at %d: %s"):format(name, p, text:sub(p, p + 30))) end
      if #stack == 1 and #root.children > 0 then error("a second root element <" .. name .. ">") end
      top.children[#top.children + 1] = el
      if close == "" then stack[#stack + 1] = el end
      pos = stop
    end
  end
  if #stack ~= 1 then error("unclosed <" .. stack[#stack].name .. ">") end
  if #root.children ~= 1 then error("no root element") end
  return root.children[1]
end

-- Every element below el (el included) for which pred(e) is true, in document order
function xml.all (el, pred)
  local out, todo = {}, { el }
  while #todo > 0 do
    local e = table.remove(todo)
    if pred(e) then out[#out + 1] = e end
    for i = #e.children, 1, -1 do
      if type(e.children[i]) == "table" then todo[#todo + 1] = e.children[i] end
    end
  end
  return out
end

-- The elements named name, and those whose class is cls (either may be nil)
function xml.find (el, name, cls)
  return xml.all(el, function (e)
    return (name == nil or e.name == name) and (cls == nil or e.attrs.class == cls)
  end)
end

-- The text inside el, its children's included
function xml.text (el)
  local parts = {}
  for _, c in ipairs(el.children) do
    parts[#parts + 1] = type(c) == "string" and c or xml.text(c)
  end
  return table.concat(parts)
end

-- The texts of the <text> elements below el, in order
function xml.texts (el)
  local out = {}
  for i, t in ipairs(xml.find(el, "text")) do out[i] = xml.text(t) end
  return out
end

-- The numbers of a path's d, as {command, x, y} for each point ("M" or "L")
function xml.points (d)
  local out = {}
  for cmd, x, y in d:gmatch("([ML])(%-?[%d.]+) (%-?[%d.]+)") do
    out[#out + 1] = { cmd, tonumber(x), tonumber(y) }
  end
  return out
end

return xml
