-- Requests for Debian's wrk, read from a file written by bench/wrkload.py (one request a line:
-- tag TAB method TAB path TAB headers TAB body; headers "Name: value" separated by \31, the body
-- with backslash, line feed, CR and tab escaped as \\, \n, \r, \t). Each thread walks the file
-- from its own random start, so the mix of the file is the mix of the load.
--
-- wrk runs one connection per thread here (bench/wrkload.py passes -t = -c): a thread's response
-- is then always the answer to its last request, which lets this script count statuses per tag
-- (and the dossiers created: tag create_dossier, status 201), and the requests still unanswered
-- when wrk stopped ("pending": a POST the server may finish after the run). done() prints one
-- line, "WRKJSON {...}", that bench/wrkload.py reads.
--
-- With WRK_FORWARDED_FOR=1 in the environment each request carries "X-Forwarded-For: 10.x.y.z"
-- from a pool of 4,000 addresses: the load generator plays a front proxy, so behind HAProxy with
-- TRUSTED_PROXY_COUNT=2 the application sees many citizens, not one (its lookup throttle counts
-- per address).

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

local function split(text, separator)
   local parts = {}
   local start = 1
   while true do
      local i = string.find(text, separator, start, true)
      if not i then
         table.insert(parts, string.sub(text, start))
         return parts
      end
      table.insert(parts, string.sub(text, start, i - 1))
      start = i + #separator
   end
end

local lines = {}
local position = 1
local last_tag = nil
pending = nil
local forwarded = os.getenv("WRK_FORWARDED_FOR") == "1"
counts = {}

function init(args)
   local path = args[1] or os.getenv("WRK_REQUESTS")
   local file = assert(io.open(path, "r"), "cannot open the requests file " .. tostring(path))
   for line in file:lines() do
      if #line > 0 then
         local fields = split(line, "\t")
         local headers = {}
         if fields[4] and #fields[4] > 0 then
            for _, header in ipairs(split(fields[4], "\31")) do
               local colon = string.find(header, ":", 1, true)
               if colon then
                  headers[string.sub(header, 1, colon - 1)] = string.gsub(string.sub(header, colon + 1), "^%s+", "")
               end
            end
         end
         local body = fields[5]
         if body and #body > 0 then
            body = string.gsub(body, "\\(.)", { n = "\n", r = "\r", t = "\t", ["\\"] = "\\" })
         else
            body = nil
         end
         table.insert(lines, { tag = fields[1], method = fields[2], path = fields[3], headers = headers, body = body })
      end
   end
   file:close()
   assert(#lines > 0, "the requests file is empty")
   math.randomseed(os.time() * 1000 + (id or 0))
   position = math.random(#lines)
end

function request()
   local entry = lines[position]
   position = position % #lines + 1
   last_tag = entry.tag
   pending = entry.tag
   local headers = entry.headers
   if forwarded then
      headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", id or 0, math.random(0, 15), math.random(1, 250))
   end
   return wrk.format(entry.method, entry.path, headers, entry.body)
end

function response(status, headers, body)
   local key = (last_tag or "?") .. " " .. status
   counts[key] = (counts[key] or 0) + 1
   pending = nil
end

function done(summary, latency, requests)
   local merged = {}
   local unanswered = {}
   for _, thread in ipairs(threads) do
      local tag = thread:get("pending")
      if tag then
         unanswered[tag] = (unanswered[tag] or 0) + 1
      end
      local thread_counts = thread:get("counts")
      for key, value in pairs(thread_counts) do
         merged[key] = (merged[key] or 0) + value
      end
   end
   local parts = {}
   for key, value in pairs(merged) do
      table.insert(parts, string.format('"%s": %d', key, value))
   end
   local waiting = {}
   for key, value in pairs(unanswered) do
      table.insert(waiting, string.format('"%s": %d', key, value))
   end
   local errors = summary.errors
   io.write(string.format(
      'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, '
         .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "non_2xx_3xx": %d, '
         .. '"counts": {%s}, "pending": {%s}}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
      latency:percentile(99), latency.max, errors.connect, errors.read, errors.write, errors.timeout,
      errors.status, table.concat(parts, ", "), table.concat(waiting, ", ")
   ))
end
