-- bench/get_job.lua, also counting the answers by status (printed at the end), so a run
-- with non-2xx answers says which ones.
local jobs = tonumber(os.getenv("SEED_JOBS") or "1000")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + math.random(1, 1000000))
  statuses = {}
end

function request()
  return wrk.format("GET", "/scheduler/jobs/" .. math.random(1, jobs) .. "/")
end

function response(status, headers, body)
  if status ~= 200 then
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      io.write(string.format("status %d: %d\n", status, count))
    end
  end
end
