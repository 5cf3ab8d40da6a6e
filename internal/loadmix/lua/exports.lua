-- Data exports at a low rate: a customer signs in with both factors (as
-- signin.lua; a fresh sign-in is what the export's step-up asks for),
-- POSTs /account/data/export (200, the page with a single-use download
-- token), downloads the archive (200) and tries the same token again
-- (410: the link works once). Flows are paced by the pause argument.

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

function free(step)
  for _ = 1, #pool do
    cursor = cursor % #pool + 1
    local a = pool[cursor]
    if a.last < step and code(a, step) then return a end
  end
  return nil
end

-- Export flows claim addresses in 10.255.0.0/16, apart from sign-ins.
function address()
  local n = flows * nthreads + id
  return string.format("10.255.%d.%d", n % 256, 1 + math.floor(n / 256) % 254)
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
      count("filler")
      state = "filler"
      return wrk.format("GET", "/healthz", { ["User-Agent"] = ua })
    end
    a.last = step
    used[a.i] = step
    flows = flows + 1
    acct, xff, cookie, token = a, address(), nil, nil
    count("attempted")
    state = "login"
    return wrk.format("POST", "/login", headers(nil, xff, true),
      acct.b)
  elseif state == "mfa" then
    local step = current_step()
    if not code(acct, step) then
      count("nocode")
      state = "filler"
      return wrk.format("GET", "/healthz", { ["User-Agent"] = ua })
    end
    if step > acct.last then
      acct.last = step
      used[acct.i] = step
    end
    state = "mfa_sent"
    return wrk.format("POST", "/login/mfa", headers(cookie, xff, true), "code=" .. code(acct, step))
  elseif state == "export" then
    state = "export_sent"
    return wrk.format("POST", "/account/data/export", headers(cookie, xff, true), "")
  elseif state == "download" or state == "again" then
    state = state .. "_sent"
    return wrk.format("POST", "/account/data/download", headers(cookie, xff, true), "token=" .. token)
  end
end

function response(status, hdrs, body)
  awaiting = false
  if state == "filler" then
    state = "idle"
    return
  end
  local step = state:gsub("_sent$", "")
  count(step .. "." .. status)
  local nextstate = "idle"
  if state == "login" then
    cookie = session_cookie(hdrs)
    if status == 303 and location(hdrs) == "/login/mfa" and cookie then nextstate = "mfa" end
  elseif state == "mfa_sent" then
    local full = session_cookie(hdrs)
    if status == 303 and location(hdrs) == "/account" and full then
      cookie = full
      nextstate = "export"
    end
  elseif state == "export_sent" then
    token = status == 200 and body and body:match('name="token" value="([^"]+)"')
    if token then nextstate = "download" end
  elseif state == "download_sent" then
    if status == 200 then nextstate = "again" end
  elseif state == "again_sent" then
    -- The token was spent by the download: refused now.
    if status == 410 then
      count("ok")
      count("reuse_refused")
    else
      count("reuse_not_refused")
      failed(status)
    end
    state = "idle"
    paced = pause > 0
    return
  end
  if nextstate == "idle" then
    failed(status)
    paced = pause > 0
  end
  state = nextstate
end
