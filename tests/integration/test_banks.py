"""Hash banks in the real Redis: a running worker's copy follows changes within seconds."""

import time
import uuid

import redis
from PIL import Image, ImageOps
from skimage import data

from detectors.images.hashing import hash_image
from streams.banks.store import BankStore, LiveBanks, entry_for_image


def test_live_banks_follow_adds_and_removes_without_restart(stack):
    client = redis.Redis.from_url(stack.redis_url)
    prefix = f"test:{uuid.uuid4().hex}:"
    live = LiveBanks(client, prefix=prefix, poll_s=0.5)
    live.start()
    try:
        photo = Image.fromarray(data.chelsea()).resize((256, 256))
        query = hash_image(ImageOps.mirror(photo))
        assert live.current.match(query) == []
        store = BankStore(client, prefix)
        store.add_entries([entry_for_image("missing_children", "e7", photo, case_id="CASE-7")])
        deadline = time.monotonic() + 5
        while not live.current.match(query) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live.current.match(query)[0]["case_id"] == "CASE-7"
        assert store.remove("missing_children", "e7")
        deadline = time.monotonic() + 5
        while live.current.match(query) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live.current.match(query) == []
    finally:
        live.stop()
