-- wrk script: whole call lifecycles, one caller/callee pair per wrk thread (run with -t N -c N, so each
-- thread has one connection and its responses come back in order). Each lifecycle is five requests:
-- start (caller), accept (callee), joined (caller), joined (callee), hang up (caller).
-- Argument 1 is a Lua file returning { {caller=TOKEN, callee=TOKEN, callee_id=ID, conversation=ID}, ... }.
-- done() prints "lifecycles N failures M": M counts answers whose envelope code is not 0.

local threads = {}
local count = 0

function setup(thread)
  count = count + 1
  thread:set("id", count)
  table.insert(threads, thread)
end

function init(args)
  pair = dofile(args[1])[id]
  step = 0
  call = "0"
  failures = 0
  lifecycles = 0
end

local function post(path, token, body)
  return wrk.format("POST", path, {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

local joined = '{"terminal_id":"%s","stage":"joined","network_quality":"good"}'

function request()
  if step == 0 then
    return post("/api/calls/session", pair.caller, string.format(
      '{"conversation_id":%d,"target_user_id":%d,"call_type":"audio","biz_type":"single","terminal_id":"wrk-a"}',
      pair.conversation, pair.callee_id))
  elseif step == 1 then
    return post("/api/calls/" .. call .. "/accept", pair.callee, '{"terminal_id":"wrk-b"}')
  elseif step == 2 then
    return post("/api/calls/" .. call .. "/media-state", pair.caller, string.format(joined, "wrk-a"))
  elseif step == 3 then
    return post("/api/calls/" .. call .. "/media-state", pair.callee, string.format(joined, "wrk-b"))
  end
  return post("/api/calls/" .. call .. "/hangup", pair.caller, '{"terminal_id":"wrk-a"}')
end

function response(status, headers, body)
  if not string.find(body, '"code":0,', 1, true) then
    failures = failures + 1
    if step == 0 then
      return -- no call to go on with: start again
    end
  end
  if step == 0 then
    call = string.match(body, '"call_id":(%d+)')
  elseif step == 4 then
    lifecycles = lifecycles + 1
  end
  step = (step + 1) % 5
end

function done(summary, latency, requests)
  local completed, failed = 0, 0
  for _, thread in ipairs(threads) do
    completed = completed + thread:get("lifecycles")
    failed = failed + thread:get("failures")
  end
  io.write(string.format("lifecycles %d failures %d\n", completed, failed))
end
