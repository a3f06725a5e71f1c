-- Handsets answering a whole USSD survey, as Africa's Talking posts it: driven by wrk.
--
-- wrk 4.1's Lua cannot tell which connection a request or a response belongs to, so the
-- bench runs one thread per connection: each wrk thread is one handset. A handset keeps its
-- sessionId through the survey, sends `text` growing with the *-joined answers, and starts
-- a new survey (new sessionId, new phone number) after the last screen.
--
-- Think time is a blocking sleep in response(), not wrk's delay(): gunicorn's sync workers
-- close the connection after each answer, and wrk reconnects at once; with delay() the new
-- connection would sit idle through the pause, holding one of the two sync workers, which no
-- telco does. Sleeping in response() blocks only this handset's own thread, but it comes
-- before wrk closes the old connection, and gunicorn (since 23) lingers on a closed
-- connection until the client closes too: so before each pause the handset half-closes the
-- connections the server has finished with (release_finished), as an HTTP client that has
-- read its answer does.
--
-- Settings come from the environment (wrk hands script arguments to threads only, after the
-- main state has already read the script):
--   BENCH_ANSWERS   the answers, comma-separated, e.g. "1,11,5,6,2,1,1,3"
--   BENCH_THINK_MS  mean pause before each screen (0: back to back); +-50% jitter
--   BENCH_HANDSETS  how many handsets (threads): their start is spread over one pause
--   BENCH_SURVEYS   surveys per handset, then the handset waits (0: until wrk's -d ends)
--   BENCH_STOP_FILE once every handset is done, the bench creates it: the handsets stop
--   BENCH_FIRST     first phone number offset: keeps runs against one gateway apart
--   BENCH_STRIDE    numbers reserved per handset
--   BENCH_SERVICE   the USSD code

local ffi = require("ffi")
local bit = require("bit")
ffi.cdef([[
struct pollfd { int fd; short events; short revents; };
int poll(struct pollfd *fds, unsigned long nfds, int timeout);
int shutdown(int sockfd, int how);
]])
local POLLHUP, POLLRDHUP, SHUT_WR = 0x10, 0x2000, 1

local function sleep_ms(ms)
  ffi.C.poll(nil, 0, ms)
end

local function env_number(name, default)
  return tonumber(os.getenv(name) or "") or default
end

local answers = {}
for answer in string.gmatch(os.getenv("BENCH_ANSWERS") or "1", "[^,]+") do
  answers[#answers + 1] = answer
end
local think_ms = env_number("BENCH_THINK_MS", 0)
local handsets = env_number("BENCH_HANDSETS", 1)
local surveys_per_handset = env_number("BENCH_SURVEYS", 0)
local first = env_number("BENCH_FIRST", 0)
local stride = env_number("BENCH_STRIDE", 100000)
local service = os.getenv("BENCH_SERVICE") or "*384*123#"
local stop_file = os.getenv("BENCH_STOP_FILE") or ""

-- Every descriptor wrk may have open: a socket and an epoll per thread, and a few more.
local watched_count = 4 * handsets + 64
local watched = ffi.new("struct pollfd[?]", watched_count)
for i = 0, watched_count - 1 do
  watched[i].fd = i
  watched[i].events = POLLRDHUP
end

-- Half-close every socket of this process whose server has closed its side: the answer on
-- it is complete (or it failed), and the server is waiting for our close. Done for all
-- threads' sockets because a thread cannot tell which descriptor is its own; a half-close
-- changes nothing for the thread that will close it fully later. POLLHUP: already closed
-- both ways, nothing to do.
local function finished(revents)
  return bit.band(revents, POLLRDHUP) ~= 0 and bit.band(revents, POLLHUP) == 0
end

local function release_finished()
  if ffi.C.poll(watched, watched_count, 0) <= 0 then
    return
  end
  for i = 3, watched_count - 1 do
    -- Looked at again just before: another thread may have closed that descriptor since
    -- and opened a new connection under the same number.
    if finished(watched[i].revents) and ffi.C.poll(watched + i, 1, 0) > 0
        and finished(watched[i].revents) then
      ffi.C.shutdown(watched[i].fd, SHUT_WR)
    end
  end
end

local function encode(value)
  return (string.gsub(value, "[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

-- Main state: number the threads, keep them to add up their counts in done().
local threads = {}
local next_handset = 1

function setup(thread)
  thread:set("handset", next_handset)
  next_handset = next_handset + 1
  threads[#threads + 1] = thread
end

-- Thread state: one handset. Globals so that done() can read them with thread:get().
completed = 0   -- surveys answered to their last screen
bad = 0         -- screens that were not 200 with CON (or END on the last screen)
sample = ""     -- the first bad screen, for the report
local survey = 0
local step = 0  -- answers typed in the request now waiting for its screen
local session_id, phone

local function new_survey()
  -- Numbers stay unique per handset and survey, and Malian mobile numbers (+223 7.......).
  local number = first + (handset - 1) * stride + survey % stride
  phone = string.format("+2237%07d", number % 10000000)
  session_id = string.format("bench-%d-%d-%d-%d", first, handset, survey, math.random(1e9))
  survey = survey + 1
  step = 0
end

function init(args)
  math.randomseed(os.time() * 1000 + handset)
  new_survey()
  if think_ms > 0 then
    -- wrk calls init() for one thread after another before any starts: pausing here spreads
    -- the handsets' first screens over one think time instead of all at the same instant.
    sleep_ms(math.floor(think_ms / handsets))
  end
end

function request()
  local typed = table.concat(answers, "*", 1, step)
  local body = "sessionId=" .. encode(session_id)
    .. "&serviceCode=" .. encode(service)
    .. "&phoneNumber=" .. encode(phone)
    .. "&networkCode=61001"
    .. "&text=" .. encode(typed)
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  return wrk.format("POST", nil, headers, body)
end

local function note_bad(status, body)
  bad = bad + 1
  if sample == "" then
    sample = string.format("%d at step %d: %s", status, step, string.sub(body, 1, 60))
  end
end

local function exists(path)
  local file = io.open(path, "r")
  if file then
    file:close()
  end
  return file ~= nil
end

-- A handset done with its surveys waits here, in response(), until all are done: returning
-- would have wrk open a new connection at once, and an idle connection holds a sync worker
-- until gunicorn's 30 s timeout, stalling the handsets still answering.
local function wait_for_the_others()
  io.write("handset done\n")
  io.flush()
  repeat
    release_finished()
    sleep_ms(50)
  until stop_file == "" or exists(stop_file)
  wrk.thread:stop()
end

function response(status, headers, body)
  local last = step == #answers
  local expected = last and "END " or "CON "
  if status ~= 200 or string.sub(body, 1, 4) ~= expected then
    note_bad(status, body)
    new_survey()  -- a real handset would hang up too
  elseif last then
    completed = completed + 1
    new_survey()
  else
    step = step + 1
  end
  if surveys_per_handset > 0 and survey > surveys_per_handset then
    wait_for_the_others()
  elseif think_ms > 0 then
    release_finished()
    sleep_ms(2)  -- a server's close arriving just after its answer
    release_finished()
    sleep_ms(math.floor(think_ms * (0.5 + math.random())))
  end
end

-- Safe inside the JSON string of the result line: screens hold newlines and accents.
local function clean(text)
  local spaced = string.gsub(text, "%s", " ")
  return (string.gsub(spaced, '[^%w %.,:;!%?%-_/%*#%+]', "?"))
end

function done(summary, latency, requests)
  local total_completed, total_bad, first_sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    total_completed = total_completed + (thread:get("completed") or 0)
    total_bad = total_bad + (thread:get("bad") or 0)
    local s = thread:get("sample") or ""
    if first_sample == "" then first_sample = s end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "seconds": %.3f, "completed": %d, "bad": %d, '
      .. '"socket_errors": %d, "timeouts": %d, "p50_ms": %.3f, "p99_ms": %.3f, '
      .. '"max_ms": %.3f, "sample": "%s"}\n',
    summary.requests, summary.duration / 1e6, total_completed, total_bad,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    clean(first_sample)))
end
