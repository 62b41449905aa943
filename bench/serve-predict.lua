-- wrk script for `neuralnet serve`: POST /api/predict with 784 JSON pixels (an MNIST-like stroke).
-- wrk -t4 -c64 -d60s --latency -s bench/serve-predict.lua http://127.0.0.1:8080/api/predict
local pixels = {}
for i = 0, 783 do
  local y, x = math.floor(i / 28), i % 28
  pixels[#pixels + 1] = ((y >= 5 and y < 8 and x >= 6 and x < 22) or (y >= 8 and y < 24 and math.abs(x - (21 - (y - 8) / 2)) <= 1)) and "1" or "0"
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"pixels": [' .. table.concat(pixels, ",") .. ']}'

done = function(summary, latency, requests)
  io.write(string.format("requests %d, non-200 %d, socket errors %d, p50 %.2f ms, p99 %.2f ms\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
