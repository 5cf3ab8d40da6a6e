-- Shared by every kind of the load mix; the Go side writes this file and
-- the kind's script one after the other into one wrk script.
--
-- wrk 4.1 Lua API: setup(thread) runs in the main state once per thread
-- before the thread's own init(args); then, in each thread, delay() before
-- each request (a script that defines it), request() for each request to
-- write, response(status, headers, body) for each answer; done(summary,
-- latency, requests) in the main state at the end. Each kind runs with one
-- connection per thread (-t N -c N), so a thread's requests and answers
-- alternate strictly, and a flow of several requests can keep its state in
-- the thread's globals.
--
-- args (after --): data file, output directory, number of threads, run ID,
-- kind, pause between flows in milliseconds (0: none).

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

counts = {}

function count(k, n)
  counts[k] = (counts[k] or 0) + (n or 1)
end

-- The TOTP step of now, as the server computes it (same clock: same machine).
function current_step()
  return math.floor(os.time() / 30)
end

-- code returns account a's TOTP code of step, or nil when the data has
-- none: a.c holds the 6-digit codes of consecutive steps from a.s on,
-- computed by the Go side with the authenticator's key.
function code(a, step)
  local i = (step - a.s) * 6
  if i < 0 or i + 6 > #a.c then return nil end
  return a.c:sub(i + 1, i + 6)
end

function common_init(args)
  data = dofile(args[1])
  outdir = args[2]
  nthreads = tonumber(args[3])
  runid = args[4]
  kind = args[5]
  pause = tonumber(args[6] or "0")
  ua = data.ua
  started = false   -- set by the first delay(): see request()
  awaiting = false  -- a request was written and its answer has not come
end

-- mine returns this thread's share of list: every nthreads-th element.
-- The shares are disjoint, so no two threads use the same account or
-- session.
function mine(list)
  local out = {}
  for i, v in ipairs(list) do
    if (i - 1) % nthreads == id then
      out[#out + 1] = v
    end
  end
  return out
end

-- headers builds a request's headers: the session's constant user agent
-- (a session is bound to its browser), the Fetch Metadata header that
-- passes the cross-origin check of a form post, the cookie, the client
-- address claimed through the trusted proxy.
function headers(cookie, xff, form)
  local h = { ["User-Agent"] = ua, ["Sec-Fetch-Site"] = "same-origin" }
  if cookie then h["Cookie"] = "__Host-portico-session=" .. cookie end
  if xff then h["X-Forwarded-For"] = xff end
  if form then h["Content-Type"] = "application/x-www-form-urlencoded" end
  return h
end

function session_cookie(hdrs)
  local c = hdrs["Set-Cookie"] or hdrs["set-cookie"]
  if not c then return nil end
  return c:match("__Host%-portico%-session=([^;]+)")
end

function location(hdrs)
  return hdrs["Location"] or hdrs["location"] or ""
end

-- failed counts a failed flow (or request) by the class of the status
-- that ended it: 5xx, or any other unexpected answer. The step's own
-- counter ("<step>.<status>") is counted by the caller.
function failed(status)
  if status >= 500 then count("fail_5xx") else count("fail_other") end
end

-- The last request's answer never came (the connection broke and wrk
-- reconnected, calling request() again): the step's outcome is unknown.
function lost()
  count("lost")
end

-- The request wrk's start-up check asks for on the first thread: parsed,
-- never sent. Every real request follows a delay().
function unsent()
  return wrk.format("GET", "/healthz", { ["User-Agent"] = ua })
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  local e = summary.errors
  io.write(string.format("loadmix requests %d\n", summary.requests))
  io.write(string.format("loadmix duration_us %d\n", summary.duration))
  io.write(string.format("loadmix err.connect %d\nloadmix err.read %d\nloadmix err.write %d\nloadmix err.status %d\nloadmix err.timeout %d\n",
    e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format("loadmix p50_us %d\nloadmix p99_us %d\nloadmix max_us %d\n",
    latency:percentile(50), latency:percentile(99), latency.max))
  for k, v in pairs(total) do
    io.write(string.format("loadmix count.%s %d\n", k, v))
  end
  -- The TOTP step each account used last, for the next run on the same
  -- accounts (the server never accepts a step twice).
  -- (A flat table: wrk copies it from the thread's state.)
  local steps
  for _, t in ipairs(threads) do
    local used = t:get("used")
    if used then
      steps = steps or assert(io.open(t:get("outdir") .. "/steps.txt", "w"))
      for i, last in pairs(used) do steps:write(i, " ", last, "\n") end
    end
  end
  if steps then steps:close() end
end
