-- wrk script: POSTs the requests listed in $BENCH_REQUESTS, one per line as
-- "<Authorization header or empty><TAB><form body>[<TAB><DPoP header>]", cycling from a random start.
-- With $BENCH_METHOD=GET it GETs instead, each line "<Authorization header or empty><TAB><path and query>".
-- With $BENCH_MEAN_DELAY_MS each connection waits an exponentially distributed time (that mean)
-- before each request: arrivals like independent clients, at about connections / mean per ms.
local reqs, n, i = {}, 0, 0
local mean_delay = tonumber(os.getenv("BENCH_MEAN_DELAY_MS") or "")
local get = os.getenv("BENCH_METHOD") == "GET"

if mean_delay then
  function delay()
    return -math.log(1 - math.random()) * mean_delay
  end
end

function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local auth, body = line:match("^([^\t]*)\t([^\t]*)")
    local dpop = line:match("^[^\t]*\t[^\t]*\t(.+)$")
    local headers = {}
    if not get then headers["Content-Type"] = "application/x-www-form-urlencoded" end
    if auth ~= "" then headers["Authorization"] = auth end
    if dpop then headers["DPoP"] = dpop end
    n = n + 1
    if get then
      reqs[n] = wrk.format("GET", body, headers)
    else
      reqs[n] = wrk.format("POST", nil, headers, body)
    end
  end
  math.randomseed(os.time() + n)
  i = math.random(n) - 1
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\n{"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(99)))
end
