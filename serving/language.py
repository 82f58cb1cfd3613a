"""The language of an answer: the request's ``Accept-Language``, else the configured default."""

from __future__ import annotations

from fastapi import Request

from recommender.phrases import Audience, Language, Speaker, pick_language
from serving.settings import ServingSettings


def request_language(request: Request, settings: ServingSettings) -> Language:
    """Russian or English, as the request asks (``Accept-Language``), else ``settings.language``."""
    return pick_language(None, request.headers.get("accept-language"), settings.language)


def request_speaker(request: Request, settings: ServingSettings, audience: Audience) -> Speaker:
    """Who says the reasons of this request's answer, and in which language."""
    return Speaker(request_language(request, settings), audience)
