-- A virtual disk's device number as libxl gives it (libxl__device_disk_dev_number's scheme and
-- limits), so that xvde, d4p0 and 51776 are known as one disk: xvdX[N] or dNpM with disk
-- < 2^20 and partition < 256 (the basic major 202 for disk and partition < 16, the extended
-- scheme above); a number up to INT_MAX (decimal, 0x hex or 0 octal, as strtoul reads it);
-- hdX[N] up to 4 disks and 64 partitions; sdX[N] up to 16 disks and 16 partitions.
local vdev = {}

local INT_MAX = 0x7fffffff

-- A partition or disk number: digits, no leading zero. -> n | nil
local function number(text, max)
  if not text:match("^[1-9]%d*$") and text ~= "0" then
    return nil
  end
  local n = #text <= 10 and math.tointeger(tonumber(text))
  return n and n <= max and n or nil
end

-- prefix, drive letters ("a" 0, "z" 25, "aa" 26, ...) and an optional partition. -> disk, part
local function disk_name(text, prefix, max_disk, max_part)
  local letters, part = text:match("^" .. prefix .. "([a-z]+)(%d*)$")
  if not letters or #letters > 6 then
    return nil
  end
  local disk = -1
  for c in letters:gmatch(".") do
    disk = (disk + 1) * 26 + (c:byte() - 97)
  end
  if disk > max_disk then
    return nil
  end
  if part == "" then
    return disk, 0
  end
  part = part:sub(1, 1) ~= "0" and number(part, max_part)
  if not part then
    return nil
  end
  return disk, part
end

local function strtoul(text)
  local n
  if text:match("^0[xX]%x+$") then
    n = #text <= 10 and tonumber(text:sub(3), 16)
  elseif text:match("^0[0-7]*$") then
    n = #text <= 12 and tonumber(text, 8)
  elseif text:match("^[1-9]%d*$") then
    n = #text <= 10 and math.tointeger(tonumber(text))
  end
  return n and n <= INT_MAX and n or nil
end

-- vdev.devid(text) -> the device number | nil when libxl would refuse the name
function vdev.devid(text)
  text = tostring(text)
  local d, p = text:match("^d(%d+)p(%d+)$")
  local disk, part
  if d then
    disk, part = number(d, (1 << 20) - 1), number(p, 255)
  else
    disk, part = disk_name(text, "xvd", (1 << 20) - 1, 255)
  end
  if disk and part then
    if disk < 16 and part < 16 then
      return (202 << 8) | (disk << 4) | part
    end
    return (1 << 28) | (disk << 8) | part
  end
  if text:match("^%d") then
    return strtoul(text)
  end
  disk, part = disk_name(text, "hd", 3, 63)
  if disk then
    return ((disk < 2 and 3 or 22) << 8) | ((disk & 1) << 6) | part
  end
  disk, part = disk_name(text, "sd", 15, 15)
  if disk then
    return (8 << 8) | (disk << 4) | part
  end
  return nil
end

return vdev
