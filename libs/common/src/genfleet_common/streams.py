"""JetStream stream configs shared by the services that create them.

Every service that needs a stream calls `Bus.ensure_stream` with the config from here, so
whichever starts first creates it; only its owner (identities: `configures`) changes the
configuration of one that exists.
"""

from __future__ import annotations

from nats.js.api import DiscardPolicy, StorageType, StreamConfig

from genfleet_common import subjects

EVENTS_STREAM = StreamConfig(
    name=subjects.EVENTS_STREAM,
    subjects=[subjects.EVENTS_ALL],
    storage=StorageType.FILE,
    max_age=3600.0,  # a reconnecting client can resume within the last hour
    max_msgs=200_000,
    discard=DiscardPolicy.OLD,
)

AUDIT_STREAM = StreamConfig(
    name=subjects.AUDIT_STREAM,
    subjects=[subjects.AUDIT],
    storage=StorageType.FILE,
    max_age=90 * 24 * 3600.0,  # who changed what, for the last 90 days
    max_msgs=1_000_000,
    discard=DiscardPolicy.OLD,
)
