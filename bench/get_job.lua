-- wrk script: GET a random one of the seeded jobs (ids 1..SEED_JOBS) on every request, so
-- reads are spread over many rows rather than one hot row.
local jobs = tonumber(os.getenv("SEED_JOBS") or "1000")

function init(args)
  math.randomseed(os.time() + math.random(1, 1000000))
end

function request()
  return wrk.format("GET", "/scheduler/jobs/" .. math.random(1, jobs) .. "/")
end
