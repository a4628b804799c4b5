-- luagrad.contour: where a function sampled on a grid crosses 0 (marching squares), for the
-- boundary lines and filled regions of lg.plot.decision_boundary. A grid of nx x ny nodes
-- is an array v with v[(j - 1) * nx + i] at node (i, j); results are in node coordinates
-- (fractional i and j). Internal: these names may change.
--
-- Loading touches only the base library (see init.lua).
local ipairs = ipairs

local contour = {}

-- The segments of every cell where v crosses 0, and the crossing points: segs[k] = {e1, e2}
-- (edge ids) and at[e] = {i, j}. Each crossing is found once, from its edge's two nodes, so
-- the segments of neighbouring cells meet exactly. A node at 0 counts as above; a saddle
-- cell (diagonal corners alike) is split as the mean of its corners says.
local function segments (v, nx, ny)
  local at, segs = {}, {}
  local function cross (e, a, b, i, j, di, dj)   -- on the edge from node (i, j) onwards
    if at[e] == nil then
      local t = a / (a - b)
      at[e] = { i + di * t, j + dj * t }
    end
    return e
  end
  for j = 1, ny - 1 do
    for i = 1, nx - 1 do
      local k = (j - 1) * nx + i
      local a, b, c, d = v[k], v[k + 1], v[k + nx + 1], v[k + nx]   -- counterclockwise
      local A, B, C, D = a >= 0, b >= 0, c >= 0, d >= 0
      if not (A == B and B == C and C == D) then
        -- edge ids: 2k the edge from node k rightwards, 2k + 1 the one upwards
        local bottom = A ~= B and cross(2 * k, a, b, i, j, 1, 0)
        local left = A ~= D and cross(2 * k + 1, a, d, i, j, 0, 1)
        local top = D ~= C and cross(2 * (k + nx), d, c, i, j + 1, 1, 0)
        local right = B ~= C and cross(2 * (k + 1) + 1, b, c, i + 1, j, 0, 1)
        if A == C and B == D then   -- a saddle: cut off the two corners unlike the centre
          if ((a + b + c + d) / 4 >= 0) ~= A then
            segs[#segs + 1] = { bottom, left }
            segs[#segs + 1] = { right, top }
          else
            segs[#segs + 1] = { bottom, right }
            segs[#segs + 1] = { left, top }
          end
        else
          local e1, e2 = false, false
          for _, e in ipairs({ bottom, right, top, left }) do
            if e then
              if e1 then e2 = e else e1 = e end
            end
          end
          segs[#segs + 1] = { e1, e2 }
        end
      end
    end
  end
  return segs, at
end

-- The segments joined into lines (arrays of points), in the order they were found: at most
-- two segments meet at an edge, so each line is a walk from its first segment both ways
local function join (segs, at)
  local byedge, used, lines = {}, {}, {}
  for k, sg in ipairs(segs) do
    for _, e in ipairs(sg) do
      byedge[e] = byedge[e] or {}
      byedge[e][#byedge[e] + 1] = k
    end
  end
  local function extend (chain, e)   -- appends the edges of unused segments from e on
    while true do
      local nextseg
      for _, k in ipairs(byedge[e]) do
        if not used[k] then nextseg = k end
      end
      if not nextseg then return end
      used[nextseg] = true
      local sg = segs[nextseg]
      e = sg[1] == e and sg[2] or sg[1]
      chain[#chain + 1] = e
    end
  end
  for k, sg in ipairs(segs) do
    if not used[k] then
      used[k] = true
      local back, fwd = { sg[1] }, { sg[2] }
      extend(fwd, sg[2])
      extend(back, sg[1])
      local line = {}
      for n = #back, 1, -1 do line[#line + 1] = at[back[n]] end
      for _, e in ipairs(fwd) do line[#line + 1] = at[e] end
      lines[#lines + 1] = line
    end
  end
  return lines
end

-- contour.lines(v, nx, ny) -> the lines where v crosses 0 (open at the grid's border)
function contour.lines (v, nx, ny)
  return join(segments(v, nx, ny))
end

--[[
contour.regions(v, nx, ny) -> closed loops around the region where v >= 0, to fill with the
even-odd rule (a hole is a loop inside a loop). The grid gets a ring of nodes far below 0
around it, so every line closes, along the border where the region meets it.
]]
function contour.regions (v, nx, ny)
  local w, padded = nx + 2, {}
  for j = 0, ny + 1 do
    for i = 0, nx + 1 do
      local inside = i >= 1 and i <= nx and j >= 1 and j <= ny
      padded[j * w + i + 1] = inside and v[(j - 1) * nx + i] or -1e300
    end
  end
  local loops = join(segments(padded, w, ny + 2))
  for _, loop in ipairs(loops) do
    for n, p in ipairs(loop) do loop[n] = { p[1] - 1, p[2] - 1 } end
  end
  return loops
end

return contour
