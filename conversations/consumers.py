"""The inbox WebSocket: a doorbell that pushes every inbox event to every agent's tabs.

The socket carries no commands and no history: the page fetches state over REST and, after a
reconnect, replays `/api/v1/events/?after=<cursor>`. Events arrive from `conversations.events`
through the channel layer group `inbox`; `user.<id>` lets logout, deactivation or loss of the
agent role close all of one user's sockets.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from conversations import events
from conversations.permissions import user_is_agent

# Application close codes (4000-4999): the page shows "signed out" instead of reconnecting.
CLOSE_NOT_AGENT = 4403
CLOSE_SESSION_REVOKED = 4401


class InboxConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: tuple = ()

    async def connect(self):
        user = self.scope.get("user")
        if not await database_sync_to_async(user_is_agent)(user):
            # Closing before accept() refuses the handshake (HTTP 403).
            await self.close(code=CLOSE_NOT_AGENT)
            return
        self.groups_joined = (events.INBOX_GROUP, events.user_group(user.pk))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        # The page counts itself live (and catches up) on this, not on the socket opening: a
        # proxy or captive portal can accept a socket that no Parley server is behind.
        await self.send_json({"type": "hello"})

    async def disconnect(self, code):
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = ()

    async def receive_json(self, content, **kwargs):
        # Heartbeat: the page pings so that it notices a dead connection (and NATs keep it open).
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def inbox_events(self, message):
        for event in message["events"]:
            await self.send_json(event)

    async def session_revoked(self, message):
        await self.send_json({"type": "session.revoked", "reason": message.get("reason", "")})
        await self.close(code=CLOSE_SESSION_REVOKED)
