-- wrk script: the request-cost baseline, an authenticated GET /api/calls/{id}/state.
-- Arguments: a bearer token and the id of a call of its user.
-- Each answer's envelope is checked as lifecycle.lua checks its own (so that the two scripts cost wrk the
-- same per answer); done() prints "states N failures M", M counting answers whose code is not 0.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  path = "/api/calls/" .. args[2] .. "/state"
  headers = {["Authorization"] = "Bearer " .. args[1]}
  answers = 0
  failures = 0
end

function request()
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  answers = answers + 1
  if not string.find(body, '"code":0,', 1, true) then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local answered, failed = 0, 0
  for _, thread in ipairs(threads) do
    answered = answered + thread:get("answers")
    failed = failed + thread:get("failures")
  end
  io.write(string.format("states %d failures %d\n", answered, failed))
end
