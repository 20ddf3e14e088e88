-- xlua restore's replacement CONFIG gets the conversion's warnings (with file and line), and
-- --strict refuses a CONFIG xl would only warn about, as convert --strict and create --strict do.
local s = require("support.sim").new()
local x, cfg = s.x, s.file

local WEB = 'name = "%s"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 64\nvcpus = 1\n'

describe("xlua restore CONFIG FILE", function()
  local file = s.root .. "/r1.sav"
  setup(function()
    assert.equal(0, select(3, x({ "create", cfg("r1.cfg", WEB:format("r1")) })))
    assert.equal(0, select(3, x({ "save", "r1", file })))
  end)

  it("warns about a replacement as convert does, and --strict refuses it (exit 2)", function()
    local warned = cfg("r1-warn.cfg", WEB:format("r1") .. 'cpu_weight = "heavy"\n')
    local out, err, code = x({ "restore", "-n", warned, file })
    assert.equal(0, code, err)
    assert.matches("would restore", out)
    assert.matches("r1%-warn%.cfg:6: cpu_weight: ", err)
    out, err, code = x({ "restore", "-n", "--strict", warned, file })
    assert.equal(2, code, err)
    assert.matches("cpu_weight", err)
    assert.equal("", out)
    -- a replacement without warnings is not affected
    out, err, code = x({ "restore", "-n", "--strict", cfg("r1-ok.cfg", WEB:format("r1")), file })
    assert.equal(0, code, err)
  end)
end)
