"""The link state in Redis, shared by every worker: same contract as `MemoryLinkStore`.

Each step is one Lua script (atomic), so two workers updating the same phone or merging the
same clusters never interleave half-way. A batch's template steps go in one pipelined round
trip and its link steps (observe, union) in another, in order (`link_many`, `assign_many`);
writes queued in `PendingWrites` ride along with the next round trip, ahead of it.

State is bounded by the link retention (`ttl_s`, VIGIL_LINK_RETENTION_DAYS): identifier windows,
template bands and cluster summaries expire when idle; union-find nodes (`uf:parent`) and
template assignments (`tpl:of`) live in hashes, whose fields cannot expire on Redis 7.0, so each
script call also forgets up to PRUNE_PER_CALL of them that have been idle that long, oldest first
(`uf:touched`, `tpl:touched`: when each was last touched, by the worker's clock).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

from detectors.linking.links import (
    CLUSTER_SAMPLE,
    HUB_UNRELATED_USES,
    MOVEMENT_WINDOW,
    REGROUPED_IDS,
    WINDOWS,
    ClusterSummary,
    IdentifierStats,
    Observation,
    Regroup,
)

# byte order, as ZRANGE BYLEX and Python's str order on UTF-8 (Lua's < follows the server's
# locale): the scripts below that compare ids start with it
BYTE_ORDER_LUA = """
local function before(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
"""

OBSERVE_LUA = """
local ad_id, ts = ARGV[1], tonumber(ARGV[2])
local city, region = ARGV[3], ARGV[4]
local n_ages, n_phones = tonumber(ARGV[5]), tonumber(ARGV[6])
local w1, w24, w7, w30 = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local ttl = tonumber(ARGV[11])
local out = {}
for i, k in ipairs(KEYS) do
  redis.call('ZADD', k .. ':ads', ts, ad_id)
  if city ~= '' then redis.call('ZADD', k .. ':cities', 'GT', ts, city) end
  if region ~= '' then redis.call('ZADD', k .. ':regions', 'GT', ts, region) end
  for j = 1, n_phones do redis.call('ZADD', k .. ':phones', 'GT', ts, ARGV[11 + n_ages + j]) end
  for j = 1, n_ages do redis.call('SADD', k .. ':ages', ARGV[11 + j]) end
  local first = tonumber(redis.call('HGET', k .. ':meta', 'first'))
  if (not first) or ts < first then
    redis.call('HSET', k .. ':meta', 'first', ARGV[2]); first = ts
  end
  for _, suffix in ipairs({':ads', ':cities', ':regions', ':phones', ':ages', ':meta'}) do
    redis.call('EXPIRE', k .. suffix, ttl)
  end
  local since = ts - w30
  out[i] = {
    redis.call('ZCOUNT', k .. ':ads', ts - w1, ts),
    redis.call('ZCOUNT', k .. ':ads', ts - w24, ts),
    redis.call('ZCOUNT', k .. ':ads', ts - w7, ts),
    redis.call('ZCOUNT', k .. ':cities', since, ts),
    redis.call('ZCOUNT', k .. ':regions', since, ts),
    redis.call('ZCOUNT', k .. ':phones', since, ts),
    redis.call('SCARD', k .. ':ages'),
    tostring(first),
    redis.call('ZRANGEBYSCORE', k .. ':cities', since, ts),
  }
end
return out
"""

UNION_LUA = BYTE_ORDER_LUA + """
local P = ARGV[1]
local ad_id, ts, city = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local n_phones = tonumber(ARGV[5])
local sample, ttl, prune = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local now, hub_limit, regrouped_ids = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local parent, touched, uses = P .. 'uf:parent', P .. 'uf:touched', P .. 'uf:unrelated'
local nodes = {}
for i = 12 + n_phones, #ARGV do nodes[#nodes + 1] = ARGV[i] end
local function ck(r) return P .. 'uf:c:' .. r end

local cutoff = now - ttl
local function forget(n)
  local r = n  -- its root, without touching anything on the way (this is not a use)
  while true do
    local p = redis.call('HGET', parent, r)
    if (not p) or p == r then break end
    r = p
  end
  if r == n then
    redis.call('DEL', ck(n), ck(n) .. ':phones', ck(n) .. ':cities', ck(n) .. ':ads', ck(n) .. ':members')
  else
    redis.call('SREM', ck(r) .. ':members', n)
  end
  redis.call('HDEL', parent, n)
  redis.call('HDEL', uses, n)
  redis.call('ZREM', touched, n)
end
-- forget nodes idle for ttl seconds, oldest first: a node is touched whenever a find passes
-- through it, so its descendants are never touched later than it is and go first
local idle = redis.call('ZRANGEBYSCORE', touched, '-inf', cutoff, 'LIMIT', 0, prune)
for _, n in ipairs(idle) do forget(n) end
-- some idle ones are left over (a full batch): a node of this ad idle that long but not
-- pruned yet starts afresh all the same
if #idle == prune then
  for _, n in ipairs(nodes) do
    local last = redis.call('ZSCORE', touched, n)
    if last and tonumber(last) <= cutoff then forget(n) end
  end
end

local function find(x)
  local root = x
  while true do
    redis.call('ZADD', touched, 'GT', now, root)
    local p = redis.call('HGET', parent, root)
    if (not p) or p == root then break end
    root = p
  end
  local n = x
  while n ~= root do
    local p = redis.call('HGET', parent, n)
    redis.call('HSET', parent, n, root)
    n = p
  end
  return root
end

local new_ad = redis.call('HEXISTS', parent, nodes[1]) == 0
local fresh = {}  -- new nodes: added to the member set of the cluster they end up in, below
for _, n in ipairs(nodes) do
  if redis.call('HSETNX', parent, n, n) == 1 then
    redis.call('HSET', ck(n), 'size', 0)
    fresh[#fresh + 1] = n
  end
end
local root_of = {}
for _, n in ipairs(nodes) do root_of[n] = find(n) end
-- hubs (detectors/linking/links.py: hub_step): count this ad's unrelated uses of its
-- identifiers; those at the limit link nothing
local held = {}  -- root -> holds ads (asked once per root, not once per pair)
local function holds_ads(r)
  if held[r] == nil then held[r] = tonumber(redis.call('HGET', ck(r), 'size') or '0') > 0 end
  return held[r]
end
local linking, new_hubs = {}, {}
for i = 2, #nodes do
  if tonumber(redis.call('HGET', uses, nodes[i]) or '0') < hub_limit then linking[#linking + 1] = nodes[i] end
end
for _, k in ipairs(linking) do
  local own = root_of[k]
  if holds_ads(own) then
    local related, foreign = root_of[nodes[1]] == own, holds_ads(root_of[nodes[1]])
    for _, o in ipairs(linking) do
      if o ~= k then
        if root_of[o] == own then related = true elseif holds_ads(root_of[o]) then foreign = true end
      end
    end
    if (not related) and foreign and redis.call('HINCRBY', uses, k, 1) == hub_limit then
      new_hubs[#new_hubs + 1] = k
    end
  end
end

-- a new hub merged the clusters of its earlier unrelated uses before it was known to be one:
-- regroup its cluster from its ads and their non-hub identifiers (detectors/linking/regroup.py)
local function is_hub(n) return tonumber(redis.call('HGET', uses, n) or '0') >= hub_limit end
local function put(key, list)  -- SADD/RPUSH in chunks (Lua's unpack has a limit)
  for i = 1, #list, 4000 do
    redis.call(key[1], key[2], unpack(list, i, math.min(i + 3999, #list)))
  end
end
local function split(old)
  -- a cluster formed before member sets were kept (state of an older version) has none: it
  -- stays as it is rather than lose the nodes the set does not name
  if redis.call('EXISTS', ck(old) .. ':members') == 0 then return {} end
  local up, alive, is_ad, at, hubs = {}, {}, {}, {}, {}
  for _, n in ipairs(redis.call('SMEMBERS', ck(old) .. ':members')) do
    if redis.call('HEXISTS', parent, n) == 1 then
      up[n] = n; alive[#alive + 1] = n
      if string.sub(n, 1, 3) == 'ad:' then is_ad[n] = true end
    end
  end
  local function f(x)
    while up[x] ~= x do up[x] = up[up[x]]; x = up[x] end
    return x
  end
  for _, n in ipairs(alive) do
    if not is_ad[n] then
      if is_hub(n) then
        hubs[#hubs + 1] = n
      else
        local seen = redis.call('ZRANGE', P .. 'id:' .. n .. ':ads', 0, -1, 'WITHSCORES')
        for j = 1, #seen, 2 do
          local a = 'ad:' .. seen[j]
          if is_ad[a] then
            local t = tonumber(seen[j + 1])
            if (not at[a]) or t < at[a] then at[a] = t end
            up[f(a)] = f(n)
          end
        end
      end
    end
  end
  -- an ad linked only through hubs: its time from the hubs' windows, asked for it alone (a
  -- hub's window holds every advertiser's ads)
  for _, h in ipairs(hubs) do
    local missing = {}
    for _, n in ipairs(alive) do
      if is_ad[n] and not at[n] then missing[#missing + 1] = string.sub(n, 4) end
    end
    for i = 1, #missing, 4000 do
      local chunk = {unpack(missing, i, math.min(i + 3999, #missing))}
      local scores = redis.call('ZMSCORE', P .. 'id:' .. h .. ':ads', unpack(chunk))
      for j, id in ipairs(chunk) do
        if scores[j] then at['ad:' .. id] = tonumber(scores[j]) end
      end
    end
  end
  local groups, order = {}, {}
  for _, n in ipairs(alive) do
    local g = f(n)
    if not groups[g] then groups[g] = {}; order[#order + 1] = g end
    table.insert(groups[g], n)
  end
  local made = {}  -- {old, root, ads, ad ids oldest first, phones, cities, first, last} per group with ads
  local of, ol = redis.call('HGET', ck(old), 'first'), redis.call('HGET', ck(old), 'last')
  redis.call('DEL', ck(old), ck(old) .. ':phones', ck(old) .. ':cities', ck(old) .. ':ads', ck(old) .. ':members')
  for _, g in ipairs(order) do
    local members, r, ads, phones, cities, first, last = groups[g], nil, {}, {}, {}, nil, nil
    for _, n in ipairs(members) do
      if n == old then r = old elseif r ~= old and ((not r) or before(r, n)) then r = n end
    end
    local c = ck(r)
    for _, n in ipairs(members) do
      redis.call('HSET', parent, n, r)
      if is_ad[n] then
        local t = at[n]
        ads[#ads + 1] = {string.sub(n, 4), t}
        if t and ((not first) or t < first) then first = t end
        if t and ((not last) or t > last) then last = t end
      end
    end
    -- the new root was any node of the group, maybe an idle one: it is used now, or pruning
    -- (oldest first) would take the root before the nodes under it
    redis.call('ZADD', touched, 'GT', now, r)
    redis.call('HSET', c, 'size', #ads)
    if #ads > 0 then
      local in_cities = {}
      for _, n in ipairs(members) do
        if not is_ad[n] then
          if string.sub(n, 1, 6) == 'phone:' then phones[#phones + 1] = string.sub(n, 7) end
          for _, city in ipairs(redis.call('ZRANGE', P .. 'id:' .. n .. ':cities', 0, -1)) do
            if not in_cities[city] then in_cities[city] = true; cities[#cities + 1] = city end
          end
        end
      end
      table.sort(ads, function(x, y)
        local tx, ty = x[2] or 0, y[2] or 0
        if tx ~= ty then return tx < ty end
        return before(x[1], y[1])
      end)
      local listed, sampled = {}, {}
      for i = 1, math.min(regrouped_ids, #ads) do listed[i] = ads[i][1] end
      for i = 1, math.min(sample, #ads) do sampled[i] = ads[i][1] end
      local fs = first and string.format('%.17g', first) or (of or '0')
      local ls = last and string.format('%.17g', last) or (ol or '0')
      redis.call('HSET', c, 'first', fs, 'last', ls)
      put({'RPUSH', c .. ':ads'}, sampled)
      if #phones > 0 then put({'SADD', c .. ':phones'}, phones) end
      if #cities > 0 then put({'SADD', c .. ':cities'}, cities) end
      made[#made + 1] = {old, r, #ads, listed, phones, cities, fs, ls}
    end
    put({'SADD', c .. ':members'}, members)
    for _, suffix in ipairs({'', ':phones', ':cities', ':ads', ':members'}) do
      redis.call('EXPIRE', c .. suffix, ttl)
    end
  end
  table.sort(made, function(x, y) return before(x[2], y[2]) end)
  return made
end
local regrouped = {}
if #new_hubs > 0 then
  local done = {}
  for _, k in ipairs(new_hubs) do
    if not done[root_of[k]] then
      done[root_of[k]] = true
      for _, g in ipairs(split(root_of[k])) do regrouped[#regrouped + 1] = g end
    end
  end
  for _, n in ipairs(nodes) do root_of[n] = find(n) end
end
local left_out, hub = {}, {}
for i = 2, #nodes do
  if tonumber(redis.call('HGET', uses, nodes[i]) or '0') >= hub_limit then
    hub[nodes[i]] = true; left_out[#left_out + 1] = nodes[i]
  end
end
local roots, seen = {}, {}
for _, n in ipairs(nodes) do
  local r = root_of[n]
  if (not hub[n]) and not seen[r] then seen[r] = true; roots[#roots + 1] = r end
end
local root, best = nil, -1
for _, r in ipairs(roots) do
  local size = tonumber(redis.call('HGET', ck(r), 'size') or '0')
  if size > best or (size == best and before(root, r)) then root, best = r, size end
end
local c = ck(root)
-- the merged cluster knows its members only if every part did (new nodes, or a member set):
-- a part from before member sets makes the whole unknown, and a hub never regroups it
local is_fresh, tracked = {}, true
for _, n in ipairs(fresh) do is_fresh[n] = true end
for _, r in ipairs(roots) do
  if not is_fresh[r] and redis.call('EXISTS', ck(r) .. ':members') == 0 then tracked = false end
end
for _, r in ipairs(roots) do
  if r ~= root then
    local o = ck(r)
    redis.call('HSET', parent, r, root)
    redis.call('HINCRBY', c, 'size', tonumber(redis.call('HGET', o, 'size') or '0'))
    redis.call('SUNIONSTORE', c .. ':phones', c .. ':phones', o .. ':phones')
    redis.call('SUNIONSTORE', c .. ':cities', c .. ':cities', o .. ':cities')
    local of, ol = redis.call('HGET', o, 'first'), redis.call('HGET', o, 'last')
    local cf, cl = redis.call('HGET', c, 'first'), redis.call('HGET', c, 'last')
    if of and ((not cf) or tonumber(of) < tonumber(cf)) then redis.call('HSET', c, 'first', of) end
    if ol and ((not cl) or tonumber(ol) > tonumber(cl)) then redis.call('HSET', c, 'last', ol) end
    local room = sample - redis.call('LLEN', c .. ':ads')
    if room > 0 then
      local moved = redis.call('LRANGE', o .. ':ads', 0, room - 1)
      if #moved > 0 then redis.call('RPUSH', c .. ':ads', unpack(moved)) end
    end
    if tracked then
      local moved = redis.call('SMEMBERS', o .. ':members')
      if #moved > 0 then put({'SADD', c .. ':members'}, moved) end
    end
    redis.call('DEL', o, o .. ':phones', o .. ':cities', o .. ':ads', o .. ':members')
  end
end
if tracked then
  local joined = {}
  for _, n in ipairs(fresh) do if not hub[n] then joined[#joined + 1] = n end end
  if #joined > 0 then redis.call('SADD', c .. ':members', unpack(joined)) end
else
  redis.call('DEL', c .. ':members')
end
if new_ad then
  redis.call('HINCRBY', c, 'size', 1)
  if redis.call('LLEN', c .. ':ads') < sample then redis.call('RPUSH', c .. ':ads', ad_id) end
end
for i = 1, n_phones do redis.call('SADD', c .. ':phones', ARGV[11 + i]) end
if city ~= '' then redis.call('SADD', c .. ':cities', city) end
local f, l = redis.call('HGET', c, 'first'), redis.call('HGET', c, 'last')
if (not f) or ts < tonumber(f) then redis.call('HSET', c, 'first', ARGV[3]) end
if (not l) or ts > tonumber(l) then redis.call('HSET', c, 'last', ARGV[3]) end
for _, suffix in ipairs({'', ':phones', ':cities', ':ads', ':members'}) do redis.call('EXPIRE', c .. suffix, ttl) end
return {root, redis.call('HGET', c, 'size'), redis.call('HGET', c, 'first'),
        redis.call('HGET', c, 'last'), redis.call('SMEMBERS', c .. ':phones'),
        redis.call('SMEMBERS', c .. ':cities'), redis.call('LRANGE', c .. ':ads', 0, sample - 1),
        left_out, regrouped}
"""

FIND_LUA = """
local parent, root = KEYS[1], ARGV[1]
if redis.call('HEXISTS', parent, root) == 0 then return root end
while true do
  local p = redis.call('HGET', parent, root)
  if p == root then return root end
  root = p
end
"""

KEY_TTL_S = 40 * 24 * 3600  # identifiers idle this long are forgotten (longer than any window)
# idle union-find nodes and template assignments forgotten per script call, oldest first: an ad
# adds a handful, so the state keeps up with the stream and stays bounded by the retention
PRUNE_PER_CALL = 16


def _evalsha(pipe, script, *, keys: list[str], args: list) -> None:
    """Queue a script call by its hash (a Script called on a pipeline would ask Redis whether
    it knows the script on every round trip; PendingWrites loads it again on NOSCRIPT)."""
    pipe.evalsha(script.sha, len(keys), *keys, *args)


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PendingWrites:
    """Redis writes held back until the next write goes out, then sent first in the same
    pipelined round trip (Redis runs a connection's commands in order), without a round trip of
    their own. The worker queues each ad's stored result here; they go out with the next round
    trip or with `flush`, which the worker calls before it produces the batch. A failed round
    trip keeps them queued for the next try (each is idempotent)."""

    def __init__(self) -> None:
        self.queued: list[Callable[[Any], None]] = []
        self.scripts: dict[str, Any] = {}  # sha -> redis-py Script, loaded again after NOSCRIPT

    def add(self, write: Callable[[Any], None]) -> None:
        """`write(pipe)` adds its commands to a pipeline."""
        self.queued.append(write)

    def script(self, client: redis.Redis, source: str) -> Any:
        """A Lua script to call with `evalsha` in pipelines (loaded now, and again if Redis
        forgot it, e.g. after a restart)."""
        script = client.register_script(source)
        self.scripts[script.sha] = script
        return script

    def run(self, client: redis.Redis, steps: list[Callable[[Any], None]]) -> list:
        """The queued writes, then `steps`, in one round trip; returns the steps' replies."""
        for attempt in (1, 2):
            pipe = client.pipeline(transaction=False)
            queued = list(self.queued)
            for write in queued:
                write(pipe)
            for step in steps:
                step(pipe)
            try:
                replies = pipe.execute()
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                for script in self.scripts.values():
                    client.script_load(script.script)
                continue
            del self.queued[:len(queued)]
            return replies[len(replies) - len(steps):] if steps else []
        raise AssertionError("unreachable")

    def flush(self, client: redis.Redis) -> None:
        if self.queued:
            self.run(client, [])


class RedisLinkStore:
    """`LinkStore` on Redis; `prefix` isolates deployments and tests."""

    def __init__(self, client: redis.Redis, prefix: str = "vigil:", ttl_s: int = KEY_TTL_S,
                 pending: PendingWrites | None = None, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.clock = clock  # when a node is touched (wall clock: retention is idle time)
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.pending = pending or PendingWrites()
        self._observe = self.pending.script(client, OBSERVE_LUA)
        self._union = self.pending.script(client, UNION_LUA)
        self._find = client.register_script(FIND_LUA)

    def cluster_of(self, ad_id: str) -> str:
        return _s(self._find(keys=[f"{self.prefix}uf:parent"], args=[f"ad:{ad_id}"]))

    def _observe_call(self, obs: Observation, keys: list[str]) -> dict:
        args = [obs.ad_id, repr(obs.ts), obs.city or "", obs.region or "", len(obs.ages),
                len(obs.phones), WINDOWS["1h"], WINDOWS["24h"], WINDOWS["7d"], MOVEMENT_WINDOW,
                self.ttl_s, *obs.ages, *obs.phones]
        return {"keys": [f"{self.prefix}id:{k}" for k in keys], "args": args}

    def _union_call(self, obs: Observation, keys: list[str]) -> dict:
        nodes = [f"ad:{obs.ad_id}", *keys]
        return {"keys": [], "args": [self.prefix, obs.ad_id, repr(obs.ts), obs.city or "",
                                     len(obs.phones), CLUSTER_SAMPLE, self.ttl_s, PRUNE_PER_CALL,
                                     repr(self.clock()), HUB_UNRELATED_USES, REGROUPED_IDS, *obs.phones,
                                     *nodes]}

    def link(self, obs: Observation, keys: list[str]) -> tuple[list[IdentifierStats], ClusterSummary]:
        """Observe (when there are keys) and union in one pipelined round trip, after any
        pending writes; each script stays atomic on its own."""
        (linked,) = self.link_many([(obs, keys)])
        return linked

    def link_many(self, items: list[tuple[Observation, list[str]]]
                  ) -> list[tuple[list[IdentifierStats], ClusterSummary]]:
        """`link` for each (observation, keys), in order, all in one pipelined round trip:
        Redis runs a connection's commands in order, so each ad's scripts see the ads before
        it exactly as separate calls would; each script stays atomic on its own."""
        steps, shape = [], []
        for obs, keys in items:
            if keys:
                observe = self._observe_call(obs, keys)
                steps.append(lambda pipe, call=observe: _evalsha(pipe, self._observe, **call))
            union = self._union_call(obs, keys)
            steps.append(lambda pipe, call=union: _evalsha(pipe, self._union, **call))
            shape.append(bool(keys))
        replies = iter(self.pending.run(self.client, steps) if steps else [])
        out = []
        for (_, keys), observed in zip(items, shape, strict=True):
            stats = self._stats(keys, next(replies)) if observed else []
            out.append((stats, self._cluster(next(replies))))
        return out

    def observe(self, obs: Observation, keys: list[str]) -> list[IdentifierStats]:
        call = self._observe_call(obs, keys)
        (rows,) = self.pending.run(self.client, [lambda pipe: _evalsha(pipe, self._observe, **call)])
        return self._stats(keys, rows)

    def _stats(self, keys: list[str], rows) -> list[IdentifierStats]:
        return [
            IdentifierStats(
                key=key,
                ads={"1h": int(r[0]), "24h": int(r[1]), "7d": int(r[2])},
                cities_30d=int(r[3]),
                regions_30d=int(r[4]),
                phones_30d=int(r[5]),
                ages=int(r[6]),
                first_seen=float(_s(r[7])),
                cities=tuple(sorted(_s(c) for c in r[8])),
            )
            for key, r in zip(keys, rows, strict=True)
        ]

    def union(self, obs: Observation, keys: list[str]) -> ClusterSummary:
        call = self._union_call(obs, keys)
        (reply,) = self.pending.run(self.client, [lambda pipe: _evalsha(pipe, self._union, **call)])
        return self._cluster(reply)

    @staticmethod
    def _cluster(reply) -> ClusterSummary:
        root, size, first, last, phones, cities, ads, left_out, regrouped = reply
        return ClusterSummary(
            cluster_id=_s(root),
            size=int(size),
            phones=tuple(sorted(_s(p) for p in phones)[:CLUSTER_SAMPLE]),
            cities=tuple(sorted(_s(c) for c in cities)[:CLUSTER_SAMPLE]),
            first_ts=float(_s(first)),
            last_ts=float(_s(last)),
            ad_ids=tuple(_s(a) for a in ads),
            left_out=tuple(_s(k) for k in left_out),
            regrouped=tuple(Regroup(from_id=_s(old), cluster_id=_s(new), size=int(n),
                                    ad_ids=tuple(_s(a) for a in ids),
                                    phones=tuple(sorted(_s(p) for p in group_phones)[:CLUSTER_SAMPLE]),
                                    cities=tuple(sorted(_s(c) for c in group_cities)[:CLUSTER_SAMPLE]),
                                    first_ts=float(_s(f)), last_ts=float(_s(la)))
                            for old, new, n, ids, group_phones, group_cities, f, la in regrouped),
        )


TEMPLATE_LUA = BYTE_ORDER_LUA + """
local P, ad_id = ARGV[1], ARGV[2]
local max_candidates, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local prune, now = tonumber(ARGV[5]), tonumber(ARGV[6])
local map, touched = P .. 'tpl:of', P .. 'tpl:touched'
-- forget assignments idle for ttl seconds (their band entries go when met as candidates below,
-- or with the band key once it is idle)
local cutoff = now - ttl
local function forget(m)
  redis.call('HDEL', map, m)
  redis.call('ZREM', touched, m)
end
local idle = redis.call('ZRANGEBYSCORE', touched, '-inf', cutoff, 'LIMIT', 0, prune)
for _, m in ipairs(idle) do forget(m) end
local backlog = #idle == prune  -- idle assignments are left over: check candidates below
local known = redis.call('HGET', map, ad_id)
if known then redis.call('ZADD', touched, 'GT', now, ad_id); return known end
local seen, candidates = {}, {}
for i = 7, #ARGV do
  local members = redis.call('ZRANGE', P .. 'tpl:band:' .. ARGV[i], '-', '+', 'BYLEX', 'LIMIT', 0, max_candidates)
  for _, m in ipairs(members) do
    if not seen[m] then seen[m] = true; candidates[#candidates + 1] = m end
  end
end
table.sort(candidates, before)
local best, live = nil, 0
for _, m in ipairs(candidates) do
  if live >= max_candidates then break end
  local t = redis.call('HGET', map, m)
  local last = backlog and t and redis.call('ZSCORE', touched, m)
  if last and tonumber(last) <= cutoff then forget(m); t = nil end  -- idle, not pruned yet
  if t then
    live = live + 1
    if best == nil or before(t, best) then best = t end
  else  -- its assignment was forgotten: out of this ad's bands too
    for i = 7, #ARGV do redis.call('ZREM', P .. 'tpl:band:' .. ARGV[i], m) end
  end
end
if best == nil then best = ad_id end
redis.call('HSET', map, ad_id, best)
redis.call('ZADD', touched, 'GT', now, ad_id)
for i = 7, #ARGV do
  local k = P .. 'tpl:band:' .. ARGV[i]
  redis.call('ZADD', k, 0, ad_id)
  redis.call('EXPIRE', k, ttl)
end
return best
"""


class RedisTemplateStore:
    """Template bands (sorted sets, lexicographic) and ids (a hash) in Redis: same contract as
    `detectors.linking.templates.MemoryTemplateStore`, one atomic Lua call per ad."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_s: int = KEY_TTL_S,
                 pending: PendingWrites | None = None, clock: Callable[[], float] = time.time) -> None:
        self.client, self.prefix, self.ttl_s, self.clock = client, prefix, ttl_s, clock
        self.pending = pending or PendingWrites()
        self._assign = self.pending.script(client, TEMPLATE_LUA)

    def template_of(self, ad_id: str) -> str | None:
        value = self.client.hget(f"{self.prefix}tpl:of", ad_id)
        return _s(value) if value is not None else None

    def assign(self, ad_id: str, bands: list[str], max_candidates: int) -> str:
        (reply,) = self.assign_many([(ad_id, bands)], max_candidates)
        return reply

    def assign_many(self, items: list[tuple[str, list[str]]], max_candidates: int) -> list[str]:
        """`assign` for each (ad id, bands), in order, in one pipelined round trip."""
        if not items:
            return []
        now = repr(self.clock())
        steps = [lambda pipe, args=[self.prefix, ad_id, max_candidates, self.ttl_s, PRUNE_PER_CALL, now,
                                    *bands]: _evalsha(pipe, self._assign, keys=[], args=args)
                 for ad_id, bands in items]
        return [_s(reply) for reply in self.pending.run(self.client, steps)]
