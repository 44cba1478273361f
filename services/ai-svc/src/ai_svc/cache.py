"""Verdicts kept by what decides them: the app's code, the requirement, the model, the prompt.

A second analysis of unchanged code with the same model, prompt version and answer settings
reads the result instead of asking the model again. Decoding is deterministic (temperature
0), so an answer that was not the expected JSON would come again: such a "failed" result is
kept too. A check that failed for the backend's sake (timeout, error answer) or found no model
is asked anew next time.
"""

from __future__ import annotations

import hashlib

import msgspec
import nats.js.errors
from nats.js.kv import KeyValue

from ai_svc.prompt import PROMPT_VERSION
from genfleet_common.messages import RequirementResult, VerdictStatus

_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(RequirementResult)


def cache_key(
    code_hash: str, requirement: str, llm_id: str, prompt_version: str, settings: str
) -> str:
    h = hashlib.sha256()
    for part in (code_hash, requirement, llm_id, prompt_version, settings):
        h.update(part.encode() + b"\0")
    return "v." + h.hexdigest()


class VerdictCache:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @staticmethod
    def key(code_hash: str, requirement: str, llm_id: str, settings: str) -> str:
        """`settings`: what else changes the answer (answer length, re-asks, context)."""
        return cache_key(code_hash, requirement, llm_id, PROMPT_VERSION, settings)

    async def get(self, key: str) -> RequirementResult | None:
        try:
            entry = await self.kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        if not entry.value:
            return None
        try:
            return _dec.decode(entry.value)
        except msgspec.DecodeError:
            return None  # written by an older version: asked anew

    async def put(self, key: str, result: RequirementResult) -> None:
        if result.status == VerdictStatus.VERDICT or (
            result.status == VerdictStatus.FAILED and result.deterministic
        ):
            await self.kv.put(key, _enc.encode(result))
