"""Image decoding and quantization shared by every dataset. Details: docs/modules.md."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from cxr_keras.data.schema import DatasetError
from cxr_keras.io import atomic_path

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif")

# Luma weights of ITU-R BT.601, the ones Pillow uses for RGB -> L.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_MAX_8BIT = 255.0
_MAX_16BIT = 65535.0


def decode_image(path: str | os.PathLike, image_size: int | None, channels: int = 1) -> np.ndarray:
    """Read an image file as float32 (image_size, image_size, channels) in [-1, 1].

    Supports 8-bit L / LA / RGB / RGBA / P and 16-bit I;16 / I images; alpha is composited on
    black. ``image_size=None`` keeps the file's size. Unreadable files raise DatasetError.
    """
    try:
        with Image.open(path) as image:
            image.load()
            pixels, max_value = _pixels(image)
    except DatasetError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DatasetError(
            f"{path}: cannot read image ({type(error).__name__}: {error}); the file is corrupt, "
            "truncated or not an image: re-download it, delete it, or load with on_error='skip'"
        ) from error
    return prepare_array(pixels, image_size, channels, max_value, source=path)


def prepare_array(
    pixels: np.ndarray, image_size: int | None, channels: int = 1, max_value: float = _MAX_8BIT,
    source: str | os.PathLike = "array",
) -> np.ndarray:
    """Scale HxW or HxWxC pixels in [0, max_value] to [-1, 1], resize and set channels."""
    _check_channels(channels)
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[-1] not in (1, 3):
        raise DatasetError(f"{source}: expected an HxW or HxWx1/3 image, got shape {pixels.shape}")
    if channels == 1 and pixels.shape[-1] == 3:
        pixels = (pixels @ _LUMA)[..., None]
    if image_size is not None:
        pixels = _resize(pixels, int(image_size))
    if channels == 3 and pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return (pixels / (max_value / 2.0) - 1.0).clip(-1.0, 1.0).astype(np.float32)


def check_image_file(path: str | os.PathLike) -> str | None:
    """Fully decode one file; return why it cannot be read, or None when it is fine."""
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Quantize images in [-1, 1] to uint8 (rounded), the inverse of the 8-bit mapping."""
    images = np.asarray(images, dtype=np.float32)
    return np.rint((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def save_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Save one HxW, HxWx1 or HxWx3 image in [-1, 1] as an 8-bit PNG, atomically."""
    pixels = to_uint8(image)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[-1] != 3):
        raise ValueError(f"save_png expects HxW, HxWx1 or HxWx3, got shape {np.shape(image)}")
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")
    return Path(path)


def is_image_file(path: str | os.PathLike) -> bool:
    """True for a visible file whose extension is one of IMAGE_EXTENSIONS."""
    name = Path(path).name
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _pixels(image: Image.Image) -> tuple[np.ndarray, float]:
    """Return (HxWxC float pixels, max value) with alpha composited on black."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(image, dtype=np.float32).clip(0, _MAX_16BIT), _MAX_16BIT
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGB")  # 1, CMYK, YCbCr, ...: 8-bit RGB first
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 2:
        return pixels, _MAX_8BIT
    if image.mode in ("LA", "RGBA"):
        pixels = pixels[..., :-1] * (pixels[..., -1:] / _MAX_8BIT)
    return pixels, _MAX_8BIT


def _resize(pixels: np.ndarray, size: int) -> np.ndarray:
    if size < 1:
        raise ValueError(f"image_size must be a positive integer, got {size}")
    if pixels.shape[:2] == (size, size):
        return pixels
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(pixels[..., c])).resize(
                (size, size), Image.Resampling.BILINEAR
            )
        )
        for c in range(pixels.shape[-1])
    ]
    return np.stack(planes, axis=-1)


def _check_channels(channels: int) -> None:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (hidden and other files ignored)."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and is_image_file(p))
