-- Sign-in with a second factor, one flow after another on each thread:
-- POST /login (303 to /login/mfa with a pending session), POST /login/mfa
-- with the account's TOTP code of the current step (303 to /account with
-- the full session), GET /account with it (200). Each account of the
-- thread's pool signs in at most once per 30-second step: the server
-- accepts a step once per account. Each flow claims its own client
-- address in 10.0.0.0/8, in a /24 of its own, so that the per-address and
-- per-network limits are not what is measured, and no country applies.
-- The sign-in itself is in totp.lua.

after_signin = "account"

-- address is the flow's client address: flow n of thread id in a /24 of
-- its own (65,536 of them before one comes back).
function address()
  local n = flows * nthreads + id
  return string.format("10.%d.%d.%d", math.floor(n / 256) % 256, n % 256, 1 + math.floor(n / 65536) % 254)
end

function request()
  if not started then return unsent() end
  if awaiting then
    lost()
    state = "idle"
  end
  awaiting = true
  local r = signin_request()
  if r then return r end
  if state == "account" then
    state = "account_sent"
    return wrk.format("GET", "/account", headers(cookie, xff, false))
  end
end

function response(status, hdrs, body)
  awaiting = false
  if signin_response(status, hdrs) then return end
  if state == "account_sent" then
    count("account." .. status)
    if status == 200 then count("ok") else failed(status) end
    state = "idle"
    paced = pause > 0
  end
end
