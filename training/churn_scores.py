"""The churn model's scores for offline jobs (``recsys nbo export``): from a bundle folder or
the registered ``churn-risk`` model at an alias, as the server loads them."""

from __future__ import annotations

import tempfile
from pathlib import Path

from recommender.churn.model import ChurnModel
from recommender.churn.scoring import ScoreTable


def load_scores(
    churn_dir: Path | None, name: str, alias: str, tracking_uri: str | None
) -> tuple[ScoreTable, str]:
    """The score table and a label (``name:version`` or the folder); ``ValueError`` (folder)
    or ``RegistryError`` / ``TrackingError`` (registry) saying what is missing."""
    if churn_dir is not None:
        ChurnModel.load(churn_dir)  # a clear error for a folder that is no churn bundle
        return ScoreTable.load(churn_dir), str(churn_dir)
    from feature_store.model_store import check_reachable, download_bundle, resolve, resolve_version

    tracking = resolve(tracking_uri=tracking_uri)
    check_reachable(tracking)
    client = tracking.client()
    mv = resolve_version(client, name, alias)
    with tempfile.TemporaryDirectory(prefix="recsys-churn-") as tmp:
        folder = download_bundle(client, mv, Path(tmp), tracking.tracking_uri)
        return ScoreTable.load(folder), f"{name}:{mv.version}"
