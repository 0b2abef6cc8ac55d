-- wrk script for the request-rate workload: every request is a single-point
-- POST /api/2.0/mlflow/runs/log-metric with a distinct step (thread id * 1e9 + n),
-- so each 200 response must correspond to exactly one stored point.
-- Arguments (after `--`): run_id metric_key base_timestamp_ms
-- Prints one line `BENCHJSON {...}` with the counts and latency percentiles.

local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

function init(args)
  run_id = args[1]
  key = args[2]
  base_ts = tonumber(args[3])
  sent = 0
  ok = 0
  non200 = 0
  first_err = ""
  hdrs = { ["Content-Type"] = "application/json" }
end

function request()
  sent = sent + 1
  local step = tid * 1000000000 + sent
  local body = string.format(
    '{"run_id":"%s","key":"%s","value":%d.25,"timestamp":%d,"step":%d}',
    run_id, key, sent % 1000, base_ts + sent, step)
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-metric", hdrs, body)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  else
    non200 = non200 + 1
    if first_err == "" then
      first_err = tostring(status) .. " " .. string.sub(tostring(body), 1, 300)
    end
  end
end

local function jsonstr(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == '\\' then return '\\\\' else return ' ' end
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local s, o, n, fe = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    s = s + t:get("sent")
    o = o + t:get("ok")
    n = n + t:get("non200")
    local e = t:get("first_err")
    if fe == "" and e ~= nil then fe = e end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"sent":%d,"ok":%d,"non200":%d,"completed":%d,"duration_us":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"first_err":%s}\n',
    s, o, n, summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout, jsonstr(fe)))
end
