-- Sign-in with a second factor, one flow after another on each thread:
-- POST /login (303 to /login/mfa with a pending session), POST /login/mfa
-- with the account's TOTP code of the current step (303 to /account with
-- the full session), GET /account with it (200). Each account of the
-- thread's pool signs in at most once per 30-second step: the server
-- accepts a step once per account. Each flow claims its own client
-- address in 10.0.0.0/8, in a /24 of its own, so that the per-address and
-- per-network limits are not what is measured, and no country applies.

function init(args)
  common_init(args)
  pool = mine(data.accounts)
  for _, a in ipairs(pool) do a.last = a.s - 1 end
  used = {} -- account index: the last step it used
  cursor = 0
  flows = 0
  state = "idle"
  paced = false
end

-- free finds the next account of the pool that may sign in at step.
function free(step)
  for _ = 1, #pool do
    cursor = cursor % #pool + 1
    local a = pool[cursor]
    if a.last < step and code(a, step) then return a end
  end
  return nil
end

-- address is the flow's client address: flow n of thread id in a /24 of
-- its own (65,536 of them before one comes back).
function address()
  local n = flows * nthreads + id
  return string.format("10.%d.%d.%d", math.floor(n / 256) % 256, n % 256, 1 + math.floor(n / 65536) % 254)
end

function delay()
  started = true
  if state ~= "idle" then return 0 end
  if paced then
    paced = false
    return pause
  end
  local step = current_step()
  chosen = free(step)
  if chosen then return 0 end
  -- Every account of the pool has used this step: wait for the next.
  count("waits")
  return ((step + 1) * 30 - os.time() + 1) * 1000
end

function request()
  if not started then return unsent() end
  if awaiting then
    lost()
    state = "idle"
  end
  awaiting = true
  if state == "idle" then
    local step = current_step()
    local a = chosen
    chosen = nil
    if not a or a.last >= step or not code(a, step) then a = free(step) end
    if not a then
      -- Woken before the step changed: an idle request, not a sign-in.
      count("filler")
      state = "filler"
      return wrk.format("GET", "/healthz", { ["User-Agent"] = ua })
    end
    a.last = step
    used[a.i] = step
    flows = flows + 1
    acct, xff, cookie = a, address(), nil
    count("attempted")
    state = "login"
    return wrk.format("POST", "/login", headers(nil, xff, true),
      acct.b)
  elseif state == "mfa" then
    local step = current_step()
    local c = code(acct, step)
    if not c then
      -- The run outlasted the codes written for it: no guess is sent.
      count("nocode")
      state = "filler"
      return wrk.format("GET", "/healthz", { ["User-Agent"] = ua })
    end
    if step > acct.last then
      acct.last = step
      used[acct.i] = step
    end
    state = "mfa_sent"
    return wrk.format("POST", "/login/mfa", headers(cookie, xff, true), "code=" .. c)
  elseif state == "account" then
    state = "account_sent"
    return wrk.format("GET", "/account", headers(cookie, xff, false))
  end
end

function response(status, hdrs, body)
  awaiting = false
  if state == "filler" then
    state = "idle"
  elseif state == "login" then
    count("login." .. status)
    cookie = session_cookie(hdrs)
    if status == 303 and location(hdrs) == "/login/mfa" and cookie then
      state = "mfa"
    else
      failed(status)
      state = "idle"
      paced = pause > 0
    end
  elseif state == "mfa_sent" then
    count("mfa." .. status)
    local full = session_cookie(hdrs)
    if status == 303 and location(hdrs) == "/account" and full then
      cookie = full
      state = "account"
    else
      failed(status)
      state = "idle"
      paced = pause > 0
    end
  elseif state == "account_sent" then
    count("account." .. status)
    if status == 200 then count("ok") else failed(status) end
    state = "idle"
    paced = pause > 0
  end
end
