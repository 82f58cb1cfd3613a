"""Offers similar to one offer (for catalog pages and cross-sell)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from serving.deps import CabinetDep, KQuery, ModelDep, RequestIdDep, SettingsDep, out_of_range
from serving.schemas import ErrorBody, SimilarItemOut, SimilarItemsOut

router = APIRouter(prefix="/v1", tags=["items"])


@router.get(
    "/items/{item_id}/similar",
    responses={
        401: {"model": ErrorBody, "description": "A cabinet key is configured and not given"},
        404: {"model": ErrorBody, "description": "Unknown offer"},
        503: {"model": ErrorBody, "description": "No model is loaded yet"},
    },
)
def similar_items(
    model: ModelDep,
    settings: SettingsDep,
    principal: CabinetDep,
    request_id: RequestIdDep,
    item_id: Annotated[str, Path(min_length=1, max_length=128)],
    k: KQuery = None,
) -> SimilarItemsOut:
    """The ``k`` offers the model finds most similar to ``item_id``."""
    chosen = settings.default_k if k is None else k
    if chosen > settings.max_k:
        raise out_of_range("k", chosen, settings.max_k)
    index = model.item_index.get(item_id)
    if index is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown offer {item_id!r}")
    indices, scores = model.scorer.similar_items(index, chosen)
    catalog = model.servable.catalog
    return SimilarItemsOut(
        request_id=request_id,
        model_version=model.label,
        item_id=item_id,
        items=[
            SimilarItemOut(
                item_id=str(model.servable.item_ids[i]),
                kind=catalog.kind_names[int(catalog.kind[i])],
                similarity=float(s),
            )
            for i, s in zip(indices.tolist(), scores.tolist(), strict=True)
        ],
    )
