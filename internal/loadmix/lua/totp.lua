-- The sign-in with a second factor that signin.lua and exports.lua share
-- (the Go side writes common.lua, this file and the kind's script into one
-- wrk script). The kind's script defines address() (the flow's client
-- address) and after_signin (the state a flow goes on in once signed in),
-- and calls signin_request() and signin_response() first in its own
-- request() and response().
--
-- Each account of the thread's pool signs in at most once per 30-second
-- TOTP step: the server accepts a step once per account.

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
  -- Every account of the pool has used this step: wait for the next, but
  -- never longer than max_idle_ms at a time (an idle request goes out in
  -- between). A keep-alive connection left idle for longer is closed by
  -- the proxy or the server (HAProxy after 10 s in the cluster tests), and
  -- wrk, when a connection closes during a delay, reconnects and schedules
  -- a second delay beside the first: two requests then go out for one
  -- answer, and flows are counted lost or failed that nothing lost.
  count("waits")
  return math.min(((step + 1) * 30 - os.time() + 1) * 1000, max_idle_ms)
end

-- max_idle_ms is the longest a thread leaves its connection idle.
max_idle_ms = 2000

local function filler()
  state = "filler"
  return wrk.format("GET", "/healthz", { ["User-Agent"] = ua })
end

-- signin_request writes the sign-in's next request (POST /login, then
-- POST /login/mfa), or an idle one; nil once the flow is past them.
function signin_request()
  if state == "idle" then
    local step = current_step()
    local a = chosen
    chosen = nil
    if not a or a.last >= step or not code(a, step) then a = free(step) end
    if not a then
      -- Woken before the step changed: an idle request, not a sign-in.
      count("filler")
      return filler()
    end
    a.last = step
    used[a.i] = step
    flows = flows + 1
    acct, xff, cookie = a, address(), nil
    count("attempted")
    state = "login"
    return wrk.format("POST", "/login", headers(nil, xff, true), acct.b)
  elseif state == "mfa" then
    local step = current_step()
    local c = code(acct, step)
    if not c then
      -- The run outlasted the codes written for it: no guess is sent.
      count("nocode")
      return filler()
    end
    if step > acct.last then
      acct.last = step
      used[acct.i] = step
    end
    state = "mfa_sent"
    return wrk.format("POST", "/login/mfa", headers(cookie, xff, true), "code=" .. c)
  end
  return nil
end

-- signin_response takes the answer to a sign-in step and reports whether
-- it was one: on the full session the flow goes on in after_signin; on
-- anything else it fails and the thread starts over.
function signin_response(status, hdrs)
  if state == "filler" then
    state = "idle"
    return true
  end
  local ok
  if state == "login" then
    count("login." .. status)
    cookie = session_cookie(hdrs)
    ok = status == 303 and location(hdrs) == "/login/mfa" and cookie
    if ok then state = "mfa" end
  elseif state == "mfa_sent" then
    count("mfa." .. status)
    local full = session_cookie(hdrs)
    ok = status == 303 and location(hdrs) == "/account" and full
    if ok then
      cookie = full
      state = after_signin
    end
  else
    return false
  end
  if not ok then
    failed(status)
    state = "idle"
    paced = pause > 0
  end
  return true
end
