"""Profile photos: validated as images (Pillow), re-encoded as JPEG (which drops any metadata),
stored under <data_dir>/photos and served at /social/photos/<file>."""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from PIL import Image, UnidentifiedImageError

from townhall.core.errors import Invalid

router = APIRouter()
MAX_SIDE = 1024
MAX_PIXELS = 40_000_000
_NAME = re.compile(r"^[0-9]+_[0-9a-f]{16}\.jpg$")
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")  # what Pillow may decode (no exotic plugins)


def photo_dir(data_dir: Path) -> Path:
    return data_dir / "photos"


def store_photo(directory: Path, user_id: int, raw: bytes) -> str:
    """Check ``raw`` is an image, shrink it to at most 1024 px a side, keep it as JPEG; the file name."""
    try:
        with Image.open(io.BytesIO(raw), formats=FORMATS) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise Invalid("invalid_photo", "That image is too large.")
            probe.verify()
        with Image.open(io.BytesIO(raw), formats=FORMATS) as image:
            image.load()
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Invalid("invalid_photo", "That file is not an image we can use. Please upload a JPEG, PNG, WebP or GIF.") from exc
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{user_id}_{secrets.token_hex(8)}.jpg"
    tmp = directory / (name + ".tmp")
    picture.save(tmp, "JPEG", quality=85)
    tmp.replace(directory / name)
    return name


def remove_photo(directory: Path, user_id: int, name: str) -> None:
    """Delete a photo of ``user_id`` (one this module named for them; anything else, another
    user's photo included, is left alone)."""
    if _NAME.match(name) and name.startswith(f"{user_id}_"):
        (directory / name).unlink(missing_ok=True)


@router.get("/photos/{name}", include_in_schema=False)
async def photo(request: Request, name: str) -> Response:
    path = request.app.state.photo_dir / name
    if not _NAME.match(name) or not path.is_file():
        return Response(b'{"detail":"Not found."}', status_code=404, media_type="application/json")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})
