-- wrk script: POST a new job with a unique name on every request.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  math.randomseed(os.time() + thread_id)
  run_tag = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000))
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"name": "bench-%s-%d-%d", "cron_expression": "0 0 1 1 *", "parameters": {"action": "noop", "n": %d}}',
    run_tag, thread_id, counter, counter)
  return wrk.format("POST", "/scheduler/jobs/", {["Content-Type"] = "application/json"}, body)
end
