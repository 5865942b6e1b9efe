-- POSTs pre-signed bodies in turn. BENCH_REQUESTS names a file of lines
-- "<signature header value>\t<body>"; BENCH_HEADER is the signature header.
local requests = {}
local header = os.getenv("BENCH_HEADER")
for line in io.lines(os.getenv("BENCH_REQUESTS")) do
  local tab = line:find("\t", 1, true)
  requests[#requests + 1] = { sig = line:sub(1, tab - 1), body = line:sub(tab + 1) }
end
local i = 0
local thread_offset = 0

function setup(thread)
  thread:set("thread_offset", math.random(1, #requests))
end

function request()
  i = i + 1
  local r = requests[((i + thread_offset) % #requests) + 1]
  local headers = { ["Content-Type"] = "application/json" }
  headers[header] = r.sig
  return wrk.format("POST", nil, headers, r.body)
end

-- BENCH_RATE: hold a fixed rate, wrk2-style: request k (over all connections) is due
-- at start + k / rate, and a free connection sends its next request when one is due.
-- A response slower than the schedule makes the next request go at once (catch up),
-- so the rate holds while fewer than all connections are busy. Unset: saturation.
local rate = tonumber(os.getenv("BENCH_RATE") or "")
if rate then
  local ffi = require("ffi")
  ffi.cdef[[
    struct pp_timespec { long tv_sec; long tv_nsec; };
    int clock_gettime(int clk_id, struct pp_timespec *tp);
  ]]
  local CLOCK_MONOTONIC = 1
  local ts = ffi.new("struct pp_timespec")
  local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local interval = 1000 / rate
  local due = nil
  function delay()
    local now = now_ms()
    due = (due or now) + interval
    return math.max(0, math.floor(due - now + 0.5))
  end
end
