-- wrk script for `neuralnet serve`: POST /api/predict with a photo upload (PNG or JPEG by extension).
-- PHOTO=path/to/digit.png wrk -t2 -c32 -d60s --latency -s bench/serve-photo.lua http://127.0.0.1:8080/api/predict
local path = os.getenv("PHOTO") or error("set PHOTO to a .png or .jpg file")
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = path:lower():match("%.jpe?g$") and "image/jpeg" or "image/png"
wrk.body = body

done = function(summary, latency, requests)
  io.write(string.format("requests %d, non-200 %d, socket errors %d, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
