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

-- BENCH_DELAY_MS: pause per connection between requests, to hold a fixed rate
-- (connections / delay); unset for saturation.
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if pause then
  function delay()
    return pause
  end
end
