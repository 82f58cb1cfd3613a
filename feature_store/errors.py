"""Errors of the feature stores: each says what is wrong and what to run to fix it."""

from __future__ import annotations


class FeatureStoreError(RuntimeError):
    """Base class of every feature-store error."""


class OfflineStoreError(FeatureStoreError):
    """The offline (Parquet) store cannot serve a read or accept a write."""


class OfflineStoreEmptyError(OfflineStoreError):
    """Nothing has been imported into the offline store yet."""


class OfflineTableMissingError(OfflineStoreError):
    """The current snapshot exists but does not hold the requested table."""
