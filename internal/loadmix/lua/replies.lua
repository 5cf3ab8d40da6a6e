-- Ticket replies: POST /tickets/{id}/reply on the thread's share of the
-- pre-made sessions, each with a token unique to the run in its body. The
-- token is written to the thread's sent file before the request goes, and
-- to its ack file when the answer is 303 (the reply was saved): the ack
-- file is what clients were told succeeded, which the database must hold.

function init(args)
  common_init(args)
  sessions = mine(data.sessions)
  sent = assert(io.open(outdir .. "/sent-" .. id .. ".txt", "w"))
  sent:setvbuf("line")
  ack = assert(io.open(outdir .. "/ack-" .. id .. ".txt", "w"))
  ack:setvbuf("line")
  seq = 0
  pending = nil
end

function delay()
  started = true
  return pause
end

function request()
  if not started then return unsent() end
  if awaiting then lost() end
  awaiting = true
  local s = sessions[seq % #sessions + 1]
  seq = seq + 1
  local token = string.format("%s-%d-%d", runid, id, seq)
  pending = s.t .. " " .. token
  sent:write(pending, "\n")
  count("attempted")
  return wrk.format("POST", "/tickets/" .. s.t .. "/reply", headers(s.k, nil, true),
    "body=Load+mix+reply+" .. token)
end

function response(status, hdrs, body)
  awaiting = false
  count("reply." .. status)
  if status == 303 and pending then
    ack:write(pending, "\n")
    count("ok")
  else
    failed(status)
  end
  pending = nil
end
