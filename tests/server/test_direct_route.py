"""DirectRoute solves only what it can solve as FastAPI would, and says so when the route is built."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from softphone.server.app import DirectRoute


def plain_dependency(request: Request) -> str:
    return request.url.path


async def async_dependency(request: Request) -> str:
    return request.url.path


async def with_sync_dependency(path: Annotated[str, Depends(plain_dependency)]) -> Response:
    return Response(path)


async def with_header(user_agent: Annotated[str, Header()]) -> Response:
    return Response(user_agent)


async def uncached(path: Annotated[str, Depends(async_dependency, use_cache=False)]) -> Response:
    return Response(path)


@pytest.mark.parametrize("endpoint", [with_sync_dependency, with_header, uncached])
def test_an_endpoint_beyond_what_it_solves_is_refused_when_the_route_is_built(endpoint: object) -> None:
    router = APIRouter(route_class=DirectRoute)
    with pytest.raises(TypeError, match="/here: .* is not an async function of the request and its parameters"):
        router.add_api_route("/here", endpoint)  # type: ignore[arg-type]
