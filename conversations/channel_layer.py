"""channels-redis's layer on a bounded pool that makes a burst wait instead of failing.

channels-redis builds a plain `ConnectionPool`; redis-py 8 caps it at 100 connections and raises
`MaxConnectionsError` for the 101st command in flight, which is what hundreds of sockets closing
at once (a proxy restart) send: their `group_discard`s failed and left them in the groups.
"""

from channels_redis import core
from redis.asyncio import BlockingConnectionPool


class RedisChannelLayer(core.RedisChannelLayer):
    def create_pool(self, index):
        """Each host is a dict of redis-py connection options plus `address` (the URL, whose
        query string may override them) and `pool_timeout` (how long a command waits for a
        free connection before failing with `ConnectionError`)."""
        options = dict(self.hosts[index])
        address = options.pop("address")
        return BlockingConnectionPool.from_url(address, timeout=options.pop("pool_timeout"), **options)
