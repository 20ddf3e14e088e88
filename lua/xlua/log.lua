-- The one logger of the Lua side: formats, then hands the line to the host's C logger.
local xlua = require("xlua")

local log = {}

for _, level in ipairs({ "debug", "info", "warn", "error" }) do
  log[level] = function(fmt, ...)
    xlua.log(level, select("#", ...) > 0 and string.format(fmt, ...) or fmt)
  end
end

return log
