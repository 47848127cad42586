"""Test-support kit: fake Bot API (in-process transport and HTTP server), Update factories and
a validator of outgoing calls against the Bot API reference (api.json).

    from tests.support import RecordingRequest, FakeBotApiServer, updates, assert_calls_valid
"""

from tests.support import updates
from tests.support.api_schema import api_reference_available, assert_calls_valid, validate_call
from tests.support.botapi import Call, FakeTelegram, Upload, buttons
from tests.support.fake_server import FakeBotApiServer
from tests.support.transport import RecordingRequest

__all__ = [
    "Call",
    "FakeBotApiServer",
    "FakeTelegram",
    "RecordingRequest",
    "Upload",
    "api_reference_available",
    "assert_calls_valid",
    "buttons",
    "updates",
    "validate_call",
]
