-- wrk script: the request-cost baseline, an authenticated GET /api/calls/{id}/state.
-- Arguments: a bearer token and the id of a call of its user.

function init(args)
  path = "/api/calls/" .. args[2] .. "/state"
  headers = {["Authorization"] = "Bearer " .. args[1]}
end

function request()
  return wrk.format("GET", path, headers)
end
