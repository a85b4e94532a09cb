"""A constant request rate (`load.rate`, as k6's constant-arrival-rate) in Locust's terms.

Locust has no arrival-rate executor; its documented way to a fixed throughput is a fixed number of users,
each paced by ``wait_time = constant_throughput(r)`` (r task runs per second, whatever each run took).
So `rate` requests/s become `users` users paced at ``rate / users / requests_per_task`` each.

How many users: each one must finish a request within its share of time (``users / rate`` seconds), or the
rate falls short (a closed model cannot send faster than its users get answers). Without `users`, gochaos
gives each user `SECONDS_PER_REQUEST` (200 ms, far above a healthy service's latency, so a fault that slows
answers several-fold still leaves the rate held): ``users = ceil(rate * 0.2)``, at least 1. Given `users`
must leave each user at least `MIN_SECONDS_PER_REQUEST` (10 ms).
"""

from __future__ import annotations

import math
from collections.abc import Collection

#: Time each user has for one request when gochaos picks the users (rate 40/s: 8 users).
SECONDS_PER_REQUEST = 0.2
#: The least time per request a given `users` may leave each user: above 100 requests/s per user the rate
#: holds only while every answer takes under 10 ms.
MIN_SECONDS_PER_REQUEST = 0.01
#: Most users gochaos picks by itself (a scenario's load takes at most 10,000).
MAX_PICKED_USERS = 10_000
#: Settings that pace users otherwise; `rate` replaces them.
PACING_OPTIONS = ("rps_per_user", "wait_s")


def users_for_rate(rate: float) -> int:
    """Users that hold `rate` requests/s while each answer takes under SECONDS_PER_REQUEST."""
    return max(1, min(MAX_PICKED_USERS, math.ceil(rate * SECONDS_PER_REQUEST - 1e-9)))


def rate_problem(rate: float, users: int, *, builtin: bool, pacing: Collection[str],
                 prefix: str = "options.") -> str | None:
    """What is wrong with pacing `users` users at `rate` requests/s in total, or None.

    `builtin`: the user is a built-in one (only those are paced by gochaos); `pacing`: the fields given with
    it, of which PACING_OPTIONS would pace the users otherwise (named with `prefix`, as the reader wrote them).
    """
    given = [name for name in PACING_OPTIONS if name in pacing]
    if given:
        return (f"`rate` paces every user itself (constant_throughput of rate/users each), so "
                f"{' and '.join(prefix + name for name in given)} would fight it: remove "
                f"{'it' if len(given) == 1 else 'them'}, or drop `rate`")
    if not builtin:
        return ("`rate` paces the built-in users (http, configd, ...); a user class of your own keeps its own "
                "`wait_time` (set `wait_time = constant_throughput(n)` there), so drop `rate` or use a built-in user")
    if rate / users > 1 / MIN_SECONDS_PER_REQUEST:
        need = math.ceil(rate * MIN_SECONDS_PER_REQUEST - 1e-9)
        return (f"rate {rate:g}/s over {users} users asks each user for {rate / users:g} requests/s "
                f"({1000 * users / rate:.3g} ms per request), which the rate holds only while every answer comes "
                f"faster: give at least {need} users, or leave `users` out (gochaos then picks "
                f"{users_for_rate(rate)})")
    return None
