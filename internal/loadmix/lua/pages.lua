-- Signed-in pages: GET /tickets, /account and /tickets/{id}, round-robin
-- over the thread's share of the pre-made sessions, each page with its
-- session's cookie and user agent (a session used from another browser is
-- ended: CP-6.3).

function init(args)
  common_init(args)
  sessions = mine(data.sessions)
  k = 0
end

function delay()
  started = true
  return pause
end

function request()
  if not started then return unsent() end
  if awaiting then lost() end
  awaiting = true
  local s = sessions[math.floor(k / 3) % #sessions + 1]
  local path = ({ "/tickets", "/account", "/tickets/" .. s.t })[k % 3 + 1]
  k = k + 1
  count("attempted")
  return wrk.format("GET", path, headers(s.k, nil, false))
end

function response(status, hdrs, body)
  awaiting = false
  count("page." .. status)
  if status == 200 then count("ok") else failed(status) end
end
