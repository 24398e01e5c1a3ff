"""Photo search in the console against the real hash banks in Redis and the photos of stored ads."""

from __future__ import annotations

import base64
import io
import re
import time

import redis
from PIL import Image, ImageOps
from skimage import data
from starlette.testclient import TestClient

from streams.banks.store import BankStore, entry_for_image
from streams.config import load_settings, redis_prefix
from streams.console import auth
from streams.console.app import create_app
from streams.console.command import console_context
from streams.scoring.runtime import batch_pipeline
from streams.store.db import open_store_engine
from streams.store.rows import scored_ad_rows
from streams.store.writer import StoreWriter

PASSWORD = "photo-search-password"


def jpeg(img: Image.Image, quality: int = 70) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def test_an_uploaded_photo_finds_its_bank_entry_and_the_ads_that_posted_it(stack, topic_prefix, tmp_path):
    settings = load_settings()
    photo = Image.fromarray(data.astronaut()).convert("RGB")
    BankStore(redis.Redis.from_url(stack.redis_url), redis_prefix(settings)).add_entries(
        [entry_for_image("missing_children", "mc-photo-test", photo, case_id="SYN-CASE-PHOTO")])
    engine = open_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    posted = {"ad_id": "photo-ad-1", "source": "test", "posted_at": "2026-11-02T10:00:00Z", "title": "Room",
              "body": "Quiet room downtown.", "location": {"city": "Reno", "region": "NV", "country": "US"},
              "images": [{"data_b64": base64.b64encode(jpeg(photo.resize((400, 400)))).decode()}]}
    other = {**posted, "ad_id": "photo-ad-2",
             "images": [{"data_b64": base64.b64encode(jpeg(Image.fromarray(data.coffee()))).decode()}]}
    pipeline = batch_pipeline()
    StoreWriter(engine).write([scored_ad_rows(pipeline.process(ad), stored_at=time.time()) for ad in (posted, other)],
                              [])
    auth.add_user(engine, "ana", "analyst", PASSWORD)
    client = TestClient(create_app(console_context(settings, engine, secure_cookies=False)),
                        base_url="http://127.0.0.1")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": token})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/search").text).group(1)

    upload = jpeg(ImageOps.mirror(photo).resize((256, 256)), quality=50)  # mirrored and re-encoded
    page = client.post("/search/photo", data={"csrf_token": csrf},
                       files={"photo": ("found.jpg", upload, "image/jpeg")}).text
    bank = page.split('id="photo-bank-matches"')[1].split("</table>")[0]
    assert "SYN-CASE-PHOTO" in bank and "mc-photo-test" in bank
    ads = page.split('id="photo-ad-matches"')[1].split("</table>")[0]
    assert "/ads/photo-ad-1" in ads and "photo-ad-2" not in ads
