"""Product pictures, stored like ticket attachments (helpdesk.tickets.attachments: files under
ATTACHMENTS_DIR/<org_id>/ by a random key, removed again if the transaction rolls back).

Only PNG, JPEG, GIF and WebP are kept, recognised by their first bytes (never by the name or
the browser's type: an SVG or HTML page renamed .png is refused), and served back with that
type and `nosniff`.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import event, func, select

from helpdesk.core.exceptions import ValidationFailed
from helpdesk.extensions import db
from helpdesk.tickets.attachments import safe_filename, storage_root, write_file
from storefront.models import Product, ProductImage

MAX_IMAGE_SIZE = 5 * 1024 * 1024
MAX_IMAGES = 12
MAX_ALT = 200
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def max_size() -> int:
    return min(MAX_IMAGE_SIZE, current_app.config["MAX_ATTACHMENT_SIZE"])


def image_type(data: bytes) -> str | None:
    """The picture's type from its first bytes, or None when it is not one we keep."""
    for signature, content_type in SIGNATURES:
        if data.startswith(signature):
            return content_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def read_image(filename: str, stream: BinaryIO, field: str = "image") -> tuple[bytes, str]:
    """The bytes and type of an uploaded picture. Raises ValidationFailed (on `field`) for an
    empty file, one past the size limit, or one that is not a PNG, JPEG, GIF or WebP."""
    limit = max_size()
    data = stream.read(limit + 1) if stream is not None else b""
    name = safe_filename(filename or "")
    if not data:
        raise ValidationFailed("Choose a picture to upload.", {field: "Choose a file."})
    if len(data) > limit:
        raise ValidationFailed(f"{name} is too large: pictures may be at most "
                               f"{limit // (1024 * 1024)} MB.",
                               {field: f"At most {limit // (1024 * 1024)} MB."})
    content_type = image_type(data)
    if content_type is None:
        raise ValidationFailed(f"{name} is not a picture we can show.",
                               {field: "Upload a PNG, JPEG, GIF or WebP picture."})
    return data, content_type


def images_of(product_ids: int | list[int]) -> list[ProductImage]:
    ids = [product_ids] if isinstance(product_ids, int) else list(product_ids)
    if not ids:
        return []
    return list(db.session.scalars(select(ProductImage).where(ProductImage.product_id.in_(ids))
                                   .order_by(ProductImage.product_id, ProductImage.position,
                                             ProductImage.id)))


def first_images(product_ids: list[int]) -> dict[int, ProductImage]:
    """Each product's first picture (the listing's thumbnail)."""
    found: dict[int, ProductImage] = {}
    for image in images_of(product_ids):
        found.setdefault(image.product_id, image)
    return found


def add_image(product: Product, filename: str, stream: BinaryIO, alt: object = "") -> ProductImage:
    """Store an uploaded picture as the product's last one. Raises ValidationFailed for a bad
    file (`image`), a too long `alt` text, or a product that has MAX_IMAGES already."""
    alt = _clean_alt(alt)
    count = db.session.scalar(select(func.count()).select_from(ProductImage)
                              .where(ProductImage.product_id == product.id))
    if count >= MAX_IMAGES:
        raise ValidationFailed(f"A product has at most {MAX_IMAGES} pictures.",
                               {"image": f"At most {MAX_IMAGES} pictures: delete one first."})
    data, content_type = read_image(filename, stream)
    key, digest = write_file(product.org_id, data)
    image = ProductImage(org_id=product.org_id, product_id=product.id,
                         filename=safe_filename(filename or "picture"), content_type=content_type,
                         size=len(data), sha256=digest, storage_key=key, alt=alt,
                         position=count)
    db.session.add(image)
    db.session.flush()
    return image


def _clean_alt(alt: object) -> str:
    if alt is None:
        return ""
    if not isinstance(alt, str) or "\x00" in alt:
        raise ValidationFailed("The description must be text.", {"alt": "Must be text."})
    if len(alt.strip()) > MAX_ALT:
        raise ValidationFailed("The description is too long.",
                               {"alt": f"At most {MAX_ALT} characters."})
    return alt.strip()


def update_image(image: ProductImage, *, alt: object) -> ProductImage:
    image.alt = _clean_alt(alt)
    db.session.flush()
    return image


def make_first(image: ProductImage) -> None:
    """Show this picture first (in the listing too); the others keep their order."""
    images = images_of(image.product_id)
    ordered = [image] + [i for i in images if i.id != image.id]
    for position, each in enumerate(ordered):
        each.position = position
    db.session.flush()


def delete_image(image: ProductImage) -> None:
    """Remove the picture; its file goes once the transaction commits."""
    path = image_path(image)
    db.session.delete(image)
    db.session.flush()
    if path is not None:
        delete_after_commit(path)


def delete_after_commit(path: Path) -> None:
    """Remove the file once the transaction commits (kept if it rolls back)."""
    db.session.info.setdefault(_DELETED_FILES, []).append(path)


_DELETED_FILES = "product_images_deleted"


def _remove_deleted_files(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the transaction may still roll back
    for path in session.info.pop(_DELETED_FILES, []):
        path.unlink(missing_ok=True)


def _keep_files(session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_DELETED_FILES, None)  # the rows are back: so are their files


def install(session_class) -> None:
    if not event.contains(session_class, "after_commit", _remove_deleted_files):
        event.listen(session_class, "after_commit", _remove_deleted_files)
        event.listen(session_class, "after_soft_rollback", _keep_files)


def image_path(image: ProductImage) -> Path | None:
    """The file on disk, or None for a storage key that would point outside the folder."""
    root = storage_root().resolve()
    path = (root / image.storage_key).resolve()
    return path if root in path.parents else None


def save_personalization_image(org_id: int, filename: str, stream: BinaryIO,
                               field: str = "image") -> str:
    """Store a buyer's picture for an "image" personalization field; its storage key (the
    value the checkout accepts for an image field). Raises ValidationFailed like
    read_image, on `field`."""
    data, _ = read_image(filename, stream, field)
    key, _ = write_file(org_id, data)
    return key
