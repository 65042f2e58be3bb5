-- wrk: each request as another signed-in visitor. The file named after `--` holds one
-- Cookie header a line (ops/bench writes it); each thread goes round all of them, from
-- its own starting point.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local cookies = {}
local turn = 0

function init(args)
  for line in io.lines(args[1]) do
    cookies[#cookies + 1] = line
  end
  turn = (id * 7919) % #cookies -- `id` is set by setup, in this thread's own state
end

function request()
  turn = turn % #cookies + 1
  return wrk.format(nil, nil, { ["Cookie"] = cookies[turn] })
end
