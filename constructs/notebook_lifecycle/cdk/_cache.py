"""The per-process bundle cache: equal inputs are rendered once.

A :class:`~notebook_lifecycle.bundle.Bundle` renders on first use, so a cached
bundle also keeps its rendered scripts: notebooks (and stacks) that share inputs
share one rendering. Deploy-time values are placeholders here (``DeployValue``),
so notebooks whose scripts differ only in, say, their bucket share one bundle.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Hashable, Optional

from ..bundle import Bundle
from ..features import Features
from ..scripts import StartupScripts


@dataclass(frozen=True)
class BundleCacheInfo:
    """How often a :class:`~notebook_lifecycle.bundle.Bundle` was built, and reused, in this process."""

    builds: int
    hits: int
    size: int


class _BundleCache:
    """Bundles keyed by their inputs' fingerprints: equal inputs are rendered once per process."""

    def __init__(self, maxsize: int = 256) -> None:
        self._maxsize = maxsize
        self._items: "OrderedDict[Hashable, Bundle]" = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0
        self.hits = 0

    @staticmethod
    def key(
        on_start: Any,
        on_create: Any,
        features: Any,
        install_dir: Any,
        deadline_seconds: Any,
        compression: Any,
        scripts_first: Any = False,
        delivery: Any = "auto",
    ) -> Optional[Hashable]:
        for scripts in (on_start, on_create):
            if scripts is not None and not isinstance(scripts, StartupScripts):
                return None  # let Bundle report the bad input
        if features is not None and not isinstance(features, Features):
            return None
        key = (
            on_start.fingerprint() if on_start is not None else None,
            on_create.fingerprint() if on_create is not None else None,
            features,
            install_dir,
            deadline_seconds,
            compression,
            scripts_first,
            delivery,
        )
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def get(
        self,
        on_start: Optional[StartupScripts],
        on_create: Optional[StartupScripts],
        features: Optional[Features],
        install_dir: str,
        deadline_seconds: int,
        compression: str,
        scripts_first: bool = False,
        delivery: str = "auto",
    ) -> Bundle:
        key = self.key(on_start, on_create, features, install_dir, deadline_seconds, compression, scripts_first,
                       delivery)
        if key is not None:
            with self._lock:
                found = self._items.get(key)
                if found is not None:
                    self._items.move_to_end(key)
                    self.hits += 1
                    return found
        bundle = Bundle(
            on_start,
            on_create,
            features,
            install_dir=install_dir,
            deadline_seconds=deadline_seconds,
            compression=compression,
            check_size=False,
            scripts_first=scripts_first,
            delivery=delivery,
        )
        with self._lock:
            self.builds += 1
            if key is not None:
                self._items[key] = bundle
                while len(self._items) > self._maxsize:
                    self._items.popitem(last=False)
        return bundle

    def info(self) -> BundleCacheInfo:
        with self._lock:
            return BundleCacheInfo(self.builds, self.hits, len(self._items))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.builds = 0
            self.hits = 0


_CACHE = _BundleCache()


def bundle_cache_info() -> BundleCacheInfo:
    """Bundles built and reused by the constructs since the last :func:`clear_bundle_cache`."""
    return _CACHE.info()


def clear_bundle_cache() -> None:
    """Forget every cached bundle and reset the counters."""
    _CACHE.clear()
