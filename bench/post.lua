-- wrk script: POST one multipart upload (body prepared by bench/service.py), report percentiles as JSON.
local body_file = os.getenv("BENCH_BODY")
local boundary = os.getenv("BENCH_BOUNDARY")
local handle = io.open(body_file, "rb")
wrk.method = "POST"
wrk.body = handle:read("*all")
handle:close()
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests": %d, "seconds": %.3f, "errors": %d, "p50": %.3f, "p95": %.3f, "p99": %.3f}\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
