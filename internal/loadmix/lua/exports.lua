-- Data exports at a low rate: a customer signs in with both factors (as
-- signin.lua, through totp.lua; a fresh sign-in is what the export's
-- step-up asks for), POSTs /account/data/export (200, the page with a
-- single-use download token), downloads the archive (200) and tries the
-- same token again (410: the link works once). Flows are paced by the
-- pause argument.

after_signin = "export"

-- Export flows claim addresses in 10.255.0.0/16, apart from sign-ins.
function address()
  local n = flows * nthreads + id
  return string.format("10.255.%d.%d", n % 256, 1 + math.floor(n / 256) % 254)
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
  if state == "export" then
    state = "export_sent"
    return wrk.format("POST", "/account/data/export", headers(cookie, xff, true), "")
  elseif state == "download" or state == "again" then
    state = state .. "_sent"
    return wrk.format("POST", "/account/data/download", headers(cookie, xff, true), "token=" .. token)
  end
end

function response(status, hdrs, body)
  awaiting = false
  if signin_response(status, hdrs) then return end
  local step = state:gsub("_sent$", "")
  count(step .. "." .. status)
  local nextstate = "idle"
  if state == "export_sent" then
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
