"""The run history: typed records (`record`, `events`, `samples`) and their store (`store`).

Everything is re-exported here, so `from gameday.history import History, FaultEvent`
is the one import a stage needs.
"""

from gameday.history.dr import EntrySearch, PromotionEvent, PromotionPhase, RegionAudit, RegionLakeAudit, RegionStoreAudit, plan_lacks
from gameday.history.events import *  # noqa: F401,F403
from gameday.history.events import ActivityEvent, FaultEvent, FaultPhase, Marker, StopTripped
from gameday.history.record import RECORD_TYPES, Record, from_json, to_json
from gameday.history.samples import (
    BalancerSample,
    CacheCounters,
    CanaryPath,
    CanarySample,
    CapacityMeasured,
    FlinkFailure,
    FlinkSample,
    IngestSecond,
    IntegrityAudit,
    Inventory,
    KafkaClusterSample,
    KafkaOffsetsSample,
    KafkaPartitionSample,
    KafkaTopicConfig,
    LeaderClaim,
    LeaderReadBack,
    LeaderWrite,
    LoadSecond,
    RedisRoleSample,
    SearchHealthSample,
    SentinelSample,
    ServerLatency,
    StorePathLatency,
    StoreReadBack,
    StoreWrite,
    StreamDelivery,
    StreamLagSecond,
    WriteSample,
)
from gameday.history.store import History, Recorder

__all__ = [
    "RECORD_TYPES", "Record", "from_json", "to_json", "History", "Recorder",
    "ActivityEvent", "FaultEvent", "FaultPhase", "Marker", "StopTripped",
    "BalancerSample", "CacheCounters", "CapacityMeasured", "CanaryPath", "CanarySample", "FlinkFailure", "FlinkSample", "IngestSecond", "IntegrityAudit", "Inventory", "KafkaClusterSample",
    "KafkaOffsetsSample", "KafkaPartitionSample", "KafkaTopicConfig", "LeaderClaim", "LeaderReadBack", "LeaderWrite", "LoadSecond", "RedisRoleSample", "SearchHealthSample", "SentinelSample",
    "ServerLatency", "StorePathLatency", "StoreReadBack", "StoreWrite", "StreamDelivery", "StreamLagSecond", "WriteSample",
    "EntrySearch", "PromotionEvent", "PromotionPhase", "RegionAudit", "RegionLakeAudit", "RegionStoreAudit", "plan_lacks",
]  # fmt: skip
